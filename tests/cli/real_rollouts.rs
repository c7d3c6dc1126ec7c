//! Changes reaching running pods on the real-pod cluster: `deploy` rolls a replication
//! controller's real pods onto its changed template without ever leaving it short of
//! ready pods, and the pod of an `OnDelete` DaemonSet; a changed Secret value restarts
//! exactly the workloads that read it, and a workload whose pod can never start (its
//! image missing, its command crashing) fails in seconds with the reason and what the
//! pod said.

use crate::real_cluster::RealCluster;
use crate::support::cluster::ok;
use crate::support::stderr;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// A replication controller `name` whose pods print `greeting` then sleep, ready once
/// their exec probe passes; `extra` goes at the end of the container (env, mounts) and
/// `pod_extra` at the end of the pod spec (volumes).
fn rc(name: &str, replicas: u32, image: &str, greeting: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      terminationGracePeriodSeconds: 2\n      automountServiceAccountToken: false\n      containers:\n      - name: main\n        image: {image}\n        command: [sh, -c, 'echo {greeting}; exec sleep 3600']\n        readinessProbe:\n          exec: {{command: ['true']}}\n          periodSeconds: 1\n{extra}"
    )
}

fn secret(name: &str, password: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: {password}\n"
    )
}

fn is_ready(p: &Value) -> bool {
    p["metadata"]["deletionTimestamp"].is_null()
        && p["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// The pods of `owner` not being deleted: name -> uid.
fn live(c: &RealCluster, owner: &str) -> BTreeMap<String, String> {
    c.pods_of(owner)
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            let s = |k: &str| p["metadata"][k].as_str().unwrap_or_default().to_string();
            (s("name"), s("uid"))
        })
        .collect()
}

/// Runs `deploy` while sampling how many of `owner`'s pods are ready (every 50 ms):
/// (its output, wall seconds, the fewest ready pods seen).
pub fn deploy_sampling(
    c: &RealCluster,
    owner: &str,
    args: &[&str],
) -> (std::process::Output, f64, i64) {
    let (done, fewest) = (AtomicBool::new(false), AtomicI64::new(i64::MAX));
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let ready = c.pods_of(owner).iter().filter(|p| is_ready(p)).count() as i64;
                fewest.fetch_min(ready, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let start = Instant::now();
        let out = c.run("deploy", args);
        let secs = start.elapsed().as_secs_f64();
        done.store(true, Ordering::SeqCst);
        (out, secs, fewest.load(Ordering::SeqCst))
    })
}

