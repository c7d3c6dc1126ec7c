//! `status`, `teardown`, `db-sync`, `clean-jobs`, `deploy --dry-run`, `--graph`, `-o json`
//! and Ctrl-C, against the fake API server; and the shipped tree's dependency graph.

use crate::fake_kube::{FakeKube, Faults};
use crate::support::cluster::{Cluster, NS, ok, one_shot_pod, rc, small_tree};
use crate::support::{stderr, stdout};
use std::time::Duration;

#[test]
fn dry_run_shows_the_plan_and_writes_nothing() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    ok(&c.deploy(&[]));
    c.manifest(
        "mariadb-rc.yaml",
        &rc("mariadb", "").replace("replicas: 2", "replicas: 3"),
    );
    c.manifest("extra-rc.yaml", &rc("extra", ""));
    c.fake.clear_log();
    let out = c.deploy(&["--dry-run"]);
    ok(&out);
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ReplicationController/mariadb") && l.contains("configured")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ReplicationController/extra") && l.contains("created")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Secret/keystone") && l.contains("unchanged")),
        "{table}"
    );
    assert!(stderr(&out).contains("dry run: nothing written"));
    assert!(
        table.lines().any(|l| l.starts_with("Pod/keystone-db-sync")
            && l.contains("waits for ReplicationController/mariadb (declared)")),
        "the plan shows what each object waits for: {table}"
    );
    let log = c.fake.log();
    assert!(
        log.iter()
            .filter(|e| e.method != "GET")
            .all(|e| e.query.contains("dryRun=All")),
        "only server-side dry runs"
    );
    assert_eq!(
        c.fake
            .object("replicationcontrollers", NS, "mariadb")
            .unwrap()["spec"]["replicas"],
        2
    );
    assert!(
        c.fake
            .object("replicationcontrollers", NS, "extra")
            .is_none()
    );
}

#[test]
fn status_reports_readiness_and_exits_0_only_when_everything_is_ready() {
    let c = Cluster::new(Faults {
        never_ready: vec!["keystone".into()],
        ..Faults::default()
    });
    small_tree(&c);
    let out = c.run("status", &[]);
    assert_eq!(out.status.code(), Some(1), "nothing deployed yet");
    assert!(stdout(&out).contains("missing"), "{}", stdout(&out));
    let _ = c.deploy(&["--timeout", "1s"]);
    let out = c.run("status", &[]);
    assert_eq!(out.status.code(), Some(1));
    let table = stdout(&out);
    let line = table
        .lines()
        .find(|l| l.starts_with("ReplicationController/keystone"))
        .unwrap();
    assert!(
        line.contains(" no ") && line.contains("0/2 replicas ready"),
        "{line}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Pod/keystone-db-sync") && l.contains(" yes ")),
        "{table}"
    );

    c.fake.set_faults(|f| f.never_ready.clear());
    std::thread::sleep(Duration::from_millis(400));
    let out = c.run("status", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn teardown_deletes_in_reverse_order_and_waits_until_gone() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    ok(&c.deploy(&[]));
    let out = c.run("teardown", &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no confirmation without a terminal or --yes"
    );
    assert!(stderr(&out).contains("--yes"));
    assert!(c.fake.object("pods", NS, "keystone-db-sync").is_some());
    ok(&c.run("teardown", &["--dry-run"]));
    assert!(
        c.fake.object("pods", NS, "keystone-db-sync").is_some(),
        "a dry run deletes nothing"
    );
    c.fake.clear_log();
    ok(&c.run("teardown", &["--yes"]));
    for plural in [
        "pods",
        "replicationcontrollers",
        "services",
        "secrets",
        "configmaps",
    ] {
        assert!(c.fake.objects(plural, NS).is_empty(), "{plural} all gone");
    }
    let deletes: Vec<String> = c
        .fake
        .log()
        .iter()
        .filter(|e| e.method == "DELETE")
        .map(|e| e.path.clone())
        .collect();
    let pos = |what: &str| {
        deletes
            .iter()
            .position(|p| p.contains(what))
            .unwrap_or_else(|| panic!("{what} deleted"))
    };
    assert!(pos("/pods/") < pos("/replicationcontrollers/"));
    assert!(pos("/replicationcontrollers/") < pos("/services/"));
    assert!(pos("/services/") < pos("/secrets/"));
    assert!(
        c.fake.object("namespaces", "", NS).is_some(),
        "the namespace stays"
    );
}

