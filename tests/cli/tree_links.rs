//! Links in a local template tree, and what `include` may read: a link leading outside
//! the tree is followed with a warning naming it and where it leads (never silently);
//! loops of includes and of partials are errors naming the chain, not a crash.

use crate::support::{Project, failure, stderr};
use std::os::unix::fs::symlink;

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{name}}\ndata:\n  motd: {{include \"_files/motd.txt\"}}\n";

fn project() -> Project {
    let p = Project::new();
    p.write("params.yaml", "name: web\n");
    p.write("outside/secret.txt", "not part of the tree\n");
    p.write(
        "outside/object.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-outside\n",
    );
    p
}

/// Every shape of link leading out of a local tree is followed, and said so, with the
/// link's name and the real place it leads to.
#[test]
fn links_leading_outside_a_local_tree_are_followed_with_a_warning() {
    type MakeLinks = Box<dyn Fn(&Project)>;
    let shapes: Vec<(&str, MakeLinks)> = vec![
        (
            "absolute link to a file",
            Box::new(|p: &Project| {
                symlink(
                    p.path("outside/object.yaml"),
                    p.path("kubernetes-in/x.yaml"),
                )
                .unwrap()
            }),
        ),
        (
            "relative link climbing out",
            Box::new(|p: &Project| {
                symlink("../outside/object.yaml", p.path("kubernetes-in/x.yaml")).unwrap()
            }),
        ),
        (
            "a chain of links each looking inside",
            Box::new(|p: &Project| {
                symlink(".", p.path("kubernetes-in/_y")).unwrap();
                symlink("_y/..", p.path("kubernetes-in/_z")).unwrap();
                symlink("_z/outside/object.yaml", p.path("kubernetes-in/x.yaml")).unwrap();
            }),
        ),
        (
            "a directory link",
            Box::new(|p: &Project| {
                symlink("../outside", p.path("kubernetes-in/x.yaml-dir")).unwrap()
            }),
        ),
    ];
    for (what, make) in shapes {
        let p = project();
        p.write(
            "kubernetes-in/web.yaml",
            &CONFIG_MAP.replace("{{include \"_files/motd.txt\"}}", "hi"),
        );
        make(&p);
        let out = p.with_params(&["render"]).output().unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{what}: {err}");
        assert!(
            err.contains("warning:") && err.contains("is a link leading outside the template tree"),
            "{what}: {err}"
        );
        let real = p.path("outside").canonicalize().unwrap();
        assert!(
            err.contains(&real.display().to_string()),
            "{what}: names where it leads: {err}"
        );
    }
}

#[test]
fn links_inside_the_tree_are_followed_quietly_and_loops_are_errors() {
    let p = project();
    p.write(
        "kubernetes-in/_shared/web.yaml",
        &CONFIG_MAP.replace("{{include \"_files/motd.txt\"}}", "hi"),
    );
    symlink(".", p.path("kubernetes-in/_here")).unwrap();
    symlink("_here/_shared/web.yaml", p.path("kubernetes-in/web.yaml")).unwrap();
    symlink("_shared", p.path("kubernetes-in/shared-dir")).unwrap();
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    assert!(p.read("kubernetes/web.yaml").contains("name: \"web\""));
    assert!(
        p.read("kubernetes/shared-dir/web.yaml")
            .contains("name: \"web\"")
    );

    for (a, b) in [("b.yaml", "a.yaml"), ("a.yaml", "")] {
        let p = project();
        std::fs::create_dir_all(p.path("kubernetes-in")).unwrap();
        symlink(a, p.path("kubernetes-in/a.yaml")).unwrap();
        if !b.is_empty() {
            symlink(b, p.path("kubernetes-in/b.yaml")).unwrap();
        }
        let out = p.with_params(&["render"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("kubernetes-in/a.yaml"),
            "the error names the link: {}",
            stderr(&out)
        );
        assert!(!p.path("kubernetes").exists());
    }
}

#[test]
fn an_included_file_that_links_outside_is_read_with_a_warning() {
    let p = project();
    p.write("kubernetes-in/web.yaml", CONFIG_MAP);
    std::fs::create_dir_all(p.path("kubernetes-in/_files")).unwrap();
    symlink(
        "../../outside/secret.txt",
        p.path("kubernetes-in/_files/motd.txt"),
    )
    .unwrap();
    let out = p.with_params(&["render"]).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("included `_files/motd.txt` is a link leading outside the template tree"),
        "{err}"
    );
}

/// `include` cycles of every length stop with the chain; nothing is written.
#[test]
fn includes_that_include_each_other_are_an_error_naming_the_chain() {
    let cycles: [(&[(&str, &str)], &str); 3] = [
        (
            &[("_files/motd.txt", "{{include \"_files/motd.txt\"}}")],
            "_files/motd.txt -> _files/motd.txt",
        ),
        (
            &[
                ("_files/motd.txt", "{{include \"_files/b.txt\"}}"),
                ("_files/b.txt", "b {{include \"_files/motd.txt\"}}"),
            ],
            "_files/motd.txt -> _files/b.txt -> _files/motd.txt",
        ),
        (
            &[
                ("_files/motd.txt", "{{include \"_files/b.txt\"}}"),
                ("_files/b.txt", "{{include \"_files/c.txt\"}}"),
                ("_files/c.txt", "{{include \"_files/b.txt\"}}"),
            ],
            "_files/b.txt -> _files/c.txt -> _files/b.txt",
        ),
    ];
    for (files, chain) in cycles {
        let p = project();
        p.write("kubernetes-in/web.yaml", CONFIG_MAP);
        for (name, text) in files {
            p.write(&format!("kubernetes-in/{name}"), text);
        }
        let out = p.with_params(&["render"]).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("includes itself") && err.contains(chain),
            "wanted {chain}: {err}"
        );
        assert!(!p.path("kubernetes").exists());
        assert_no_staging(&p);
    }
    // Deep but finite nesting is fine up to the limit, and refused past it.
    for (depth, ok) in [(15, true), (20, false)] {
        let p = project();
        p.write("kubernetes-in/web.yaml", CONFIG_MAP);
        p.write(
            "kubernetes-in/_files/motd.txt",
            "{{include \"_files/n1.txt\"}}",
        );
        for i in 1..depth {
            p.write(
                &format!("kubernetes-in/_files/n{i}.txt"),
                &format!("{i} {{{{include \"_files/n{}.txt\"}}}}", i + 1),
            );
        }
        p.write(&format!("kubernetes-in/_files/n{depth}.txt"), "end");
        let out = p.with_params(&["render"]).output().unwrap();
        assert_eq!(out.status.success(), ok, "depth {depth}: {}", stderr(&out));
        if !ok {
            assert!(
                stderr(&out).contains("includes nested more than 16 deep"),
                "{}",
                stderr(&out)
            );
        }
    }
}

/// Partials that include each other (directly, in a ring of three, from several
/// templates rendered in parallel) give the loop, exit 2, and leave no staging directory.
#[test]
fn partials_that_include_each_other_are_an_error_not_a_crash() {
    let rings: [&[(&str, &str)]; 3] = [
        &[("a", "{{> b}}"), ("b", "{{> a}}")],
        &[
            ("a", "x: 1\n{{> b}}"),
            ("b", "{{> c}}"),
            ("c", "{{#if name}}{{> a}}{{/if}}"),
        ],
        &[
            ("a", "{{#each @root.list}}{{> b}}{{/each}}"),
            ("b", "{{> a}}"),
        ],
    ];
    for ring in rings {
        let p = project();
        p.write("params.yaml", "name: web\nlist: [1, 2]\n");
        for (name, text) in ring {
            p.write(&format!("kubernetes-in/_partials/{name}.yaml"), text);
        }
        for i in 0..6 {
            p.write(
                &format!("kubernetes-in/cm{i}.yaml"),
                &format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n{{{{> a}}}}\n"
                ),
            );
        }
        let out = p.with_params(&["render"]).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("partials include each other without end: `a` -> `b`"),
            "{err}"
        );
        assert!(!err.contains("overflow"), "{err}");
        assert!(!p.path("kubernetes").exists());
        assert_no_staging(&p);
    }
}

