//! `userdata`: the bundle as cloud-init and Python's MIME parser read it back.

use crate::support::{Project, failure, require_program, stderr};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/userdata_peer.py");

/// One part as a consumer saw it.
#[derive(Debug, PartialEq)]
struct Seen {
    type_: String,
    filename: String,
    body: Vec<u8>,
    merge: Option<String>,
}

/// The Python that cloud-init itself runs with (its launcher's `#!` line): the one whose
/// `cloudinit` package the tests must use. Without cloud-init the test fails.
fn cloud_init_python() -> String {
    let launcher = require_program("cloud-init", "cloud-init");
    let text = std::fs::read_to_string(&launcher)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", launcher.display()));
    let shebang = text.lines().next().and_then(|l| l.strip_prefix("#!"));
    let python = shebang.and_then(|s| s.split_whitespace().next());
    python
        .unwrap_or_else(|| panic!("`{}` has no `#!` line", launcher.display()))
        .to_string()
}

/// Runs the Python peer with cloud-init's interpreter and returns what it printed.
fn peer(mode: &str, bundle: &Path, extra: &[&Path]) -> Value {
    let python = cloud_init_python();
    let out = Command::new(&python)
        .arg(PEER)
        .arg(mode)
        .arg(bundle)
        .args(extra)
        .output();
    let out = out.unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "{mode} peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("peer prints JSON")
}

fn seen(value: Value) -> Vec<Seen> {
    use base64::Engine as _;
    value
        .as_array()
        .expect("a list of parts")
        .iter()
        .map(|p| Seen {
            type_: p["type"].as_str().unwrap().to_string(),
            filename: p["filename"].as_str().unwrap_or_default().to_string(),
            body: base64::engine::general_purpose::STANDARD
                .decode(p["body"].as_str().unwrap())
                .unwrap(),
            merge: p["merge"].as_str().map(String::from),
        })
        .collect()
}

const RC: &str = "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: mariadb\nspec:\n  replicas: 1\n";
const SECRET: &str =
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: \"p@ss: #1\"\n";

/// A project with one part of every kind the detection knows, and what each must become.
fn parts() -> (Project, Vec<String>, Vec<Seen>) {
    let p = Project::new();
    let binary: Vec<u8> = (0..=255u8)
        .chain([0, 0x1f, 0x8b, b'\r', b'\n', b'\r'])
        .collect();
    p.write("in/setup.sh", "#!/bin/sh\necho 'héllo ☃ wörld'\n")
        .write("in/config.txt", "#cloud-config\nruncmd: [[ls, -l]]\n")
        .write("in/kube/mariadb-rc.yaml", RC)
        .write("in/kube/db-secret.yaml", SECRET)
        .write("in/kube/web.pod", "#kube-pod\n{}\n")
        .write("in/notes", "plain words, no marker\r\nwith a CRLF line\n")
        .write("in/README.md", "# Read me\n");
    std::fs::write(p.path("in/blob.bin"), &binary).unwrap();
    let args = [
        "in/setup.sh",
        "in/config.txt",
        "in/kube",
        "in/notes:text/plain",
        "in/blob.bin",
        "in/README.md",
    ]
    .map(String::from)
    .to_vec();
    let expect = |type_: &str, filename: &str, body: &[u8]| Seen {
        type_: type_.into(),
        filename: filename.into(),
        body: body.to_vec(),
        merge: None,
    };
    let expected = vec![
        expect(
            "text/x-shellscript",
            "setup.sh",
            "#!/bin/sh\necho 'héllo ☃ wörld'\n".as_bytes(),
        ),
        expect(
            "text/cloud-config",
            "config.txt",
            b"#cloud-config\nruncmd: [[ls, -l]]\n",
        ),
        // The directory's files, sorted by name.
        expect("text/x-kube-secret", "db-secret.yaml", SECRET.as_bytes()),
        expect(
            "text/x-kube-replicationcontroller",
            "mariadb-rc.yaml",
            RC.as_bytes(),
        ),
        expect("text/x-kube-pod", "web.pod", b"#kube-pod\n{}\n"),
        expect(
            "text/plain",
            "notes",
            b"plain words, no marker\r\nwith a CRLF line\n",
        ),
        expect("application/octet-stream", "blob.bin", &binary),
        expect("text/x-markdown", "README.md", b"# Read me\n"),
    ];
    (p, args, expected)
}

#[test]
fn python_and_cloud_init_see_every_part_type_name_and_byte() {
    let (p, args, expected) = parts();
    let out = p
        .cmd()
        .arg("userdata")
        .arg("--output")
        .arg("user-data")
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let err = stderr(&out);
    assert!(err.contains("Bundled 8 parts"), "{err}");
    assert!(err.contains("of the 65535-byte limit"), "{err}");
    assert!(err.contains("holds Secrets (db-secret.yaml)"), "{err}");
    let bundle = p.path("user-data");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&bundle).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let by_email = peer("email", &bundle, &[]);
    assert_eq!(seen(by_email), expected);
    let by_cloud_init = peer("cloud-init", &bundle, &[]);
    assert_eq!(seen(by_cloud_init), expected);
}

#[test]
fn gzip_and_merge_type_survive_both_readers() {
    let (p, args, expected) = parts();
    let out = p
        .cmd()
        .args([
            "userdata",
            "--gzip",
            "--merge",
            "list(append)+dict(recurse_array)+str()",
            "--output",
            "ud.gz",
        ])
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(stderr(&out).contains("before gzip"), "{}", stderr(&out));
    let bundle = p.path("ud.gz");
    assert_eq!(&std::fs::read(&bundle).unwrap()[..2], &[0x1f, 0x8b]);
    let merged: Vec<Seen> = expected
        .into_iter()
        .map(|s| Seen {
            merge: Some("list(append)+dict(recurse_array)+str()".into()),
            ..s
        })
        .collect();
    let by_email = peer("email", &bundle, &[]);
    assert_eq!(seen(by_email), merged);
    assert_eq!(seen(peer("cloud-init", &bundle, &[])), merged);
}

