//! Rollouts of replication controllers and `OnDelete` DaemonSets on the simulated
//! cluster, whose controllers keep their pods when the template changes (as the real ones
//! do): deploy replaces them, one surge pod at a time for a controller (never fewer than
//! `replicas` ready), one pod at a time for a DaemonSet; a changed Secret restarts
//! exactly its readers; a pod that cannot start fails its controller at once.

use crate::fake_kube::Faults;
use crate::support::cluster::{Cluster, NS, ok, secret};
use crate::support::{stderr, stdout};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

fn web(image: &str, replicas: u32, env: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector:\n    app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: main\n        image: {image}\n{env}"
    )
}

/// A DaemonSet `agent` with update strategy `strategy` whose container runs `image`.
fn agent(image: &str, strategy: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  updateStrategy:\n    type: {strategy}\n  selector:\n    matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n    spec:\n      containers:\n      - name: main\n        image: {image}\n"
    )
}

fn reads(secret: &str) -> String {
    format!(
        "        env:\n        - name: PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: {secret}\n              key: password\n"
    )
}

/// The live pods of `owner`, not being deleted: (name, image, ready).
fn pods(c: &Cluster, owner: &str) -> Vec<(String, String, bool)> {
    c.fake
        .objects("pods", NS)
        .into_iter()
        .filter(|p| p.pointer("/metadata/ownerReferences/0/name") == Some(&Value::from(owner)))
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .map(|p| {
            let ready = p
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                });
            let image = p["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                image,
                ready,
            )
        })
        .collect()
}

fn rc_pods(faults: Faults) -> Faults {
    Faults {
        rc_pods: true,
        ..faults
    }
}

/// Deploys `web:1`, waits until its pods are ready, changes the image to `web:2` and
/// deploys again, watching the fewest ready pods. Returns (stderr, seconds, fewest ready).
fn roll(c: &Cluster, replicas: u32) -> (String, f64, i64) {
    c.manifest("web.yaml", &web("example/web:1", replicas, ""));
    ok(&c.deploy(&[]));
    assert_eq!(pods(c, "web").len(), replicas as usize);
    c.manifest("web.yaml", &web("example/web:2", replicas, ""));
    let (done, fewest) = (AtomicBool::new(false), AtomicI64::new(i64::MAX));
    let (out, secs) = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let ready = pods(c, "web").iter().filter(|p| p.2).count() as i64;
                fewest.fetch_min(ready, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let start = Instant::now();
        let out = c.deploy(&[]);
        done.store(true, Ordering::SeqCst);
        (out, start.elapsed().as_secs_f64())
    });
    ok(&out);
    (stderr(&out), secs, fewest.load(Ordering::SeqCst))
}

#[test]
fn deploy_rolls_a_replication_controllers_pods_onto_its_changed_template() {
    let c = Cluster::new(rc_pods(Faults::default()));
    let (err, secs, fewest) = roll(&c, 3);
    eprintln!("rollout of 3 replicas: {secs:.2}s, fewest ready {fewest}");
    assert!(err.contains("rolled out 3/3"), "{err}");
    let live = pods(&c, "web");
    assert_eq!(live.len(), 3, "{live:?}");
    assert!(
        live.iter().all(|p| p.1 == "example/web:2" && p.2),
        "{live:?}"
    );
    assert!(
        fewest >= 3,
        "never fewer ready pods than replicas: {fewest}"
    );
    let again = c.deploy(&[]);
    ok(&again);
    let err = stderr(&again);
    assert!(
        !err.contains("rolled out") && !err.contains("Rolling"),
        "{err}"
    );
    assert_eq!(pods(&c, "web"), live, "a second run changes nothing");
}