/// Partials and includes that use the next one twice at every level (2^30 and 2^16
/// expansions, which would take hours): the render stops after 10 000 with one error
/// naming the template; a tree that stays under the limit renders. Texts included many
/// times that fail the same way are reported once.
#[test]
fn partials_and_includes_that_multiply_stop_with_one_error() {
    /// The path and text of level `i` of a tree that multiplies.
    type Step<'a> = &'a dyn Fn(usize) -> (String, String);
    let bomb = |p: &Project, levels: usize, leaf: &str, step: Step| {
        for i in 0..levels {
            let (path, text) = step(i);
            p.write(&path, &text);
        }
        let (path, _) = step(levels);
        p.write(&path, leaf);
    };
    let partials = |i: usize| {
        (
            format!("kubernetes-in/_partials/p{i}.yaml"),
            format!("{{{{> p{0}}}}}{{{{> p{0}}}}}", i + 1),
        )
    };
    let includes = |i: usize| {
        (
            format!("kubernetes-in/_files/i{i}.txt"),
            format!(
                "{{{{include \"_files/i{0}.txt\"}}}}{{{{include \"_files/i{0}.txt\"}}}}",
                i + 1
            ),
        )
    };
    // Partials whose leaf includes: both kinds count together.
    let mixed = |i: usize| match i {
        0..8 => partials(i),
        8 => (
            "kubernetes-in/_partials/p8.yaml".to_string(),
            "{{include \"_files/i0.txt\"}}".to_string(),
        ),
        _ => includes(i - 9),
    };
    let cases: [(&str, usize, Step); 3] = [
        ("{{> p0}}", 30, &partials),
        ("{{include \"_files/i0.txt\"}}", 16, &includes),
        ("{{> p0}}", 16, &mixed),
    ];
    for (call, levels, step) in cases {
        let p = project();
        bomb(&p, levels, "x", step);
        for name in ["a", "b"] {
            p.write(
                &format!("kubernetes-in/{name}.yaml"),
                &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  x: \"{call}\"\n"),
            );
        }
        let out = p.with_params(&["render"]).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{call}: {err}");
        for name in ["a", "b"] {
            let line = format!("kubernetes-in/{name}.yaml");
            let said = err
                .lines()
                .filter(|l| {
                    l.contains(&line)
                        && l.contains("more than 10000 partials and includes expanded")
                })
                .count();
            assert_eq!(said, 1, "{call}: {err}");
        }
        assert!(!p.path("kubernetes").exists());
        assert_no_staging(&p);
    }
    // Under the limit (2^12 expansions): rendered whole.
    let p = project();
    bomb(&p, 12, "x", &partials);
    p.write(
        "kubernetes-in/a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"{{> p0}}\"\n",
    );
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(p.read("kubernetes/a.yaml").contains(&"x".repeat(4096)));
    // Includes fanning out, then one chain too deep: said once, not once per branch.
    let p = project();
    bomb(&p, 6, "{{include \"_files/n0.txt\"}}", &includes);
    for i in 0..16 {
        p.write(
            &format!("kubernetes-in/_files/n{i}.txt"),
            &format!("{{{{include \"_files/n{}.txt\"}}}}", i + 1),
        );
    }
    p.write("kubernetes-in/_files/n16.txt", "end");
    p.write("kubernetes-in/web.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  x: \"{{include \"_files/i0.txt\"}}\"\n");
    let out = p.with_params(&["render"]).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.matches("includes nested more than 16 deep").count(),
        1,
        "{err}"
    );
}

