//! Probes and restarts on the real-pod cluster: readiness decides `Ready` (and so what
//! `deploy` waits for), liveness restarts a container, a one-shot pod that keeps failing
//! goes into `CrashLoopBackOff` with the kubelet's back-off and `deploy` reports it with
//! the failed run's log.

use crate::real_cluster::{RealCluster, container_status, pod, waiting_reason};
use crate::support::{stderr, stdout};
use serde_json::Value;
use std::time::Duration;

fn rc(name: &str, image: &str, container: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      terminationGracePeriodSeconds: 2\n      automountServiceAccountToken: false\n      containers:\n      - name: main\n        image: {image}\n{container}"
    )
}

#[test]
fn a_readiness_probe_that_never_answers_keeps_the_pod_not_ready() {
    let c = RealCluster::new("readiness-never");
    // Listens on 8080; the probe asks 9090, where nothing answers.
    let container = "        command: [sh, -c, 'mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www']\n        ports:\n        - {name: http, containerPort: 8080}\n        readinessProbe:\n          tcpSocket: {port: 9090}\n          periodSeconds: 1\n";
    c.manifest("stuck-rc.yaml", &rc("stuck", &c.images.busybox, container));
    let out = c.run("deploy", &["--timeout", "10s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0/1 pods of the current template ready"),
        "{}",
        stderr(&out)
    );
    // On a loaded machine the container may still be starting when the 10 s are up: what
    // matters is that it runs and is never Ready.
    let p = c.wait_for("the pod running", Duration::from_secs(120), || {
        let pods = c.pods_of("stuck");
        assert_eq!(pods.len(), 1, "{pods:?}");
        (pods[0]["status"]["phase"] == "Running").then(|| pods[0].clone())
    });
    assert_eq!(container_status(&p)["ready"], false);
    assert!(container_status(&p)["state"]["running"].is_object());
    c.wait_for("the Unhealthy event", Duration::from_secs(60), || {
        let events = c.events(&p);
        events
            .iter()
            .any(|(t, r, m)| {
                t == "Warning"
                    && r == "Unhealthy"
                    && m.starts_with("Readiness probe failed: dial tcp")
                    && m.contains(":9090")
            })
            .then_some(events)
    });
    assert_eq!(
        container_status(&c.pods_of("stuck")[0])["ready"],
        false,
        "never Ready"
    );
    let out = c.run("status", &[]);
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("ReplicationController/stuck"))
        .unwrap()
        .to_string();
    assert!(line.contains("0/1 replicas ready"), "{line}");
    let rc = c.object("replicationcontrollers", "stuck").unwrap();
    assert_eq!(rc["status"]["replicas"], 1);
    assert!(rc["status"].get("readyReplicas").is_none(), "{rc}");
}

#[test]
fn a_pod_is_ready_once_its_probe_answers_and_restarted_when_its_liveness_probe_fails() {
    let c = RealCluster::new("probes-answer");
    let ctl = tempfile::tempdir().unwrap();
    // Ready 2 s after start (exec probe); healthy (HTTP liveness probe on /alive) until
    // the test creates `kill` in the shared directory: then /alive goes away, the probe
    // fails twice, and the container is killed and started again.
    let container = format!(
        "        command: [sh, -c]\n        args:\n        - |\n          mkdir -p /www /tmp && echo ok > /www/alive\n          (sleep 2; touch /tmp/ready) &\n          (while [ ! -e /ctl/kill ]; do sleep 0.2; done; rm /ctl/kill /www/alive) &\n          exec httpd -f -p 8080 -h /www\n        readinessProbe:\n          exec:\n            command: [cat, /tmp/ready]\n          periodSeconds: 1\n        livenessProbe:\n          httpGet: {{path: /alive, port: 8080}}\n          periodSeconds: 1\n          failureThreshold: 2\n        volumeMounts:\n        - {{name: ctl, mountPath: /ctl}}\n      volumes:\n      - name: ctl\n        hostPath: {{path: \"{}\"}}\n",
        ctl.path().display()
    );
    c.manifest("web-rc.yaml", &rc("web", &c.images.busybox, &container));
    let out = c.run("deploy", &["--timeout", "60s"]);
    assert!(out.status.success(), "{}\n{}", stderr(&out), c.explain());
    let ready = &c.pods_of("web")[0];
    assert_eq!(container_status(ready)["ready"], true);
    assert_eq!(container_status(ready)["restartCount"], 0);
    let events = c.events(ready);
    assert!(
        events
            .iter()
            .any(|(_, r, m)| r == "Unhealthy" && m.contains("Readiness probe failed")),
        "not ready before /tmp/ready existed: {events:?}"
    );
    let name = ready["metadata"]["name"].as_str().unwrap().to_string();

    std::fs::write(ctl.path().join("kill"), "").unwrap();
    let restarted = c.wait_for("a restart by liveness", Duration::from_secs(40), || {
        let p = c.object("pods", &name)?;
        (container_status(&p)["restartCount"].as_i64()? >= 1).then_some(p)
    });
    let last = &container_status(&restarted)["lastState"]["terminated"];
    assert!(
        last["message"]
            .as_str()
            .is_some_and(|m| m.contains("liveness")),
        "{last}"
    );
    let events = c.events(&restarted);
    assert!(
        events
            .iter()
            .any(|(_, r, m)| r == "Killing" && m.contains("failed liveness probe")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(_, r, m)| r == "Unhealthy"
            && m.contains("Liveness probe failed: HTTP probe failed with statuscode: 404")),
        "{events:?}"
    );
    // Started again: ready again once its readiness probe passes.
    c.wait_for("ready again", Duration::from_secs(40), || {
        let p = c.object("pods", &name)?;
        (container_status(&p)["ready"] == true).then_some(())
    });
}

