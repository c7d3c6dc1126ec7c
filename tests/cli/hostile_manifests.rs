//! Manifests no one should write, given to every command that reads a rendered tree
//! (`deploy`, `status`, `teardown`, `diff --live`, `userdata`, `watch`): odd API versions,
//! kinds, names, namespaces and bytes. Each must end in a clear error naming the file,
//! never a panic, never a request to a path the name chose.

use crate::fake_kube::Faults;
use crate::support::cluster::{Cluster, NS, config_map};
use crate::support::stderr;
use std::process::Output;

/// A ConfigMap with one field replaced by `value` (written as YAML as it is).
fn with(field: &str, value: &str) -> String {
    let (api, kind, name, ns) = match field {
        "apiVersion" => (value, "ConfigMap", "a", None),
        "kind" => ("v1", value, "a", None),
        "name" => ("v1", "ConfigMap", value, None),
        "namespace" => ("v1", "ConfigMap", "a", Some(value)),
        other => panic!("{other}"),
    };
    let ns = ns
        .map(|n| format!("  namespace: {n}\n"))
        .unwrap_or_default();
    format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n{ns}data:\n  a: \"1\"\n")
}

/// Odd values for each identifying field, written as YAML scalars.
const ODD: &[(&str, &[&str])] = &[
    (
        "apiVersion",
        &[
            "\"v 1\"",
            "\"v1 \"",
            "\"apps/v1\\n\"",
            "\"a/b/c\"",
            "\"\"",
            "/",
            "\"v1?x=1\"",
            "\"v1#x\"",
            "\"é/v1\"",
            "\"../v1\"",
            "\"v1\\t\"",
            "\"apps/../v1\"",
            "[v1]",
            "1",
            "\"v1%2F..\"",
        ],
    ),
    (
        "kind",
        &[
            "\"Config Map\"",
            "\"\"",
            "\"Secret/x\"",
            "\"../Secret\"",
            "\"Secret\\n\"",
            "{a: 1}",
        ],
    ),
    (
        "name",
        &[
            "../../etc",
            "\"..\"",
            "\".\"",
            "\"a b\"",
            "\"a\\nb\"",
            "\"a?b\"",
            "\"a#b\"",
            "\"\"",
            "\"%2e%2e\"",
            "5",
            "[a]",
            "A",
            "a_b",
            "\"é\"",
            "\"a\\u0000\"",
            "~",
            "\"a/b\"",
        ],
    ),
    (
        "namespace",
        &["[1]", "\"a b\"", "\"../kube-system\"", "\"A\""],
    ),
];

fn no_panic(what: &str, out: &Output) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && out.status.code() != Some(101),
        "{what}: {err}"
    );
}

/// Every odd value, through every command that reads the tree: exit 2 with the file and
/// the field named, no panic, and no request reached the server with it.
#[test]
fn odd_identities_are_refused_with_the_file_and_field_by_every_command() {
    let c = Cluster::new(Faults::default());
    for (field, values) in ODD {
        for value in *values {
            let what = format!("{field}: {value}");
            let _ = std::fs::remove_dir_all(c.project.path("kubernetes"));
            c.manifest("x.yaml", &with(field, value))
                .manifest("ok.yaml", &config_map("fine"));
            // `diff --live` renders its own tree: the same objects as templates.
            c.project
                .write("params.yaml", "unused: 1\n")
                .write("kubernetes-in/x.yaml", &with(field, value))
                .write("kubernetes-in/ok.yaml", &config_map("fine"));
            c.fake.clear_log();
            // `teardown` lists what to delete from the cluster, not the tree: it only must not panic.
            no_panic(&format!("teardown {what}"), &c.run("teardown", &["--yes"]));
            for (command, args) in [
                ("deploy", &[][..]),
                ("status", &[]),
                (
                    "diff",
                    &["--live", "--source", "file", "--params-file", "params.yaml"],
                ),
            ] {
                let out = c.run(command, args);
                no_panic(&format!("{command} {what}"), &out);
                assert_eq!(
                    out.status.code(),
                    Some(2),
                    "{command} {what}: {}",
                    stderr(&out)
                );
                let err = stderr(&out);
                // `render` (under `diff`) may refuse it first as not an object at all.
                assert!(
                    err.contains("x.yaml")
                        && (err.contains("is not valid")
                            || err.contains("not a Kubernetes object")),
                    "{command} {what}: {err}"
                );
            }
            let out = c
                .project
                .cmd()
                .args(["userdata", "--from-rendered", "-o", "ud.txt"])
                .output()
                .unwrap();
            no_panic(&format!("userdata {what}"), &out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "userdata {what}: {}",
                stderr(&out)
            );
            let writes: Vec<_> = c
                .fake
                .log()
                .into_iter()
                .filter(|e| e.method != "GET")
                .map(|e| e.path)
                .collect();
            assert!(writes.is_empty(), "{what}: nothing is written: {writes:?}");
        }
    }
}