/// A FIFO (reading it waits for a writer) or a device (`/dev/zero` never ends), in the
/// tree, reached through a link, or included: an error naming it and what it is, at once.
#[test]
fn fifos_and_devices_are_refused_not_read() {
    fn fifo(path: std::path::PathBuf) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let c = std::ffi::CString::new(path.into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path; mkfifo reads it only.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }
    type Plant = Box<dyn Fn(&Project)>;
    let cases: Vec<(&str, Plant, &str)> = vec![
        (
            "a FIFO template",
            Box::new(|p: &Project| fifo(p.path("kubernetes-in/pipe.yaml"))),
            "`kubernetes-in/pipe.yaml` is a FIFO, not a file",
        ),
        (
            "a FIFO copied as it is",
            Box::new(|p: &Project| fifo(p.path("kubernetes-in/sub/pipe.txt"))),
            "`kubernetes-in/sub/pipe.txt` is a FIFO, not a file",
        ),
        (
            "a link to a device",
            Box::new(|p: &Project| symlink("/dev/zero", p.path("kubernetes-in/zero.txt")).unwrap()),
            "`kubernetes-in/zero.txt` is a character device, not a file",
        ),
        (
            "an included FIFO",
            Box::new(|p: &Project| {
                p.write("kubernetes-in/web.yaml", CONFIG_MAP);
                fifo(p.path("kubernetes-in/_files/motd.txt"));
            }),
            "`include _files/motd.txt`: `_files/motd.txt` is a FIFO, not a file",
        ),
        (
            "an included device",
            Box::new(|p: &Project| {
                p.write(
                    "kubernetes-in/web.yaml",
                    &CONFIG_MAP.replace("_files/motd.txt", "file:///dev/zero"),
                );
            }),
            "`/dev/zero` is a character device, not a file",
        ),
    ];
    for (what, plant, expected) in cases {
        let p = project();
        p.write(
            "kubernetes-in/ok.yaml",
            &CONFIG_MAP.replace("{{include \"_files/motd.txt\"}}", "hi"),
        );
        plant(&p);
        let out = p
            .with_params(&["render"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(expected), "{what}: {err}");
        assert!(!p.path("kubernetes").exists(), "{what}");
        assert_no_staging(&p);
    }
}

fn assert_no_staging(p: &Project) {
    let left: Vec<String> = std::fs::read_dir(p.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".render-"))
        .collect();
    assert!(left.is_empty(), "staging directories left: {left:?}");
}

