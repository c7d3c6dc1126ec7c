//! The controllers of the real-pod cluster behave as Kubernetes' own: a
//! ReplicationController keeps `replicas` real pods (named from its name, owned by it),
//! replaces a deleted one, never replaces pods because its template changed (`deploy`
//! rolls them, as a Deployment's controller would), and counts
//! ready pods from their real probes; a DaemonSet runs one pod on the node and rolls it
//! when its template changes; `teardown` leaves no container behind.

use crate::real_cluster::RealCluster;
use crate::support::cluster::ok;
use crate::support::stderr;
use serde_json::Value;
use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

fn rc(image: &str, replicas: u32, greeting: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: api\nspec:\n  replicas: {replicas}\n  selector:\n    app: api\n  template:\n    metadata:\n      labels:\n        app: api\n    spec:\n      terminationGracePeriodSeconds: 2\n      containers:\n      - name: api\n        image: {image}\n        command: [sh, -c, 'echo \"$GREETING\"; exec sleep 3600']\n        env:\n        - name: GREETING\n          value: {greeting}\n        readinessProbe:\n          exec: {{command: ['true']}}\n          periodSeconds: 1\n"
    )
}

fn names(pods: &[Value]) -> HashSet<String> {
    pods.iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_replication_controller_keeps_its_replicas_and_never_replaces_them_for_a_new_template() {
    let c = RealCluster::new("rc-semantics");
    let image = c.images.busybox.clone();
    c.manifest("api-rc.yaml", &rc(&image, 2, "hello"));
    ok(&c.run("deploy", &["--timeout", "60s"]));
    let first = c.pods_of("api");
    assert_eq!(first.len(), 2);
    for p in &first {
        let name = p["metadata"]["name"].as_str().unwrap();
        assert!(
            name.starts_with("api-") && name.len() == "api-".len() + 5,
            "{name}"
        );
        assert_eq!(p["metadata"]["generateName"], "api-");
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["kind"],
            "ReplicationController"
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(c.log(name, "").1, "hello\n");
    }
    let live = c.object("replicationcontrollers", "api").unwrap();
    assert_eq!(
        (
            &live["status"]["replicas"],
            &live["status"]["readyReplicas"]
        ),
        (&Value::from(2), &Value::from(2))
    );

    // A new template written to the API by another client (`kubectl apply
    // --server-side --force-conflicts`): the controller keeps its pods as they were.
    let mut spec = live["spec"].clone();
    spec["template"]["spec"]["containers"][0]["env"][0]["value"] = "changed".into();
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "api"},
        "spec": spec,
    });
    let url = format!(
        "{}/api/v1/namespaces/test/replicationcontrollers/api?fieldManager=kubectl&force=true",
        c.fake.url()
    );
    let applied = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-X", "PATCH", "--data-binary"])
        .arg(config.to_string())
        .args(["-H", "Content-Type: application/apply-patch+yaml", &url])
        .status()
        .unwrap();
    assert!(applied.success(), "PATCH {url}");
    std::thread::sleep(Duration::from_secs(2));
    let after = c.pods_of("api");
    assert_eq!(names(&after), names(&first), "the same pods");
    for p in &after {
        assert_eq!(
            c.log(p["metadata"]["name"].as_str().unwrap(), "").1,
            "hello\n"
        );
    }

    // `deploy` of that template rolls the pods onto it, which the controller does not.
    c.manifest("api-rc.yaml", &rc(&image, 2, "changed"));
    let out = c.run("deploy", &["--timeout", "60s"]);
    ok(&out);
    assert!(stderr(&out).contains("rolled out 2/2"), "{}", stderr(&out));
    let rolled = c.wait_for("the old pods gone", Duration::from_secs(30), || {
        let pods = c.pods_of("api");
        (pods.len() == 2).then_some(pods)
    });
    assert!(names(&rolled).is_disjoint(&names(&first)), "new pods");
    for p in &rolled {
        assert_eq!(
            c.log(p["metadata"]["name"].as_str().unwrap(), "").1,
            "changed\n"
        );
    }

    // Scaling up makes a pod of the current template; a deleted pod is replaced.
    c.manifest("api-rc.yaml", &rc(&image, 3, "changed"));
    ok(&c.run("deploy", &["--timeout", "60s"]));
    let three = c.pods_of("api");
    assert_eq!(three.len(), 3);
    let new: Vec<&Value> = three
        .iter()
        .filter(|p| !names(&rolled).contains(p["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        c.log(new[0]["metadata"]["name"].as_str().unwrap(), "").1,
        "changed\n"
    );
    let victim = rolled[0]["metadata"]["name"].as_str().unwrap().to_string();
    let url = format!("{}/api/v1/namespaces/test/pods/{victim}", c.fake.url());
    let deleted = Command::new("curl")
        .args(["-sf", "-o", "/dev/null", "-X", "DELETE", &url])
        .status()
        .unwrap();
    assert!(deleted.success());
    let replaced = c.wait_for("a replacement pod", Duration::from_secs(60), || {
        let pods = c.pods_of("api");
        let ready = pods
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter(|p| p["status"]["containerStatuses"][0]["ready"] == true)
            .count();
        (ready == 3 && !names(&pods).contains(&victim)).then_some(pods)
    });
    assert_eq!(replaced.len(), 3);
    assert!(
        c.containers_of(&victim).is_empty(),
        "the deleted pod's container is gone"
    );

    // Scaling down deletes pods and their containers.
    c.manifest("api-rc.yaml", &rc(&image, 1, "changed"));
    ok(&c.run("deploy", &["--timeout", "60s"]));
    c.wait_for("one pod left", Duration::from_secs(60), || {
        (c.pods_of("api").len() == 1).then_some(())
    });
    let api_containers = c
        .containers()
        .into_iter()
        .filter(|k| k["Labels"].get("io.kubernetes.container.name").is_some())
        .count();
    assert_eq!(api_containers, 1, "{:?}", c.containers());

    // Teardown: the controller, its pods, their containers: all gone.
    ok(&c.run("teardown", &["--yes", "--timeout", "60s"]));
    assert!(c.pods_of("api").is_empty());
    assert!(c.object("replicationcontrollers", "api").is_none());
    let left: Vec<Value> = c
        .containers()
        .into_iter()
        .filter(|k| k["Labels"].get("io.kubernetes.container.name").is_some())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_daemon_set_runs_one_pod_on_the_node_and_rolls_it_for_a_new_template() {
    let c = RealCluster::new("daemon-set");
    let ds = |greeting: &str| {
        format!(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n    spec:\n      terminationGracePeriodSeconds: 2\n      hostNetwork: true\n      containers:\n      - name: agent\n        image: {}\n        command: [sh, -c, 'echo {greeting}; exec sleep 3600']\n",
            c.images.busybox
        )
    };
    c.manifest("agent-daemonset.yaml", &ds("one"));
    ok(&c.run("deploy", &["--timeout", "60s"]));
    let pods = c.pods_of("agent");
    assert_eq!(pods.len(), 1, "one node, one pod");
    let first = pods[0]["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(c.log(&first, "").1, "one\n");
    let host_ip = pods[0]["status"]["hostIP"].clone();
    assert_eq!(
        pods[0]["status"]["podIP"], host_ip,
        "host network: the node's address"
    );
    let live = c.object("daemonsets", "agent").unwrap();
    for k in [
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "numberReady",
        "updatedNumberScheduled",
        "numberAvailable",
    ] {
        assert_eq!(live["status"][k], 1, "{k}: {}", live["status"]);
    }

    c.manifest("agent-daemonset.yaml", &ds("two"));
    ok(&c.run("deploy", &["--timeout", "60s"]));
    let pods = c.pods_of("agent");
    let current: Vec<&Value> = pods
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    assert_eq!(current.len(), 1);
    let second = current[0]["metadata"]["name"].as_str().unwrap();
    assert_ne!(second, first, "rolled to a new pod");
    assert_eq!(c.log(second, "").1, "two\n");
}