#[test]
fn a_one_shot_pod_that_keeps_failing_is_in_crash_loop_back_off_and_deploy_says_so() {
    let c = RealCluster::quick("crash-loop");
    let container = "    command: [sh, -c, 'echo attempt at $(date +%s); echo \"cannot reach rabbitmq\" >&2; exit 2']\n";
    c.manifest(
        "nova-db-sync-pod.yaml",
        &pod(
            "nova-db-sync",
            &c.images.busybox,
            "OnFailure",
            container,
            "",
        ),
    );
    let out = c.run("deploy", &["--timeout", "90s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("keeps failing: restarted 3 times, last exit code 2"),
        "{err}"
    );
    assert!(
        err.contains("nova-db-sync | cannot reach rabbitmq"),
        "the failed run's log: {err}"
    );
    // Backing off between runs (it may be running again when deploy has returned).
    let live = c.wait_for("CrashLoopBackOff", Duration::from_secs(30), || {
        let live = c.pod("nova-db-sync");
        (waiting_reason(&live).as_deref() == Some("CrashLoopBackOff")).then_some(live)
    });
    assert_eq!(
        live["status"]["phase"], "Running",
        "OnFailure: never Failed"
    );
    let s = container_status(&live);
    assert!(s["restartCount"].as_i64().unwrap() >= 3, "{s}");
    assert_eq!(s["lastState"]["terminated"]["exitCode"], 2);
    assert!(
        s["state"]["waiting"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("back-off ") && m.contains("container=main")),
        "{s}"
    );
    let (code, previous) = c.log("nova-db-sync", "previous=true");
    assert_eq!(code, 200);
    assert!(previous.contains("cannot reach rabbitmq"), "{previous}");
    // Every run is a container of its own; the node keeps the last two (one may be
    // running again by now).
    let kept = c.containers_of("nova-db-sync");
    let exited: Vec<&Value> = kept.iter().filter(|k| k["State"] == "exited").collect();
    assert!(
        kept.len() <= 2 && !exited.is_empty() && exited.iter().all(|k| k["ExitCode"] == 2),
        "{kept:?}"
    );
    let backoffs: Vec<Value> = c
        .events(&live)
        .into_iter()
        .filter(|(_, r, _)| r == "BackOff")
        .map(|e| Value::from(e.2))
        .collect();
    assert!(!backoffs.is_empty());
}

#[test]
fn probes_and_host_network_pods_use_the_nodes_network_not_the_machines() {
    let c = RealCluster::new("node-network");
    // The machine's loopback has the registry on 4999; the node's does not, until a
    // host-network pod listens there (without colliding with the machine's).
    let registry_port = c
        .images
        .registry
        .rsplit_once(':')
        .map_or("4999", |(_, p)| p)
        .to_string();
    let waits = pod(
        "waits-for-node-port",
        &c.images.busybox,
        "Always",
        &format!(
            "    command: [sleep, '3600']\n    readinessProbe:\n      tcpSocket: {{host: 127.0.0.1, port: {registry_port}}}\n      periodSeconds: 1\n"
        ),
        "",
    );
    c.manifest("waits-pod.yaml", &waits);
    let out = c.run("deploy", &["--timeout", "8s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // On a loaded machine the container may still be starting when the 8 s are up: once
    // it runs, a deploy that waits for it says it runs and is not ready.
    c.wait_for("the pod running", Duration::from_secs(120), || {
        (c.pod("waits-for-node-port")["status"]["phase"] == "Running").then_some(())
    });
    let out = c.run("deploy", &["--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("running, not ready"),
        "the machine's registry is not on the node's loopback: {}",
        stderr(&out)
    );

    let listener = pod(
        "node-listener",
        &c.images.busybox,
        "Always",
        &format!(
            "    command: [sh, -c, 'mkdir -p /www && echo node > /www/index.html && exec httpd -f -p 127.0.0.1:{registry_port} -h /www']\n"
        ),
        "  hostNetwork: true\n",
    );
    c.manifest("listener-pod.yaml", &listener);
    let out = c.run("deploy", &["--timeout", "60s"]);
    assert!(out.status.success(), "{}\n{}", stderr(&out), c.explain());
    let node_pod = c.pod("node-listener");
    assert_eq!(node_pod["status"]["podIP"], node_pod["status"]["hostIP"]);
    assert_eq!(
        container_status(&c.pod("waits-for-node-port"))["ready"],
        true,
        "{}",
        c.explain()
    );
}
