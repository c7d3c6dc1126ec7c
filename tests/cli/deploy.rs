//! `deploy` against the fake API server: order, waits, graph errors, idempotence, prune,
//! failures, timeouts, and faults.

use crate::fake_kube::Faults;
use crate::support::cluster::{
    Cluster, NS, config_map, ok, one_shot_pod, rc, secret, service, small_tree,
};
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
    c.manifest("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad-s3cret-db-value\nspec:\n  containers: []\n");
    let out = c.deploy(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("is invalid"), "{all}");
    assert!(!all.contains("s3cret-db-value"), "{all}");
    // A name the tool itself refuses is not echoed either.
    c.manifest("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad-s3cret-db-value\nspec:\n  containers:\n  - name: m\n    image: x\n");
    let out = c.deploy(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("`metadata.name` is not valid"), "{all}");
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
fn no_wait_waits_only_for_what_others_depend_on() {
    let c = Cluster::new(Faults {
        never_ready: vec!["web".into()],
        ..Faults::default()
    });
    small_tree(&c);
    c.manifest("web-rc.yaml", &rc("web", ""));
    let out = c.deploy(&["--no-wait", "--timeout", "5s"]);
    ok(&out);
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ReplicationController/web") && l.contains(" applied ")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ReplicationController/mariadb") && l.contains(" ready ")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Pod/keystone-db-sync") && l.contains(" ready ")),
        "{table}"
    );
}

#[test]
fn a_db_sync_pod_is_rerun_when_the_configuration_it_reads_changes() {
    let c = Cluster::new(Faults::default());
    let pod = |name: &str, secret: &str| {
        one_shot_pod(name, "", &format!("example/{name}:1")).replace(
            "    args: [sync]\n",
            &format!("    args: [sync]\n    envFrom:\n    - secretRef:\n        name: {secret}\n"),
        )
    };
    c.manifest("keystone-secret.yaml", &secret("keystone"))
        .manifest("glance-secret.yaml", &secret("glance"));
    c.manifest(
        "keystone-db-sync.yaml",
        &pod("keystone-db-sync", "keystone"),
    );
    c.manifest("glance-db-sync.yaml", &pod("glance-db-sync", "glance"));
    ok(&c.deploy(&[]));
    c.manifest(
        "keystone-secret.yaml",
        &secret("keystone").replace("s3cret-keystone-value", "rotated-value"),
    );
    let out = c.deploy(&[]);
    ok(&out);
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Secret/keystone") && l.contains(" configured ")),
        "{table}"
    );
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
}