#[test]
fn a_rollout_under_server_errors_and_dropped_connections_ends_with_current_pods_only() {
    let c = Cluster::new(rc_pods(Faults {
        error_rate: 0.1,
        drop_after_rate: 0.1,
        ..Faults::default()
    }));
    let (err, _, fewest) = roll(&c, 2);
    assert!(err.contains("rolled out 2/2"), "{err}");
    let live = pods(&c, "web");
    assert_eq!(live.len(), 2, "{live:?}");
    assert!(live.iter().all(|p| p.1 == "example/web:2"), "{live:?}");
    assert!(fewest >= 2, "{fewest}");
}

#[test]
fn deploy_replaces_the_pod_of_an_on_delete_daemon_set_whose_template_changed() {
    let c = Cluster::new(rc_pods(Faults::default()));
    c.manifest("agent.yaml", &agent("example/agent:1", "OnDelete"));
    ok(&c.deploy(&[]));
    let first = pods(&c, "agent");
    assert_eq!(first.len(), 1, "{first:?}");

    c.manifest("agent.yaml", &agent("example/agent:2", "OnDelete"));
    let out = c.deploy(&[]);
    ok(&out);
    let err = stderr(&out);
    assert!(err.contains("rolled out 1/1"), "{err}");
    let live = pods(&c, "agent");
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(
        live[0].1 == "example/agent:2" && live[0].2 && live[0].0 != first[0].0,
        "a new pod of the new template, ready: {live:?}"
    );
    let again = c.deploy(&[]);
    ok(&again);
    assert!(!stderr(&again).contains("rolled out"), "{}", stderr(&again));
    assert_eq!(pods(&c, "agent"), live, "a second run changes nothing");
}