#[test]
fn the_part_handler_writes_each_kubernetes_part_into_the_incoming_directory() {
    let (p, args, _) = parts();
    let incoming = p.path("server/incoming");
    let out = p
        .cmd()
        .args(["userdata", "--with-handler", "--incoming-dir"])
        .arg(&incoming)
        .args(["--output", "user-data"])
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let handler_dir = p.path("handlers");
    std::fs::create_dir_all(&handler_dir).unwrap();
    let result = peer("handlers", &p.path("user-data"), &[&handler_dir]);
    assert_eq!(
        result["handlers"], 1,
        "cloud-init registered the bundled handler"
    );
    let mut written: Vec<(String, Vec<u8>)> = std::fs::read_dir(&incoming)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    written.sort();
    assert_eq!(
        written,
        vec![
            ("db-secret.yaml".to_string(), SECRET.as_bytes().to_vec()),
            ("mariadb-rc.yaml".to_string(), RC.as_bytes().to_vec()),
            ("web.pod".to_string(), b"#kube-pod\n{}\n".to_vec()),
        ],
        "only the Kubernetes parts, byte for byte, no temporary files left"
    );
}

#[test]
fn over_the_nova_limit_fails_without_writing_and_gzip_brings_it_under() {
    let p = Project::new();
    p.write("big.txt", &"all work and no play\n".repeat(2_600));
    let out = p
        .cmd()
        .args(["userdata", "--output", "ud", "big.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("over the 65535-byte limit"), "{err}");
    assert!(err.contains("hint: add --gzip"), "{err}");
    assert!(!p.path("ud").exists(), "nothing written on failure");

    let out = p
        .cmd()
        .args(["userdata", "--gzip", "--output", "ud", "big.txt"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(std::fs::metadata(p.path("ud")).unwrap().len() < 2_000);

    // Near the limit: written, with a warning.
    p.write("near.txt", &"x".repeat(46_000));
    let out = p
        .cmd()
        .args(["userdata", "--output", "near", "near.txt"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(
        stderr(&out).contains("warning: the user data is close to the 65535-byte limit"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_parts_are_named() {
    let p = Project::new();
    p.write("a/x.sh", "#!/bin/sh\n")
        .write("b/x.sh", "#!/bin/sh\n");
    let out = p.cmd().args(["userdata", "a", "b"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("two parts would be named `x.sh`: `a/x.sh` and `b/x.sh`"),
        "{}",
        stderr(&out)
    );
    let out = p.cmd().args(["userdata", "missing.sh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`missing.sh` does not exist"),
        "{}",
        stderr(&out)
    );
    let out = p
        .cmd()
        .args(["userdata", "a/x.sh:shellscript/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a MIME type"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    // An existing file with a type that is not one: the type is named, with the known ones.
    p.write("a.cfg", "x\n").write("odd:name.cfg", "y\n");
    for (arg, type_) in [
        ("a.cfg:notatype", "notatype"),
        ("a.cfg:", ""),
        ("a.cfg:cloud-config", "cloud-config"),
        ("a/x.sh:x-shellscript", "x-shellscript"),
        ("odd:name.cfg:text", "text"),
    ] {
        let out = p.cmd().args(["userdata", arg]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{arg}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("`{type_}` (given for `"))
                && err.contains("is not a MIME type")
                && err.contains("text/cloud-config")
                && err.contains("text/x-shellscript"),
            "{arg}: {err}"
        );
        assert!(!err.contains("does not exist"), "{arg}: {err}");
    }
    // A file whose name holds a colon is still a file.
    let out = p.cmd().args(["userdata", "odd:name.cfg"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let out = p
        .cmd()
        .args(["userdata", "missing.cfg:notatype"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("`missing.cfg:notatype` does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn from_rendered_adds_every_object_after_what_it_depends_on() {
    let p = Project::new();
    let rc = |name: &str, deps: &str| crate::support::cluster::rc(name, deps);
    p.write(
        "kubernetes/a-keystone-rc.yaml",
        &rc("keystone", "Pod/keystone-db-sync"),
    )
    .write(
        "kubernetes/b-db-sync.yaml",
        &crate::support::cluster::one_shot_pod(
            "keystone-db-sync",
            "ReplicationController/mariadb",
            "example/k:1",
        ),
    )
    .write("kubernetes/c-mariadb-rc.yaml", &rc("mariadb", ""))
    .write(
        "kubernetes/d-secret.yaml",
        &crate::support::cluster::secret("keystone"),
    );
    let out = p
        .cmd()
        .args(["userdata", "--from-rendered", "--output", "ud"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let parsed = peer("email", &p.path("ud"), &[]);
    let order: Vec<(String, String)> = seen(parsed)
        .into_iter()
        .map(|s| (s.filename, s.type_))
        .collect();
    let expected = [
        ("secret-keystone.yaml", "text/x-kube-secret"),
        (
            "replicationcontroller-mariadb.yaml",
            "text/x-kube-replicationcontroller",
        ),
        ("pod-keystone-db-sync.yaml", "text/x-kube-pod"),
        (
            "replicationcontroller-keystone.yaml",
            "text/x-kube-replicationcontroller",
        ),
    ];
    assert_eq!(order, expected.map(|(f, t)| (f.to_string(), t.to_string())));
}
