//! `deploy` against the fake API server: order, waits, graph errors, idempotence, prune,
//! failures, timeouts, and faults.

use crate::cluster::{Cluster, NS, config_map, ok, one_shot_pod, rc, secret, service, small_tree};
use crate::fake_kube::{FakeKube, Faults};
use crate::support::{stderr, stdout};

#[test]
fn deploy_creates_objects_in_kind_order_and_a_second_run_changes_nothing() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    let out = c.deploy(&[]);
    ok(&out);
    assert!(
        stderr(&out).contains("6 created") && stderr(&out).contains("6 changes"),
        "{}",
        stderr(&out)
    );
    let (_, secret_done) = c.applied("secrets/keystone");
    let (_, cm_done) = c.applied("configmaps/keystone-config");
    let (svc_start, svc_done) = c.applied("services/mariadb");
    let (rc_start, _) = c.applied("replicationcontrollers/mariadb");
    assert!(
        svc_start >= secret_done && svc_start >= cm_done,
        "Service after Secret and ConfigMap"
    );
    assert!(rc_start >= svc_done, "ReplicationController after Service");
    let ns = c
        .fake
        .object("namespaces", "", NS)
        .expect("the namespace is created");
    assert_eq!(
        ns["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kube-openstack"
    );
    let rc = c
        .fake
        .object("replicationcontrollers", NS, "mariadb")
        .unwrap();
    assert_eq!(rc["metadata"]["labels"]["kube-openstack/deployment"], NS);
    assert_eq!(
        rc["metadata"]["managedFields"][0]["manager"],
        "kube-openstack"
    );

    let versions = |c: &Cluster| -> Vec<String> {
        [
            "secrets",
            "configmaps",
            "services",
            "replicationcontrollers",
            "pods",
        ]
        .iter()
        .flat_map(|p| c.fake.objects(p, NS))
        .map(|o| {
            format!(
                "{}={}",
                o["metadata"]["name"], o["metadata"]["resourceVersion"]
            )
        })
        .collect()
    };
    let before = versions(&c);
    c.fake.clear_log();
    let out = c.deploy(&[]);
    ok(&out);
    assert!(
        stderr(&out).contains("6 unchanged") && stderr(&out).contains("; 0 changes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stdout(&out).matches(" unchanged ").count(),
        6,
        "{}",
        stdout(&out)
    );
    assert_eq!(
        before,
        versions(&c),
        "no object was written the second time"
    );
    assert_eq!(c.fake.max_creations(), 1);
}

#[test]
fn nothing_starts_before_what_it_depends_on_is_ready() {
    let c = Cluster::new(Faults {
        ready_delay: std::time::Duration::from_millis(400),
        ..Faults::default()
    });
    small_tree(&c);
    c.manifest("memcached-rc.yaml", &rc("memcached", ""));
    ok(&c.deploy(&[]));
    // The fake's controllers count from when the server accepted the object, which is
    // after the apply request started.
    let (db_start, _) = c.applied("replicationcontrollers/mariadb");
    let (sync_start, _) = c.applied("pods/keystone-db-sync");
    let (api_start, _) = c.applied("replicationcontrollers/keystone");
    let (memcached_start, _) = c.applied("replicationcontrollers/memcached");
    assert!(
        sync_start >= db_start + 400.0,
        "the db-sync pod waits for mariadb's replicas: {sync_start} vs {db_start}"
    );
    assert!(
        api_start >= sync_start + 200.0,
        "keystone waits for the db-sync pod to succeed: {api_start} vs {sync_start}"
    );
    assert!(
        memcached_start < db_start + 400.0,
        "an object with no dependency is not held back by another's wait"
    );
    let pod = c.fake.object("pods", NS, "keystone-db-sync").unwrap();
    assert_eq!(pod["status"]["phase"], "Succeeded");
}

#[test]
fn a_dependency_cycle_is_printed_and_nothing_is_written() {
    let c = Cluster::new(Faults::default());
    c.manifest("a.yaml", &one_shot_pod("a", "Pod/b", "x/a:1"))
        .manifest(
            "b.yaml",
            &one_shot_pod("b", "ReplicationController/c", "x/b:1"),
        );
    c.manifest("c.yaml", &rc("c", "Pod/a"));
    let out = c.deploy(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("dependency cycle: "),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Pod/a -> Pod/b -> ReplicationController/c -> Pod/a"),
        "{}",
        stderr(&out)
    );
    assert!(
        c.fake.log().is_empty(),
        "the graph is checked before the cluster is contacted"
    );
}

#[test]
fn a_reference_to_an_object_not_in_the_tree_names_the_file() {
    let c = Cluster::new(Faults::default());
    c.manifest(
        "sync.yaml",
        &one_shot_pod(
            "sync",
            "ReplicationController/mariadb, Secret/nope",
            "x/a:1",
        ),
    );
    let out = c.deploy(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`sync.yaml`: Pod/sync depends on ReplicationController/mariadb, which is not in the tree"), "{err}");
    assert!(
        err.contains("Secret/nope"),
        "every missing reference is listed: {err}"
    );
    assert!(c.fake.log().is_empty());
}

#[test]
fn a_failed_db_sync_stops_its_dependents_and_shows_its_log() {
    let c = Cluster::new(Faults {
        fail_pods: vec!["keystone-db-sync".into()],
        ..Faults::default()
    });
    small_tree(&c);
    let out = c.deploy(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("Pod/keystone-db-sync: pod failed"), "{err}");
    assert!(
        err.contains("keystone-db-sync | keystone-db-sync: ERROR: cannot connect to the database"),
        "the log is shown: {err}"
    );
    assert!(
        err.contains("not started: Pod/keystone-db-sync failed"),
        "{err}"
    );
    assert!(
        c.applies()
            .iter()
            .all(|(o, _, _)| o != "replicationcontrollers/keystone"),
        "keystone is never applied"
    );
    assert!(
        c.fake
            .object("replicationcontrollers", NS, "mariadb")
            .is_some(),
        "unrelated objects are deployed"
    );
}

#[test]
fn a_wait_that_times_out_says_what_is_still_pending() {
    let c = Cluster::new(Faults {
        never_ready: vec!["mariadb".into()],
        ..Faults::default()
    });
    small_tree(&c);
    let out = c.deploy(&["--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "ReplicationController/mariadb: timed out after 1s, still waiting: 0/2 replicas ready"
        ),
        "{err}"
    );
    assert!(
        err.contains("Pod/keystone-db-sync: not started: ReplicationController/mariadb failed"),
        "{err}"
    );
}

#[test]
fn unknown_kinds_fail_before_anything_is_written() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    c.manifest(
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
    );
    let out = c.deploy(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("`widget.yaml`: kind `Widget` (example.com/v1) is not served by the cluster"),
        "{}",
        stderr(&out)
    );
    assert!(
        c.fake.log().iter().all(|e| e.method == "GET"),
        "only discovery and reads"
    );
}

#[test]
fn an_invalid_object_fails_fast_with_the_servers_field_causes() {
    let c = Cluster::new(Faults::default());
    c.manifest("broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\nspec:\n  containers:\n  - name: main\n");
    let out = c.deploy(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("`broken.yaml`: Pod/broken"), "{err}");
    assert!(
        err.contains("422 Invalid")
            && err.contains("field `spec.containers[0].image`: Required value"),
        "{err}"
    );
    let patches = c
        .fake
        .log()
        .iter()
        .filter(|e| e.method == "PATCH" && e.path.ends_with("/broken"))
        .count();
    assert_eq!(patches, 1, "a permanent error is not retried");
}

#[test]
fn prune_lists_then_deletes_objects_removed_from_the_tree() {
    let c = Cluster::new(Faults::default());
    c.manifest("a.yaml", &config_map("a"))
        .manifest("b.yaml", &config_map("b"))
        .manifest("s.yaml", &service("s"));
    ok(&c.deploy(&[]));
    c.fake.insert("configmaps", NS, serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "not-ours"}}));
    c.remove("b.yaml");
    c.remove("s.yaml");
    let out = c.deploy(&["--prune", "--dry-run"]);
    ok(&out);
    assert!(
        stderr(&out).contains("Prune ConfigMap/b") && stderr(&out).contains("Prune Service/s"),
        "{}",
        stderr(&out)
    );
    assert!(
        c.fake.object("configmaps", NS, "b").is_some(),
        "a dry run deletes nothing"
    );
    let out = c.deploy(&["--prune"]);
    ok(&out);
    assert!(
        c.fake.object("configmaps", NS, "b").is_none()
            && c.fake.object("services", NS, "s").is_none()
    );
    assert!(c.fake.object("configmaps", NS, "a").is_some());
    assert!(
        c.fake.object("configmaps", NS, "not-ours").is_some(),
        "objects without the deployment's labels are left alone"
    );
}