#[test]
fn deploy_replaces_a_replication_controllers_real_pods_with_new_template_pods_keeping_two_ready() {
    let c = RealCluster::new("rc-rollout");
    let image = c.images.busybox.clone();
    c.manifest("api-rc.yaml", &rc("api", 3, &image, "one", ""));
    ok(&c.run("deploy", &["--timeout", "120s"]));
    let first = live(&c, "api");
    assert_eq!(first.len(), 3, "{}", c.explain());

    c.manifest("api-rc.yaml", &rc("api", 3, &image, "two", ""));
    let (out, secs, fewest) = deploy_sampling(&c, "api", &["--timeout", "180s"]);
    ok(&out);
    let err = stderr(&out);
    eprintln!("real rollout of 3 replicas: {secs:.1}s, fewest ready pods {fewest}");
    assert!(err.contains("rolled out 3/3"), "{err}");
    assert!(
        fewest >= 2,
        "the ready pods never dropped below 2: {fewest}"
    );

    // Old pods and their containers gone; three pods of the new template, all ready.
    let now = c.wait_for("the old pods gone", Duration::from_secs(30), || {
        let all = c.pods_of("api");
        let old = all
            .iter()
            .any(|p| first.contains_key(p["metadata"]["name"].as_str().unwrap_or("")));
        (!old && all.len() == 3).then_some(all)
    });
    let hash = c.object("replicationcontrollers", "api").unwrap()["spec"]["template"]
        ["metadata"]["annotations"]["kube-openstack/template-hash"]
        .clone();
    for p in &now {
        let name = p["metadata"]["name"].as_str().unwrap();
        assert!(is_ready(p), "{name}: {}", c.explain());
        assert_eq!(
            p["metadata"]["annotations"]["kube-openstack/template-hash"],
            hash
        );
        assert_eq!(c.log(name, "").1, "two\n", "{name} runs the new template");
    }
    for old in first.keys() {
        assert!(c.containers_of(old).is_empty(), "{old}'s container is gone");
    }

    // Nothing left to roll: the same pods stay.
    let again = c.run("deploy", &["--timeout", "60s"]);
    ok(&again);
    assert!(!stderr(&again).contains("rolled out"), "{}", stderr(&again));
    assert_eq!(live(&c, "api").len(), 3);
    assert_eq!(
        live(&c, "api").keys().collect::<Vec<_>>(),
        now.iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
}

/// A DaemonSet `name` with the `OnDelete` update strategy whose pod prints `greeting`.
fn on_delete_daemon_set(name: &str, image: &str, greeting: &str) -> String {
    rc(name, 1, image, greeting, "")
        .replace(
            "apiVersion: v1\nkind: ReplicationController",
            "apiVersion: apps/v1\nkind: DaemonSet",
        )
        .replace("  replicas: 1\n", "  updateStrategy:\n    type: OnDelete\n")
        .replace(
            "  selector:\n    app:",
            "  selector:\n    matchLabels:\n      app:",
        )
}

#[test]
fn deploy_replaces_the_real_pod_of_an_on_delete_daemon_set_whose_template_changed() {
    let c = RealCluster::new("ds-on-delete");
    let image = c.images.busybox.clone();
    c.manifest(
        "agent-ds.yaml",
        &on_delete_daemon_set("agent", &image, "one"),
    );
    ok(&c.run("deploy", &["--timeout", "120s"]));
    let first = live(&c, "agent");
    assert_eq!(first.len(), 1, "{}", c.explain());

    c.manifest(
        "agent-ds.yaml",
        &on_delete_daemon_set("agent", &image, "two"),
    );
    let out = c.run("deploy", &["--timeout", "120s"]);
    ok(&out);
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.contains("DaemonSet/agent") && l.contains("rolled out 1/1")),
        "{err}"
    );
    let now = live(&c, "agent");
    assert_eq!(now.len(), 1, "{}", c.explain());
    let (name, _) = now.iter().next().unwrap();
    assert!(!first.contains_key(name), "a new pod: {first:?} -> {now:?}");
    assert!(is_ready(&c.pod(name)), "{}", c.explain());
    assert_eq!(c.log(name, "").1, "two\n", "{name} runs the new template");
    // The old pod ends within its grace period (deploy does not wait for that).
    c.wait_for(
        "the old pod's container gone",
        Duration::from_secs(30),
        || {
            first
                .keys()
                .all(|old| c.containers_of(old).is_empty())
                .then_some(())
        },
    );
    let again = c.run("deploy", &["--timeout", "60s"]);
    ok(&again);
    assert!(!stderr(&again).contains("rolled out"), "{}", stderr(&again));
    assert_eq!(live(&c, "agent"), now, "a second run changes nothing");
}