#[test]
fn an_on_delete_daemon_set_rollout_that_was_cut_short_converges_on_the_next_run() {
    let c = Cluster::new(rc_pods(Faults::default()));
    c.manifest("agent.yaml", &agent("example/agent:1", "OnDelete"));
    ok(&c.deploy(&[]));
    // The new pod takes three seconds to be ready: a one-second run stops part way,
    // after the old pod was deleted.
    c.fake
        .set_faults(|f| f.pod_run_time = Duration::from_secs(3));
    c.manifest("agent.yaml", &agent("example/agent:2", "OnDelete"));
    let out = c.deploy(&["--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("DaemonSet/agent"), "{}", stderr(&out));
    c.fake
        .set_faults(|f| f.pod_run_time = Duration::from_millis(200));
    let out = c.deploy(&[]);
    ok(&out);
    let live = pods(&c, "agent");
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(live[0].1 == "example/agent:2" && live[0].2, "{live:?}");
}

#[test]
fn a_rolling_update_daemon_set_is_left_to_its_controller() {
    let c = Cluster::new(rc_pods(Faults::default()));
    c.manifest("agent.yaml", &agent("example/agent:1", "RollingUpdate"));
    ok(&c.deploy(&[]));
    c.manifest("agent.yaml", &agent("example/agent:2", "RollingUpdate"));
    let out = c.deploy(&[]);
    ok(&out);
    assert!(!stderr(&out).contains("rolled out"), "{}", stderr(&out));
    let live = pods(&c, "agent");
    assert!(
        live.len() == 1 && live[0].1 == "example/agent:2" && live[0].2,
        "the controller replaced it: {live:?}"
    );
}

#[test]
fn an_interrupted_rollout_converges_on_the_next_run() {
    let c = Cluster::new(rc_pods(Faults::default()));
    c.manifest("web.yaml", &web("example/web:1", 3, ""));
    ok(&c.deploy(&[]));
    // New pods take a second to be ready: a one-second run stops part way.
    c.fake
        .set_faults(|f| f.pod_run_time = Duration::from_secs(2));
    c.manifest("web.yaml", &web("example/web:2", 3, ""));
    let out = c.deploy(&["--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let mixed = pods(&c, "web");
    assert!(mixed.iter().any(|p| p.1 == "example/web:1"), "{mixed:?}");
    c.fake
        .set_faults(|f| f.pod_run_time = Duration::from_millis(200));
    let out = c.deploy(&[]);
    ok(&out);
    assert!(stderr(&out).contains("rolled out 3/3"), "{}", stderr(&out));
    let live = pods(&c, "web");
    assert_eq!(live.len(), 3, "{live:?}");
    assert!(live.iter().all(|p| p.1 == "example/web:2"), "{live:?}");
}

#[test]
fn a_changed_secret_restarts_exactly_the_workloads_that_read_it() {
    let c = Cluster::new(rc_pods(Faults::default()));
    let other = web("example/other:1", 1, &reads("other")).replace("web", "other");
    c.manifest("s.yaml", &secret("s"))
        .manifest("other-secret.yaml", &secret("other"))
        .manifest("web.yaml", &web("example/web:1", 2, &reads("s")))
        .manifest("other.yaml", &other);
    ok(&c.deploy(&[]));
    let before = pods(&c, "other");
    c.manifest("s.yaml", &secret("s").replace("-value", "-rotated"));
    let out = c.deploy(&[]);
    ok(&out);
    let err = stderr(&out);
    assert!(err.contains("rolled out 2/2"), "the reader rolls: {err}");
    assert_eq!(
        pods(&c, "other"),
        before,
        "the other workload keeps its pods"
    );
}

#[test]
fn a_controller_whose_pods_cannot_pull_their_image_fails_at_once_and_its_dependents_wait() {
    let why = "Back-off pulling image \"example/web:1\": manifest unknown";
    let mut faults = rc_pods(Faults::default());
    faults
        .pod_waiting
        .insert("web".into(), ("ImagePullBackOff".into(), why.into()));
    let c = Cluster::new(faults);
    c.manifest("web.yaml", &web("example/web:1", 2, ""))
        .manifest(
            "api.yaml",
            &crate::support::cluster::rc("api", "ReplicationController/web"),
        );
    let start = Instant::now();
    let out = c.deploy(&[]);
    let secs = start.elapsed().as_secs_f64();
    eprintln!("time to failure of a pod whose image is missing: {secs:.2}s");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("ImagePullBackOff") && err.contains("manifest unknown"),
        "{err}"
    );
    assert!(
        err.contains("not started: ReplicationController/web failed"),
        "{err}"
    );
    assert!(secs < 10.0, "{secs}");
    assert!(c.fake.object("replicationcontrollers", NS, "api").is_none());
}

#[test]
fn diff_live_names_the_workloads_a_changed_secret_restarts_and_no_value() {
    let c = Cluster::new(rc_pods(Faults::default()));
    let p = &c.project;
    let secret = |name: &str, param: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: {{{{{param}}}}}\n"
        )
    };
    p.write("kubernetes-in/db-secret.yaml", &secret("db", "db_password"))
        .write(
            "kubernetes-in/queue-secret.yaml",
            &secret("queue", "queue_password"),
        )
        .write(
            "kubernetes-in/web.yaml",
            &web("example/web:1", 2, &reads("db")),
        )
        .write(
            "kubernetes-in/worker.yaml",
            &web("example/worker:1", 1, &reads("queue")).replace("web", "worker"),
        )
        .write(
            "params.yaml",
            "db_password: first-Pa55word\nqueue_password: queue-Pa55word\n",
        );
    ok(&p.with_params(&["render"]).output().unwrap());
    ok(&c.deploy(&[]));
    let diff_live = || {
        c.project
            .with_params(&["diff", "--live", "--kubeconfig", "kubeconfig", "-n", NS])
            .output()
            .unwrap()
    };
    let out = diff_live();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    p.write(
        "params.yaml",
        "db_password: second-Pa55word\nqueue_password: queue-Pa55word\n",
    );
    let out = diff_live();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let restarts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("restarts "))
        .collect();
    assert_eq!(
        restarts,
        ["restarts ReplicationController/web: `Secret/db` changed"],
        "{text}"
    );
    assert!(!text.contains("Pa55word"), "{text}");
    assert!(
        stderr(&out).contains("1 workloads restart"),
        "{}",
        stderr(&out)
    );
}