#[test]
fn a_db_sync_pod_whose_spec_changed_is_rerun_and_an_unchanged_one_left_alone() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    c.manifest(
        "glance-db-sync-pod.yaml",
        &one_shot_pod(
            "glance-db-sync",
            "ReplicationController/mariadb",
            "example/glance:1",
        ),
    );
    ok(&c.deploy(&[]));
    c.manifest(
        "keystone-db-sync-pod.yaml",
        &one_shot_pod(
            "keystone-db-sync",
            "ReplicationController/mariadb",
            "example/keystone:2",
        ),
    );
    c.fake.clear_log();
    let out = c.deploy(&[]);
    ok(&out);
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Pod/keystone-db-sync") && l.contains(" rerun ")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Pod/glance-db-sync") && l.contains(" unchanged ")),
        "{table}"
    );
    let log = c.fake.log();
    assert!(
        log.iter()
            .any(|e| e.method == "DELETE" && e.path.ends_with("/pods/keystone-db-sync"))
    );
    assert!(
        !log.iter()
            .any(|e| e.method != "GET" && e.path.ends_with("/pods/glance-db-sync")),
        "glance's pod is not touched"
    );
    let pod = c.fake.object("pods", NS, "keystone-db-sync").unwrap();
    assert_eq!(pod["spec"]["containers"][0]["image"], "example/keystone:2");
    assert_eq!(pod["status"]["phase"], "Succeeded");
}