#[test]
fn db_sync_reruns_the_chosen_pods_in_order_and_prints_their_logs() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    c.manifest(
        "glance-db-sync-pod.yaml",
        &one_shot_pod("glance-db-sync", "Pod/keystone-db-sync", "example/glance:1"),
    );
    c.manifest(
        "nova-db-sync-pod.yaml",
        &one_shot_pod("nova-db-sync", "", "example/nova:1"),
    );
    ok(&c.deploy(&[]));
    let uid = |name: &str| c.fake.object("pods", NS, name).unwrap()["metadata"]["uid"].clone();
    let (keystone_before, nova_before) = (uid("keystone-db-sync"), uid("nova-db-sync"));
    c.fake.clear_log();
    let out = c.run("db-sync", &["keystone", "glance"]);
    ok(&out);
    assert!(
        stdout(&out).contains("keystone-db-sync | keystone-db-sync: schema up to date"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("glance-db-sync | glance-db-sync: starting"),
        "{}",
        stdout(&out)
    );
    assert_ne!(uid("keystone-db-sync"), keystone_before, "a new pod ran");
    assert_eq!(
        uid("nova-db-sync"),
        nova_before,
        "pods not asked for are left alone"
    );
    let (keystone_start, _) = c.applied("pods/keystone-db-sync");
    let (glance_start, _) = c.applied("pods/glance-db-sync");
    assert!(
        glance_start >= keystone_start + 200.0,
        "glance's sync waits for keystone's to succeed"
    );

    c.fake
        .set_faults(|f| f.fail_pods = vec!["nova-db-sync".into()]);
    let out = c.run("db-sync", &["--all"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("db-sync did not succeed for Pod/nova-db-sync"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("nova-db-sync | nova-db-sync: ERROR"),
        "{}",
        stdout(&out)
    );

    let out = c.run("db-sync", &["cinder"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no pod `cinder-db-sync`") && stderr(&out).contains("keystone"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn clean_jobs_deletes_finished_one_shot_pods_and_keeps_failed_ones() {
    let c = Cluster::new(Faults {
        fail_pods: vec!["bad".into()],
        ..Faults::default()
    });
    c.manifest("good.yaml", &one_shot_pod("good", "", "x/good:1"))
        .manifest("bad.yaml", &one_shot_pod("bad", "", "x/bad:1"));
    c.manifest("web.yaml", &rc("web", ""));
    let _ = c.deploy(&[]);
    ok(&c.run("clean-jobs", &[]));
    assert!(c.fake.object("pods", NS, "good").is_none());
    assert!(
        c.fake.object("pods", NS, "bad").is_some(),
        "failed pods are kept for their logs"
    );
    ok(&c.run("clean-jobs", &["--all"]));
    assert!(c.fake.object("pods", NS, "bad").is_none());
    assert!(c.fake.object("replicationcontrollers", NS, "web").is_some());
}

#[test]
fn json_events_describe_each_object_for_scripts() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    let out = c.deploy(&["-o", "json"]);
    ok(&out);
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    let of = |object: &str, event: &str| {
        events
            .iter()
            .any(|e| e["object"] == object && e["event"] == event)
    };
    assert!(of("Pod/keystone-db-sync", "applying") && of("Pod/keystone-db-sync", "ready"));
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["changes"], 6);
    assert_eq!(summary["objects"].as_array().unwrap().len(), 6);
}

#[test]
fn ctrl_c_finishes_requests_in_flight_reports_and_the_next_run_converges() {
    let c = Cluster::new(Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    });
    for i in 0..40 {
        c.manifest(
            &format!("c{i}.yaml"),
            &crate::support::cluster::config_map(&format!("c{i}")),
        );
    }
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kube-openstack"))
        .current_dir(c.project.dir.path())
        .args([
            "deploy",
            "--kubeconfig",
            "kubeconfig",
            "-n",
            NS,
            "--parallel",
            "2",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the run is applying (its Ctrl-C handler is then in place).
    let start = std::time::Instant::now();
    while c
        .applies()
        .iter()
        .filter(|(o, _, _)| o.starts_with("configmaps/"))
        .count()
        < 4
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the deploy never started applying"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signalling a child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Interrupted") && err.contains("interrupted: "),
        "{err}"
    );
    assert!(err.contains("not started"), "{err}");
    let stored = c.fake.objects("configmaps", NS).len();
    assert!(stored > 0 && stored < 40, "stopped part way: {stored}");
    let out = c.deploy(&[]);
    ok(&out);
    assert_eq!(c.fake.objects("configmaps", NS).len(), 40);
    assert!(
        stderr(&out).contains(&format!("{} created", 40 - stored)),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_shipped_tree_has_no_cycle_no_missing_reference_and_the_documented_edges() {
    let p = crate::shipped::shipped();
    ok(&p.cmd().arg("render").output().unwrap());
    let out = p.cmd().args(["deploy", "--graph", "dot"]).output().unwrap();
    ok(&out);
    let dot = stdout(&out);
    for edge in [
        "\"ReplicationController/mariadb\" -> \"Pod/mariadb-users\" [style=solid",
        "\"Pod/mariadb-users\" -> \"Pod/keystone-db-sync\" [style=solid",
        "\"Secret/mariadb-users\" -> \"Pod/mariadb-users\" [style=dashed, label=\"inferred\"]",
        "\"ReplicationController/rabbitmq\" -> \"ReplicationController/nova-conductor\" [style=solid",
        "\"Pod/keystone-db-sync\" -> \"ReplicationController/keystone\" [style=solid",
        "\"Pod/glance-db-sync\" -> \"ReplicationController/glance-api\" [style=solid",
        "\"ReplicationController/docker-registry\" -> \"ReplicationController/nova-api\" [style=solid",
        "\"Secret/keystone\" -> \"Pod/keystone-db-sync\" [style=dashed, label=\"inferred\"]",
        "\"DaemonSet/docker-registry-node\" -> \"ReplicationController/nova-api\" [style=dashed, label=\"inferred\"]",
        "\"Secret/docker-registry\" -> \"DaemonSet/docker-registry-node\" [style=dashed, label=\"inferred\"]",
    ] {
        assert!(dot.contains(edge), "missing edge {edge}\n{dot}");
    }
    // A schema migration uses the database only: it does not wait for RabbitMQ.
    assert!(
        !dot.lines().any(
            |l| l.contains("\"ReplicationController/rabbitmq\" -> \"Pod/")
                && l.contains("-db-sync\"")
        ),
        "{dot}"
    );
    // Everything that pulls from the in-cluster registry waits for it, declared or inferred:
    // for the replicas behind the Service, and for the registry on every node's loopback
    // that the kubelet pulls from. The registry's own workloads pull their image from it
    // too, but cannot wait for it (each would wait for the other): where their image
    // comes from first is the registry's bootstrap.
    let registries = [
        "ReplicationController/docker-registry",
        "DaemonSet/docker-registry-node",
    ];
    let mut pulling = 0;
    for line in dot.lines().filter(|l| l.starts_with("    \"")) {
        let id = line.trim().trim_end_matches(';').trim_matches('"');
        if registries.contains(&id) {
            for other in registries {
                assert!(
                    !dot.contains(&format!("\"{other}\" -> \"{id}\"")),
                    "{id} does not wait for {other}"
                );
            }
            continue;
        }
        let file = p.read(&format!("kubernetes/{}", shipped_file(id)));
        if file.contains("image: \"localhost:4999/") {
            pulling += 1;
            for registry in [
                "ReplicationController/docker-registry",
                "DaemonSet/docker-registry-node",
            ] {
                assert!(
                    dot.contains(&format!("\"{registry}\" -> \"{id}\"")),
                    "{id} waits for {registry}"
                );
            }
        }
    }
    assert!(
        pulling > 10,
        "the OpenStack services pull from the registry"
    );
    let mermaid = stdout(
        &p.cmd()
            .args(["deploy", "--graph", "mermaid"])
            .output()
            .unwrap(),
    );
    assert!(
        mermaid.starts_with("flowchart LR")
            && mermaid.contains("-.->|inferred|")
            && mermaid.contains("-->|declared|")
    );
}

#[test]
fn the_shipped_tree_deploys_only_once_the_node_registry_serves_every_node() {
    let fake = FakeKube::start(Faults {
        never_ready: vec!["docker-registry-node".into()],
        ..Faults::default()
    });
    let project = crate::shipped::shipped();
    fake.write_kubeconfig(&project.path("kubeconfig"));
    let c = Cluster { fake, project };
    ok(&c.project.cmd().arg("render").output().unwrap());

    let out = c.deploy(&["--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("DaemonSet/docker-registry-node"),
        "{}",
        stderr(&out)
    );
    let ds = c
        .fake
        .object("daemonsets", NS, "docker-registry-node")
        .expect("the node registry is applied");
    assert_eq!(ds["spec"]["template"]["spec"]["hostNetwork"], true);
    assert!(
        c.fake
            .object("replicationcontrollers", NS, "docker-registry")
            .is_some()
            && c.fake.object("secrets", NS, "mariadb").is_some(),
        "the registry's replicas and what pulls nothing go ahead"
    );
    // Every image of the tree comes from the registry, MariaDB's too.
    for name in ["mariadb", "keystone", "nova-api", "swift-proxy"] {
        assert!(
            c.fake.object("replicationcontrollers", NS, name).is_none(),
            "{name} pulls from localhost:4999: not started while no node serves it"
        );
    }
    assert!(c.fake.object("pods", NS, "keystone-db-sync").is_none());

    c.fake.set_faults(|f| f.never_ready.clear());
    ok(&c.deploy(&[]));
    let out = c.run("status", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = c.deploy(&[]);
    ok(&out);
    assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
}

/// The shipped tree names its files after the object: `keystone-rc.yaml`, `mariadb-service.yaml`.
fn shipped_file(id: &str) -> String {
    let (kind, name) = id.split_once('/').unwrap();
    let suffix = match kind {
        "ReplicationController" => "rc",
        "Service" => "service",
        "Pod" => "pod",
        "Secret" => "secret",
        "DaemonSet" => "daemonset",
        _ => "unknown",
    };
    let name = name
        .strip_suffix("-server")
        .filter(|_| kind == "Service")
        .unwrap_or(name);
    format!("{name}-{suffix}.yaml")
}

#[test]
fn diff_live_compares_the_render_with_the_cluster_with_secrets_masked() {
    let c = Cluster::new(Faults::default());
    let p = &c.project;
    p.write("kubernetes-in/db-secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {{db_password}}\n");
    p.write("kubernetes-in/settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  workers: {{workers}}\n");
    p.write(
        "kubernetes-in/web-service.yaml",
        &crate::support::cluster::service("web"),
    );
    p.write(
        "params.yaml",
        "db_password: first-Pa55word\nworkers: \"4\"\n",
    );
    let diff_live = || {
        p.cmd()
            .args([
                "diff",
                "--live",
                "--kubeconfig",
                "kubeconfig",
                "-n",
                NS,
                "--source",
                "file",
                "--params-file",
                "params.yaml",
            ])
            .output()
            .unwrap()
    };
    let out = diff_live();
    assert_eq!(
        out.status.code(),
        Some(1),
        "nothing deployed: everything would be created\n{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("+ Secret/db") && stdout(&out).contains("+ Service/web"),
        "{}",
        stdout(&out)
    );
    ok(&p.with_params(&["render"]).output().unwrap());
    ok(&c.deploy(&[]));
    let out = diff_live();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the server's defaults (clusterIP) show on both sides\n{}{}",
        stdout(&out),
        stderr(&out)
    );

    p.write(
        "params.yaml",
        "db_password: second-Pa55word\nworkers: \"8\"\n",
    );
    c.fake.clear_log();
    let out = diff_live();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("~ Secret/db") && text.contains("~ ConfigMap/settings"),
        "{text}"
    );
    assert!(
        text.contains("-  workers: '4'") && text.contains("+  workers: '8'"),
        "{text}"
    );
    assert!(
        !text.contains("first-Pa55word") && !text.contains("second-Pa55word"),
        "{text}"
    );
    assert!(text.contains("***"), "{text}");
    assert!(
        c.fake
            .log()
            .iter()
            .filter(|e| e.method != "GET")
            .all(|e| e.query.contains("dryRun=All")),
        "a diff writes nothing"
    );
    assert_eq!(
        c.fake.object("configmaps", NS, "settings").unwrap()["data"]["workers"],
        "4"
    );
}
