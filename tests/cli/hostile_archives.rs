//! Template archives given as a local file (a downloaded origin, as from a URL): shapes of
//! entries that would write or read outside the tree, beyond those of `remote.rs`, each
//! refused before anything is rendered, and includes that name a local file in spellings
//! the URL parser, the path parser and the kernel read differently.

use crate::support::{Project, stderr};

/// One raw entry: kind (`f` file, `d` directory, `s` symlink, `h` hard link), name, and
/// the body or link target, written as they are, however hostile.
type Raw<'a> = (char, &'a str, &'a str);

fn archive(entries: &[Raw]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (kind, name, body) in entries {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_mode(0o644);
        let data: &[u8] = match kind {
            'f' => body.as_bytes(),
            _ => b"",
        };
        header.set_entry_type(match kind {
            'f' => tar::EntryType::Regular,
            'd' => tar::EntryType::Directory,
            's' => tar::EntryType::Symlink,
            _ => tar::EntryType::Link,
        });
        if matches!(kind, 's' | 'h') {
            header.as_old_mut().linkname[..body.len()].copy_from_slice(body.as_bytes());
        }
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

const MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";

fn project() -> Project {
    let p = Project::new();
    p.write("params.yaml", "name: a\n");
    p.write(
        ".kube-openstack/params.json",
        "{\"db_password\": \"STATE-SECRET\"}\n",
    );
    p
}

/// Renders `archive.tgz` holding `entries`: refused with exit 2, a message containing
/// one of `expected`, nothing rendered and no tree kept in the cache.
fn refused(p: &Project, what: &str, entries: &[Raw], expected: &[&str]) {
    std::fs::write(p.path("archive.tgz"), archive(entries)).unwrap();
    let out = p
        .with_params(&["render", "--input-dir", "archive.tgz"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(expected.iter().any(|e| err.contains(e)), "{what}: {err}");
    assert!(!err.contains("STATE-SECRET"), "{what}: {err}");
    assert!(!p.path("kubernetes").exists(), "{what}: nothing rendered");
}

#[test]
fn archive_entries_that_reach_outside_by_any_route_are_refused() {
    let p = project();
    let state = p.path(".kube-openstack").display().to_string();
    let state_file = format!("{state}/params.json");
    let chain: Vec<String> = (1..=45).map(|i| format!("l{i}")).collect();
    let targets: Vec<String> = (1..=45).map(|i| format!("l{}/.", i - 1)).collect();
    let mut long: Vec<Raw> = vec![('f', "c.yaml", MAP), ('s', "l0", ".")];
    long.extend(
        chain
            .iter()
            .zip(&targets)
            .map(|(n, t)| ('s', n.as_str(), t.as_str())),
    );
    long.push(('s', "out", "l45/.."));
    let through = ["goes through a link"];
    let outside = ["outside the tree"];
    let cases: Vec<(&str, Vec<Raw>, &[&str])> = vec![
        (
            "a link in a subdirectory climbing through a sibling link",
            vec![
                ('d', "t/", ""),
                ('f', "t/c.yaml", MAP),
                ('s', "t/_y", "."),
                ('s', "t/_z", "_y/_y/_y/.."),
                ('s', "t/_w", "_z/../.."),
            ],
            &outside,
        ),
        (
            "a file written over a link of the same name",
            vec![
                ('s', "in.yaml", "c.yaml"),
                ('f', "c.yaml", MAP),
                ('f', "in.yaml", MAP),
            ],
            &through,
        ),
        (
            "a link replaced by a second link of the same name",
            vec![
                ('f', "c.yaml", MAP),
                ('s', "l", "c.yaml"),
                ('s', "l", "../../../etc/passwd"),
            ],
            &through,
        ),
        (
            "a hard link through a link to a directory outside",
            vec![
                ('s', "d", "/etc"),
                ('h', "p", "d/passwd"),
                ('f', "c.yaml", MAP),
            ],
            &outside,
        ),
        (
            "a hard link to the state directory by absolute path",
            vec![('h', "p.json", &state_file), ('f', "c.yaml", MAP)],
            &outside,
        ),
        (
            "a file under a directory that is a link out",
            vec![('s', "sub", &state), ('f', "sub/x.yaml", MAP)],
            &["outside the tree", "goes through a link"],
        ),
        (
            "45 links each through the one before",
            long,
            &["link in a loop"],
        ),
    ];
    for (what, entries, expected) in cases {
        refused(&p, what, &entries, expected);
    }
}

#[test]
fn a_downloaded_template_reads_no_local_file_however_it_is_spelled() {
    let p = project();
    let params = p.path(".kube-openstack/params.json").display().to_string();
    for name in [
        params.clone(),
        format!("/{params}"),
        format!("FILE://{params}"),
        format!("file://localhost{params}"),
        format!("file:{params}"),
        "file:///proc/self/cwd/.kube-openstack/params.json".to_string(),
        "../.kube-openstack/params.json".to_string(),
        "..//..//.kube-openstack/params.json".to_string(),
        "%2e%2e/.kube-openstack/params.json".to_string(),
        "./../.kube-openstack/params.json".to_string(),
    ] {
        let template = format!("{MAP}data:\n  x: {{{{include \"{name}\"}}}}\n");
        std::fs::write(
            p.path("archive.tgz"),
            archive(&[('f', "c.yaml", template.as_str())]),
        )
        .unwrap();
        let out = p
            .with_params(&["render", "--input-dir", "archive.tgz", "--stdout"])
            .output()
            .unwrap();
        let (err, text) = (stderr(&out), crate::support::stdout(&out));
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            !err.contains("STATE-SECRET") && !text.contains("STATE-SECRET"),
            "{name}: {err}{text}"
        );
    }
}