#[test]
fn an_immutable_change_is_explained_and_recreate_replaces_the_object() {
    let c = Cluster::new(Faults::default());
    let svc = |ip: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: fixed\nspec:\n  clusterIP: {ip}\n  ports:\n  - port: 80\n"
        )
    };
    c.manifest("svc.yaml", &svc("10.96.0.10"));
    ok(&c.deploy(&[]));
    c.manifest("svc.yaml", &svc("10.96.0.11"));
    let out = c.deploy(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("Service/fixed cannot be changed in place")
            && err.contains("field `spec.clusterIP`"),
        "{err}"
    );
    assert!(
        err.contains("--recreate"),
        "the hint names the way out: {err}"
    );
    let out = c.deploy(&["--recreate"]);
    ok(&out);
    assert!(stdout(&out).contains("recreated"), "{}", stdout(&out));
    assert_eq!(
        c.fake.object("services", NS, "fixed").unwrap()["spec"]["clusterIP"],
        "10.96.0.11"
    );
}

#[test]
fn secrets_never_appear_in_the_output() {
    let c = Cluster::new(Faults::default());
    c.manifest("s.yaml", &secret("db"));
    // A second document whose error message would echo the value.
    c.manifest("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad-s3cret-db-value\nspec:\n  containers:\n  - name: m\n    image: x\n");
    let out = c.deploy(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("is invalid"), "{all}");
    assert!(!all.contains("s3cret-db-value"), "{all}");
}

#[test]
fn applies_run_in_parallel_up_to_the_bound() {
    let c = Cluster::new(Faults {
        latency: std::time::Duration::from_millis(60),
        ..Faults::default()
    });
    for i in 0..12 {
        c.manifest(&format!("c{i}.yaml"), &config_map(&format!("c{i}")));
    }
    ok(&c.deploy(&["--parallel", "3"]));
    let applies = c.applies();
    assert_eq!(applies.len(), 12 + 1, "the namespace and every ConfigMap");
    let most = applies
        .iter()
        .map(|(_, s, _)| {
            applies
                .iter()
                .filter(|(_, s2, e2)| s2 <= s && e2 > s)
                .count()
        })
        .max()
        .unwrap();
    assert_eq!(most, 3, "three applies in flight at once, never more");
}