/// The renderer's own helpers (the partial guards that count nesting, the position
/// helpers that escape values) cannot be called from a template, a partial or an
/// included text: partials that undid the count would include each other until the
/// stack overflowed.
#[test]
fn templates_cannot_call_the_renderers_own_helpers() {
    let calls = [
        "{{__ko_partial_leave}}",
        "{{__ko_partial_leave 1}}",
        "{{#__ko_partial_leave}}{{/__ko_partial_leave}}",
        "{{#if (__ko_partial_leave)}}{{/if}}",
        "{{#with (__ko_partial_leave)}}{{/with}}",
        "{{~__ko_partial_enter \"b\"~}}",
        "{{{__ko_raw name 0 0}}}",
    ];
    for call in calls {
        let p = project();
        p.write(
            "kubernetes-in/_partials/a.yaml",
            &format!("{call}{{{{> b}}}}"),
        );
        p.write(
            "kubernetes-in/_partials/b.yaml",
            &format!("{call}{{{{> a}}}}"),
        );
        p.write(
            "kubernetes-in/web.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  x: \"{{> a}}\"\n",
        );
        let out = p
            .with_params(&["render"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{call}: {err}");
        assert!(
            err.contains("kubernetes-in/_partials/a.yaml")
                && err.contains("names starting with `__ko_` are the renderer's own helpers"),
            "{call}: {err}"
        );
        assert!(!p.path("kubernetes").exists());
        assert_no_staging(&p);
        // The same call in a template, and in a text it includes.
        std::fs::remove_dir_all(p.path("kubernetes-in/_partials")).unwrap();
        p.write(
            "kubernetes-in/web.yaml",
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  x: \"{call}\"\n"
            ),
        );
        let err = stderr(&p.with_params(&["render"]).output().unwrap());
        assert!(
            err.contains("kubernetes-in/web.yaml:6:") && err.contains("renderer's own helpers"),
            "{call} in a template: {err}"
        );
        p.write("kubernetes-in/_files/motd.txt", call);
        p.write("kubernetes-in/web.yaml", CONFIG_MAP);
        let err = stderr(&p.with_params(&["render"]).output().unwrap());
        assert!(
            err.contains("`include _files/motd.txt`: names starting with `__ko_`"),
            "{call} included: {err}"
        );
    }
    // Quoted, the prefix is only text.
    let p = project();
    p.write(
        "kubernetes-in/web.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  x: {{default \"__ko_value\" nothing}}\n",
    );
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(p.read("kubernetes/web.yaml").contains("x: \"__ko_value\""));
}