/// `watch` sets a file with an odd identity aside in `failed/` with its reason; a watcher
/// started again over the same directory goes on (nothing left to crash on).
#[test]
fn watch_sets_odd_files_aside_and_a_restarted_watcher_goes_on() {
    let c = Cluster::new(Faults::default());
    let dir = c.project.path("incoming");
    std::fs::create_dir_all(&dir).unwrap();
    let mut expected = Vec::new();
    for (i, (field, values)) in ODD.iter().enumerate() {
        for (j, value) in values.iter().enumerate() {
            let name = format!("odd-{i}-{j}.yaml");
            std::fs::write(dir.join(&name), with(field, value)).unwrap();
            expected.push(name);
        }
    }
    std::fs::write(
        dir.join("bytes.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  a: \"\xff\xfe\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("fine.yaml"), config_map("fine")).unwrap();
    std::fs::write(dir.join("other-ns.yaml"), with("namespace", "elsewhere")).unwrap();
    let out = c.run("watch", &["--once", "incoming"]);
    no_panic("watch", &out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let failed: Vec<String> = std::fs::read_dir(dir.join("failed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".error"))
        .collect();
    expected.extend(["bytes.yaml".to_string(), "other-ns.yaml".to_string()]);
    for name in &expected {
        assert!(
            failed.contains(name),
            "{name} not in failed/: {failed:?}\n{}",
            stderr(&out)
        );
    }
    let bytes_error = std::fs::read_to_string(dir.join("failed/bytes.yaml.error")).unwrap();
    assert!(
        bytes_error.contains("offset 63") && bytes_error.contains("line 6"),
        "{bytes_error}"
    );
    let ns_error = std::fs::read_to_string(dir.join("failed/other-ns.yaml.error")).unwrap();
    assert!(
        ns_error.contains("`elsewhere`") && ns_error.contains(&format!("`{NS}`")),
        "{ns_error}"
    );
    assert!(dir.join("applied/fine.yaml").exists());
    assert!(c.fake.object("configmaps", NS, "fine").is_some());
    assert!(c.fake.object("configmaps", "elsewhere", "a").is_none());
    // The same directory again: nothing waiting, nothing to stumble on.
    let out = c.run("watch", &["--once", "incoming"]);
    no_panic("watch again", &out);
    assert!(
        !stderr(&out).contains("moved to failed/"),
        "{}",
        stderr(&out)
    );
}

/// Collections nested 100 000 deep (`[[[[...`, `{a: {a: ...`), which libyaml alone scans
/// for minutes: refused at once, with the file and the line and column where the nesting
/// goes too deep, by `render` (in a template or a parameters file) and by every command
/// that reads a rendered tree; `watch` sets such a file aside.
#[test]
fn collections_nested_too_deep_are_refused_with_where_by_every_command() {
    let c = Cluster::new(Faults::default());
    let nest = |open: &str, close: &str, inner: &str| {
        let n = 100_000 / open.len();
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    };
    let in_project = |args: &[&str]| c.project.cmd().args(args).output().unwrap();
    let params = ["--source", "file", "--params-file", "params.yaml"];
    let with_params = |first: &[&'static str]| [first, &params[..]].concat();
    for (open, close) in [("[", "]"), ("{a: ", "}")] {
        let text = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  a: {}\n",
            nest(open, close, "x")
        );
        let what = format!("`{open}` nested");
        let _ = std::fs::remove_dir_all(c.project.path("kubernetes"));
        c.manifest("x.yaml", &text);
        c.project
            .write("params.yaml", "unused: 1\n")
            .write("kubernetes-in/x.yaml", &text);
        for (command, out) in [
            ("deploy", c.run("deploy", &[])),
            ("status", c.run("status", &[])),
            ("diff --live", c.run("diff", &with_params(&["--live"]))),
            ("render", in_project(&with_params(&["render", "--stdout"]))),
            (
                "userdata",
                in_project(&["userdata", "--from-rendered", "-o", "ud.txt"]),
            ),
        ] {
            no_panic(&format!("{command} {what}"), &out);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{command} {what}: {err}");
            assert!(
                err.contains("x.yaml")
                    && err.contains("collections nested more than 128 deep at line 6"),
                "{command} {what}: {err}"
            );
        }

        // A parameters file nested as deep.
        std::fs::remove_file(c.project.path("kubernetes-in/x.yaml")).unwrap();
        c.project.write(
            "params.yaml",
            &format!("a: 1\nb: {}\n", nest(open, close, "1")),
        );
        let out = in_project(&with_params(&["render"]));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains("params.yaml")
                && err.contains("collections nested more than 128 deep at line 2"),
            "{what}: {err}"
        );

        // `watch` sets it aside with its reason.
        let dir = c.project.path("incoming");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("deep.yaml"), &text).unwrap();
        let out = c.run("watch", &["--once", "incoming"]);
        no_panic(&format!("watch {what}"), &out);
        let error = std::fs::read_to_string(dir.join("failed/deep.yaml.error")).unwrap();
        assert!(
            error.contains("collections nested more than 128 deep at line 6"),
            "{what}: {error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert!(c.fake.object("configmaps", NS, "a").is_none());
}

/// kubectl refuses an object whose namespace differs from `-n`; so do we, naming both.
#[test]
fn a_manifest_in_another_namespace_is_refused() {
    let c = Cluster::new(Faults::default());
    c.manifest("a.yaml", &with("namespace", "elsewhere"))
        .manifest("b.yaml", &config_map("fine"));
    let out = c.deploy(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`a.yaml`: a ConfigMap names namespace `elsewhere`, but the deployment's namespace is `test`"),
        "{err}"
    );
    assert!(err.contains("hint: deploy with `-n elsewhere`"), "{err}");
    assert!(c.fake.object("configmaps", NS, "a").is_none());
    assert!(c.fake.object("configmaps", "elsewhere", "a").is_none());
    // Naming the same namespace is fine.
    c.manifest("a.yaml", &with("namespace", NS));
    crate::support::cluster::ok(&c.deploy(&[]));
    // `-n` itself must be a namespace name.
    for bad in ["../x", "A", "a b", "a/b", ""] {
        let out = c
            .project
            .cmd()
            .args(["deploy", "--kubeconfig", "kubeconfig", "-n", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is not valid"),
            "{bad}: {}",
            stderr(&out)
        );
    }
}

/// Bytes that are not UTF-8 are an error naming the file, the byte offset and line,
/// for every shape of bad byte, never replaced and applied.
#[test]
fn non_utf8_manifests_are_errors_naming_the_byte() {
    let c = Cluster::new(Faults::default());
    let head = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  a: \"".to_vec();
    for bad in [
        &b"\xff"[..],
        b"\xc3",         // a truncated two-byte sequence
        b"\xe2\x82",     // a truncated three-byte sequence
        b"\xed\xa0\x80", // a UTF-16 surrogate
        b"\xc0\xaf",     // an overlong `/`
        b"\xf8\x88\x80\x80\x80",
    ] {
        let mut text = head.clone();
        text.extend_from_slice(bad);
        text.extend_from_slice(b"\"\n");
        std::fs::create_dir_all(c.project.path("kubernetes")).unwrap();
        std::fs::write(c.project.path("kubernetes/a.yaml"), &text).unwrap();
        let out = c.deploy(&[]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!(
                "`a.yaml` is not UTF-8 text: invalid byte at offset {} (line 6)",
                head.len()
            )),
            "{bad:?}: {}",
            stderr(&out)
        );
        assert!(c.fake.object("configmaps", NS, "a").is_none());
    }
}

/// A server that answers but is not a Kubernetes API (a web server, a proxy's error
/// page, JSON of another kind) is called that, not "kind Secret is not served".
#[test]
fn a_server_that_is_not_kubernetes_is_reported_as_such() {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let answers: Vec<(&str, axum::Router)> = vec![
        (
            "HTTP 404",
            axum::Router::new().fallback(|| async { (StatusCode::NOT_FOUND, "<html>nope</html>") }),
        ),
        (
            "HTTP 200 with an HTML or XML body",
            axum::Router::new().fallback(|| async { "<!doctype html><title>hello</title>" }),
        ),
        (
            "HTTP 200 with a JSON body",
            axum::Router::new().fallback(|| async {
                axum::Json(serde_json::json!({"hello": "world"})).into_response()
            }),
        ),
        (
            "HTTP 404: no such page",
            axum::Router::new().fallback(|| async { (StatusCode::NOT_FOUND, "no such page") }),
        ),
    ];
    for (expected, app) in answers {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(20),
                        axum::serve(listener, app).into_future(),
                    )
                    .await;
                });
        });
        let c = Cluster::new(Faults::default());
        std::fs::write(
            c.project.path("kubeconfig"),
            crate::fake_kube::kubeconfig(&format!("http://{addr}")),
        )
        .unwrap();
        c.manifest("s.yaml", &crate::support::cluster::secret("s"));
        let out = c.deploy(&[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!(
                "http://{addr} does not look like a Kubernetes API server: GET /api answered {expected}"
            )),
            "{expected}: {err}"
        );
        assert!(!err.contains("is not served"), "{err}");
        drop(server);
    }
}