#[test]
fn the_namespace_comes_from_the_flag_then_the_config_file_then_openstack() {
    let c = Cluster::new(Faults::default());
    c.manifest("a.yaml", &config_map("a"));
    let deploy = |extra: &[&str]| {
        c.project
            .cmd()
            .args(["deploy", "--kubeconfig", "kubeconfig"])
            .args(extra)
            .output()
            .unwrap()
    };
    ok(&deploy(&[]));
    assert!(
        c.fake.object("configmaps", "openstack", "a").is_some(),
        "the default is `openstack`, not the kubeconfig's"
    );
    c.project
        .write("kube-openstack.yaml", "namespace: from-config\n");
    ok(&deploy(&[]));
    assert!(c.fake.object("configmaps", "from-config", "a").is_some());
    ok(&deploy(&["-n", "from-flag"]));
    assert!(c.fake.object("configmaps", "from-flag", "a").is_some());
}

#[test]
fn cluster_configuration_problems_name_the_file_or_context_with_a_hint() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    let out = c
        .project
        .cmd()
        .args(["deploy", "--kubeconfig", "missing.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read kubeconfig `missing.yaml`"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: name the cluster with `--kubeconfig FILE`"),
        "{}",
        stderr(&out)
    );
    let out = c.deploy(&["--context", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    let out = c
        .project
        .cmd()
        .args([
            "deploy",
            "--kubeconfig",
            "kubeconfig",
            "--manifests",
            "not-rendered",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rendered tree `not-rendered` not found"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("hint: render the templates first"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_object_made_by_hand_is_adopted_and_reported_as_configured() {
    let c = Cluster::new(Faults::default());
    c.manifest("a.yaml", &config_map("a"));
    c.fake.insert(
        "namespaces",
        "",
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
    );
    c.fake.insert("configmaps", NS, serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"a": "0"}}));
    let out = c.deploy(&[]);
    ok(&out);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("ConfigMap/a") && l.contains(" configured ")),
        "{}",
        stdout(&out)
    );
    let cm = c.fake.object("configmaps", NS, "a").unwrap();
    assert_eq!(cm["data"]["a"], "1");
    assert_eq!(
        cm["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kube-openstack"
    );
}

#[test]
fn credentials_come_from_the_kubeconfig_user_including_exec_plugins() {
    let c = Cluster::new(Faults {
        token: Some("from-the-plugin".into()),
        ..Faults::default()
    });
    c.manifest("a.yaml", &config_map("a"));
    let out = c.deploy(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the kubeconfig's static token is refused"
    );
    assert!(
        stderr(&out).contains("401 Unauthorized")
            && stderr(&out).contains("hint: the kubeconfig user was refused"),
        "{}",
        stderr(&out)
    );
    c.project.write(
        "credential.sh",
        "#!/bin/sh\necho '{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\", \"status\": {\"token\": \"from-the-plugin\"}}'\n",
    );
    std::fs::set_permissions(
        c.project.path("credential.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let kubeconfig = c.project.read("kubeconfig").replace(
        "    token: fake-token\n",
        &format!(
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
            c.project.path("credential.sh").display()
        ),
    );
    c.project.write("kubeconfig", &kubeconfig);
    ok(&c.deploy(&[]));
    assert!(c.fake.object("configmaps", NS, "a").is_some());
}

#[test]
fn tls_is_verified_against_the_kubeconfigs_certificate_authority() {
    let fake = FakeKube::start_tls(Faults::default());
    let c = Cluster {
        fake,
        project: crate::support::Project::new(),
    };
    c.manifest("a.yaml", &config_map("a"));
    c.fake.write_kubeconfig(&c.project.path("kubeconfig"));
    ok(&c.deploy(&[]));
    assert!(c.fake.object("configmaps", NS, "a").is_some());
    // Without the CA the server's certificate is refused: TLS is verified, not just used.
    let without_ca: String = c
        .project
        .read("kubeconfig")
        .lines()
        .filter(|l| !l.contains("certificate-authority-data"))
        .map(|l| format!("{l}\n"))
        .collect();
    c.project.write("kubeconfig", &without_ca);
    let out = c.deploy(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).to_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
}