#[test]
fn a_changed_secret_value_restarts_exactly_the_real_workloads_that_read_it() {
    let c = RealCluster::new("secret-readers");
    let image = c.images.busybox.clone();
    let env = "        env:\n        - name: PASSWORD\n          valueFrom:\n            secretKeyRef: {name: db, key: password}\n";
    let mount = "        volumeMounts:\n        - {name: db, mountPath: /etc/db}\n      volumes:\n      - name: db\n        secret: {secretName: db}\n";
    let other = "        env:\n        - name: PASSWORD\n          valueFrom:\n            secretKeyRef: {name: queue, key: password}\n";
    c.manifest("db-secret.yaml", &secret("db", "first-db-pw"))
        .manifest("queue-secret.yaml", &secret("queue", "first-queue-pw"))
        .manifest("reader-rc.yaml", &rc("reader", 2, &image, "reader", env))
        .manifest(
            "mounter-rc.yaml",
            &rc("mounter", 1, &image, "mounter", mount),
        )
        .manifest(
            "bystander-rc.yaml",
            &rc("bystander", 1, &image, "bystander", other),
        )
        .manifest("plain-rc.yaml", &rc("plain", 1, &image, "plain", ""));
    ok(&c.run("deploy", &["--timeout", "120s"]));
    let before: BTreeMap<&str, _> = ["reader", "mounter", "bystander", "plain"]
        .into_iter()
        .map(|w| (w, live(&c, w)))
        .collect();

    c.manifest("db-secret.yaml", &secret("db", "rotated-db-pw"));
    let out = c.run("deploy", &["--timeout", "180s"]);
    ok(&out);
    let err = stderr(&out);
    for (reader, n) in [("reader", 2), ("mounter", 1)] {
        let line = format!("ReplicationController/{reader}");
        assert!(
            err.lines()
                .any(|l| l.contains(&line) && l.contains(&format!("rolled out {n}/{n}"))),
            "{reader} rolls: {err}"
        );
        let after = live(&c, reader);
        assert_eq!(after.len(), n);
        assert!(
            after.keys().all(|k| !before[reader].contains_key(k)),
            "{reader}: every pod replaced: {:?} -> {after:?}",
            before[reader]
        );
    }
    for bystander in ["bystander", "plain"] {
        assert!(
            !err.lines().any(
                |l| l.contains(&format!("ReplicationController/{bystander}"))
                    && l.contains("rolled out")
            ),
            "{err}"
        );
        assert_eq!(
            live(&c, bystander),
            before[bystander],
            "{bystander} keeps its pods (names and uids)"
        );
    }
    // The new pods read the new value.
    let mounter = live(&c, "mounter").into_keys().next().unwrap();
    let seen = c.wait_for("the mounted secret", Duration::from_secs(30), || {
        let out = c.exec(&mounter, &[], &["cat", "/etc/db/password"])?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert_eq!(seen, "rotated-db-pw");
}

#[test]
fn a_real_workload_whose_image_is_missing_or_whose_command_crashes_fails_within_30_seconds() {
    let c = RealCluster::new("doomed-workloads");
    let missing = format!("{}/kube-openstack-tests/missing:1", c.images.registry);
    c.manifest("ghost-rc.yaml", &rc("ghost", 1, &missing, "never", ""));
    let start = Instant::now();
    let out = c.run("deploy", &["--timeout", "300s"]);
    let image_secs = start.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("ReplicationController/ghost")
            && err.contains("cannot pull its image")
            && err.contains(&missing)
            && err.contains("manifest unknown"),
        "the pull error: {err}"
    );

    let crash = "echo starting worker; echo 'fatal: cannot read /etc/worker.conf' >&2; exit 3";
    let crasher = rc("crasher", 1, &c.images.busybox, "", "")
        .replace("'echo ; exec sleep 3600'", &format!("\"{crash}\""));
    c.manifest("crasher-rc.yaml", &crasher);
    std::fs::remove_file(c.project.path("kubernetes/ghost-rc.yaml")).unwrap();
    let start = Instant::now();
    let out = c.run("deploy", &["--timeout", "300s"]);
    let crash_secs = start.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    eprintln!(
        "time to failure on real pods: missing image {image_secs:.1}s, crashing command {crash_secs:.1}s"
    );
    assert!(
        err.contains("ReplicationController/crasher") && err.contains("keeps failing"),
        "the reason: {err}"
    );
    assert!(
        err.contains("fatal: cannot read /etc/worker.conf") && err.contains("starting worker"),
        "the last log lines: {err}"
    );
    assert!(
        image_secs < 30.0,
        "missing image reported in {image_secs:.1}s"
    );
    assert!(crash_secs < 30.0, "crash reported in {crash_secs:.1}s");
}