/// Durations too long to add to the clock (or not numbers at all) are refused by every
/// flag that takes one, instead of overflowing a deadline.
#[test]
fn huge_durations_are_refused_not_a_crash() {
    let c = Cluster::new(Faults::default());
    c.manifest("a.yaml", &config_map("a"));
    for value in [
        "99999999999999999999h",
        "18446744073709551615",
        "1000000000000s",
        "366d",
        "-5s",
        "1e400",
        "NaN",
        "inf",
    ] {
        for (command, flag) in [
            ("deploy", "--timeout"),
            ("deploy", "--request-timeout"),
            ("teardown", "--timeout"),
        ] {
            let flag_value = format!("{flag}={value}");
            let out = c.run(
                command,
                &[flag_value.as_str(), "--yes"][..if command == "teardown" { 2 } else { 1 }],
            );
            no_panic(&format!("{command} {flag} {value}"), &out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{command} {flag} {value}: {}",
                stderr(&out)
            );
            assert!(stderr(&out).contains(value), "{}", stderr(&out));
        }
    }
    let out = c.run("deploy", &["--timeout", "365d"]);
    assert_eq!(out.status.code(), Some(2), "no `d` unit: {}", stderr(&out));
    crate::support::cluster::ok(&c.run("deploy", &["--timeout", "8760h"]));
}
