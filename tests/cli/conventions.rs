//! The conventions a kubectl or helm user brings: Go-style durations, kubectl's
//! `--dry-run` values, diff's exit codes, `-o` meaning the output format, `--color never`
//! reaching clap's errors and the progress display.

use crate::fake_kube::Faults;
use crate::support::cluster::{Cluster, config_map, ok, small_tree};
use crate::support::{Project, SERVICE, failure, require_program, stderr, stdout};

fn rendered(p: &Project) {
    p.write(
        "kubernetes/web-service.yaml",
        &SERVICE.replace("{{name}}", "web"),
    )
    .write(
        "kubernetes/web-config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata: {}\n",
    );
}

#[test]
fn durations_take_go_spellings_everywhere_a_time_is_given() {
    let p = Project::new();
    rendered(&p);
    for flag in ["--timeout", "--request-timeout"] {
        for value in ["1m30s", "5m0s", "90s", "90", "1h"] {
            let out = p
                .cmd()
                .args(["deploy", "--graph", "dot", flag, value])
                .output()
                .unwrap();
            assert!(out.status.success(), "{flag} {value}: {}", stderr(&out));
        }
    }
    let out = p
        .cmd()
        .args(["stack", "delete", "--stack", "s", "--wait-timeout", "1m30"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--wait-timeout") && err.contains("`1m30s`"),
        "{err}"
    );
}

#[test]
fn a_client_dry_run_plans_without_asking_the_cluster() {
    let p = Project::new();
    rendered(&p);
    // No cluster at all: nothing may be asked of one.
    let out = p
        .cmd()
        .args(["deploy", "--dry-run=client", "--kubeconfig", "missing.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let table = stdout(&out);
    let service = table.find("Service/web").expect("the Service is listed");
    let config = table
        .find("ConfigMap/web")
        .expect("the ConfigMap is listed");
    assert!(
        config < service,
        "in the order they would be applied:\n{table}"
    );
    assert!(stderr(&out).contains("client dry run"), "{}", stderr(&out));

    let out = p
        .cmd()
        .args([
            "teardown",
            "--dry-run=client",
            "--kubeconfig",
            "missing.yaml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let listed = stdout(&out);
    assert!(
        listed.find("Service/web") < listed.find("ConfigMap/web"),
        "teardown deletes in reverse order:\n{listed}"
    );

    let out = p
        .cmd()
        .args([
            "clean-jobs",
            "--dry-run=client",
            "--kubeconfig",
            "missing.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("only the cluster knows"),
        "{}",
        stderr(&out)
    );

    p.write("params.yaml", "name: web\n")
        .write("kubernetes-in/web-service.yaml", SERVICE)
        .write("docker/web/Dockerfile", "FROM scratch\n");
    let out = p
        .with_params(&["up", "--dry-run=client", "--kubeconfig", "missing.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let steps = stdout(&out);
    let deploy = steps.lines().find(|l| l.starts_with("deploy")).unwrap();
    assert!(
        deploy.contains("would run") && deploy.contains("the cluster was not asked"),
        "{steps}"
    );

    let out = p
        .cmd()
        .args(["deploy", "--dry-run=maybe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("server, client"), "{}", stderr(&out));
}

#[test]
fn dry_run_alone_is_the_servers() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    ok(&c.deploy(&[]));
    let applied = c.applies().len();
    c.manifest("extra.yaml", &config_map("extra"));
    let out = c.deploy(&["--dry-run"]);
    ok(&out);
    assert_eq!(c.applies().len(), applied, "a dry run changes nothing");
    let asked = c.fake.log().iter().any(|e| {
        e.method == "PATCH" && e.query.contains("dryRun=All") && e.path.ends_with("/extra")
    });
    assert!(asked, "the server was asked about the new object");
}

#[test]
fn diff_against_a_missing_directory_or_with_cluster_flags_but_no_live_is_an_error() {
    let p = Project::new();
    p.write("params.yaml", "name: web\n")
        .write("kubernetes-in/web-service.yaml", SERVICE);
    let out = p
        .with_params(&["diff", "--against", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("`--against nowhere`: no such directory"));

    for flags in [
        &["--kubeconfig", "k.yaml"][..],
        &["-n", "openstack"],
        &["--context", "prod"],
    ] {
        let out = p.with_params(&["diff"]).args(flags).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("add `--live`"), "{}", stderr(&out));
    }
    // Differences are still 1, none 0.
    let out = p.with_params(&["diff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn userdata_o_is_the_old_spelling_of_output_and_says_so() {
    let p = Project::new();
    p.write("setup.sh", "#!/bin/sh\necho hi\n");
    let out = p
        .cmd()
        .args(["userdata", "setup.sh", "-o", "old"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(
        stderr(&out).contains("warning: `userdata -o FILE` is the old spelling of `--output FILE`"),
        "{}",
        stderr(&out)
    );
    let out = p
        .cmd()
        .args(["userdata", "setup.sh", "--output", "new"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    assert_eq!(
        p.read("old"),
        p.read("new")
            .replace(&boundary(&p.read("new")), &boundary(&p.read("old")))
    );
}

/// The MIME boundary of a bundle (it differs between runs).
fn boundary(bundle: &str) -> String {
    let start = bundle.find("boundary=\"").expect("a boundary") + "boundary=\"".len();
    bundle[start..][..bundle[start..].find('"').unwrap()].to_string()
}

/// The command run on a terminal (a pseudo-terminal from `script`): what a user sees.
fn on_a_terminal(dir: &std::path::Path, command: &str) -> String {
    let script = require_program("script", "bsdutils");
    let out = std::process::Command::new(script)
        .args(["-qec", command, "/dev/null"])
        .current_dir(dir)
        .env("COLUMNS", "100")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An SGR sequence (colour or bold), as terminals draw colours.
fn has_colour(text: &str) -> bool {
    text.split("\x1b[").skip(1).any(|rest| {
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ';'));
        end.is_some_and(|i| rest[i..].starts_with('m'))
    })
}

#[test]
fn color_never_reaches_clap_errors_and_the_progress_display() {
    let bin = assert_cmd::cargo::cargo_bin("kube-openstack");
    let bin = bin.display();
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    c.manifest("extra.yaml", &config_map("extra"));
    let dir = c.project.path("");

    let error = on_a_terminal(&dir, &format!("{bin} --color never deploy --bogus"));
    assert!(error.contains("--bogus"), "{error}");
    assert!(!has_colour(&error), "{error:?}");
    // The same on a terminal without the flag is coloured: the check can fail.
    let coloured = on_a_terminal(&dir, &format!("{bin} deploy --bogus"));
    assert!(has_colour(&coloured), "{coloured:?}");

    let deploy = on_a_terminal(
        &dir,
        &format!("{bin} --color never deploy --kubeconfig kubeconfig -n test"),
    );
    assert!(deploy.contains("created"), "{deploy}");
    assert!(!has_colour(&deploy), "{deploy:?}");
}

/// The fake cluster's kubeconfig with its context's namespace set to `namespace`.
fn kubeconfig_with_namespace(c: &Cluster, namespace: &str) -> String {
    let text = c.project.read("kubeconfig");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    doc["contexts"][0]["context"]["namespace"] = namespace.into();
    serde_yaml::to_string(&doc).unwrap()
}

#[test]
fn the_namespace_is_the_kubeconfig_contexts_unless_given() {
    let c = Cluster::new(Faults::default());
    c.manifest("web.yaml", &config_map("web"));
    c.project
        .write("kubeconfig", &kubeconfig_with_namespace(&c, "from-context"));
    let deploy = |args: &[&str]| {
        let out = c
            .project
            .cmd()
            .args(["deploy", "--kubeconfig", "kubeconfig"])
            .args(args)
            .output()
            .unwrap();
        ok(&out);
        stderr(&out)
    };
    let said = deploy(&[]);
    assert!(said.contains("namespace `from-context`"), "{said}");
    assert!(c.fake.object("configmaps", "from-context", "web").is_some());

    // The config file's namespace wins over the context's, and `-n` over both.
    c.project
        .write("kube-openstack.yaml", "namespace: from-file\n");
    deploy(&[]);
    assert!(c.fake.object("configmaps", "from-file", "web").is_some());
    deploy(&["-n", "from-flag"]);
    assert!(c.fake.object("configmaps", "from-flag", "web").is_some());

    // A context without a namespace: `openstack`, the documented fallback.
    c.project.write("kube-openstack.yaml", "");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&c.project.read("kubeconfig")).unwrap();
    doc["contexts"][0]["context"]
        .as_mapping_mut()
        .unwrap()
        .remove("namespace");
    c.project
        .write("kubeconfig", &serde_yaml::to_string(&doc).unwrap());
    deploy(&[]);
    assert!(c.fake.object("configmaps", "openstack", "web").is_some());
}

#[test]
fn kubeconfig_paths_are_merged_and_missing_ones_skipped() {
    let c = Cluster::new(Faults::default());
    c.manifest("web.yaml", &config_map("web"));
    let whole: serde_yaml::Value =
        serde_yaml::from_str(&kubeconfig_with_namespace(&c, "merged")).unwrap();
    // The cluster and the user in one file, the context in another.
    let mut servers = whole.clone();
    let mapping = servers.as_mapping_mut().unwrap();
    mapping.remove("contexts");
    mapping.remove("current-context");
    let mut contexts = whole.clone();
    let mapping = contexts.as_mapping_mut().unwrap();
    mapping.remove("clusters");
    mapping.remove("users");
    c.project
        .write("servers.yaml", &serde_yaml::to_string(&servers).unwrap())
        .write("contexts.yaml", &serde_yaml::to_string(&contexts).unwrap());
    let list = std::env::join_paths([
        c.project.path("missing.yaml"),
        c.project.path("contexts.yaml"),
        c.project.path("servers.yaml"),
    ])
    .unwrap();
    let out = c
        .project
        .cmd()
        .arg("deploy")
        .env("KUBECONFIG", &list)
        .output()
        .unwrap();
    ok(&out);
    assert!(c.fake.object("configmaps", "merged", "web").is_some());

    // Only missing files: no configuration, and the error says where it looked.
    let out = c
        .project
        .cmd()
        .arg("deploy")
        .env("KUBECONFIG", c.project.path("missing.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("no kubeconfig at") && err.contains("missing.yaml"),
        "{err}"
    );
}

#[test]
fn a_render_that_takes_more_than_a_second_shows_its_progress_on_a_terminal_only() {
    // An included text that takes 1.5 s to come: the render lasts longer than a second.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            std::thread::sleep(std::time::Duration::from_millis(1500));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
        }
    });
    let p = crate::support::Project::new();
    p.write("params.yaml", "name: web\n").write(
        "kubernetes-in/motd-configmap.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: motd\ndata:\n  motd: {{{{include \"http://127.0.0.1:{port}/motd.txt\"}}}}\n"
        ),
    );
    let bin = assert_cmd::cargo::cargo_bin("kube-openstack");
    let shown = on_a_terminal(
        &p.path(""),
        &format!(
            "{} render --source file --params-file params.yaml",
            bin.display()
        ),
    );
    assert!(shown.contains("Rendering ["), "{shown:?}");
    assert!(p.read("kubernetes/motd-configmap.yaml").contains("hi"));
    // Not on a pipe; there `-v` traces the download.
    let out = p.with_params(&["-v", "render"]).output().unwrap();
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    assert!(
        crate::support::stderr(&out).contains(&format!(
            "debug: GET http://127.0.0.1:{port}/motd.txt 200 OK in 1"
        )),
        "{}",
        crate::support::stderr(&out)
    );
    assert!(
        !crate::support::stderr(&out).contains("Rendering ["),
        "{}",
        crate::support::stderr(&out)
    );
}
