//! The fake API server follows the conventions the deploy engine relies on, as the real
//! kube-apiserver documents them: if the fake drifted, the deploy tests would prove
//! nothing.

use crate::fake_kube::{FakeKube, Faults};
use serde_json::{Value, json};
use std::time::Duration;

struct Http {
    base: String,
    client: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Http {
    fn new(fake: &FakeKube) -> Http {
        kube_openstack::rt::install_crypto_provider();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Http {
            base: fake.url(),
            client: reqwest::Client::new(),
            rt,
        }
    }

    fn send(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        self.rt.block_on(async {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let resp = self
                .client
                .request(method, format!("{}{path}", self.base))
                .header("content-type", content_type)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let code = resp.status().as_u16();
            (code, resp.json().await.unwrap_or(Value::Null))
        })
    }

    fn apply(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            "PATCH",
            path,
            "application/apply-patch+yaml",
            &body.to_string(),
        )
    }
}

const CM: &str = "/api/v1/namespaces/default/configmaps/settings";

fn settings(workers: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"workers": workers}})
}

#[test]
fn apply_needs_a_field_manager_and_sets_server_metadata_once() {
    let fake = FakeKube::start(Faults::default());
    let http = Http::new(&fake);
    let (code, status) = http.apply(CM, &settings("4"));
    assert_eq!(code, 422);
    assert_eq!(
        (status["kind"].as_str(), status["status"].as_str()),
        (Some("Status"), Some("Failure"))
    );
    assert_eq!(status["details"]["causes"][0]["field"], "fieldManager");

    let (code, created) = http.apply(&format!("{CM}?fieldManager=a"), &settings("4"));
    assert_eq!(code, 201, "an apply that creates answers 201");
    let meta = &created["metadata"];
    assert!(
        meta["uid"].is_string()
            && meta["creationTimestamp"].is_string()
            && meta["resourceVersion"].is_string()
    );
    assert_eq!(meta["generation"], 1);
    assert_eq!(meta["managedFields"][0]["manager"], "a");

    let (code, same) = http.apply(&format!("{CM}?fieldManager=a"), &settings("4"));
    assert_eq!(code, 200);
    assert_eq!(
        same["metadata"]["resourceVersion"], meta["resourceVersion"],
        "an unchanged apply writes nothing"
    );
    let (_, changed) = http.apply(&format!("{CM}?fieldManager=a"), &settings("8"));
    assert_ne!(
        changed["metadata"]["resourceVersion"],
        meta["resourceVersion"]
    );
    assert_eq!(changed["metadata"]["uid"], meta["uid"]);
}

#[test]
fn another_managers_field_conflicts_unless_forced() {
    let fake = FakeKube::start(Faults::default());
    let http = Http::new(&fake);
    http.apply(&format!("{CM}?fieldManager=a"), &settings("4"));
    let (code, status) = http.apply(&format!("{CM}?fieldManager=b"), &settings("8"));
    assert_eq!(code, 409);
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(status["details"]["causes"][0]["field"], ".data.workers");
    let (code, forced) = http.apply(&format!("{CM}?fieldManager=b&force=true"), &settings("8"));
    assert_eq!(code, 200);
    assert_eq!(forced["data"]["workers"], "8");
}

#[test]
fn dry_run_writes_nothing_and_errors_are_status_objects() {
    let fake = FakeKube::start(Faults::default());
    let http = Http::new(&fake);
    let (code, _) = http.apply(&format!("{CM}?fieldManager=a&dryRun=All"), &settings("4"));
    assert_eq!(code, 201);
    let (code, status) = http.send("GET", CM, "application/json", "");
    assert_eq!(code, 404);
    assert_eq!(status["reason"], "NotFound");
    assert_eq!(status["details"]["kind"], "configmaps");
    assert_eq!(status["message"], "configmaps \"settings\" not found");
    let (code, status) = http.apply(
        "/api/v1/namespaces/nowhere/configmaps/settings?fieldManager=a",
        &settings("4"),
    );
    assert_eq!(
        (code, status["message"].as_str()),
        (404, Some("namespaces \"nowhere\" not found"))
    );
}

#[test]
fn pods_are_deleted_gracefully_and_discovery_lists_their_log() {
    let fake = FakeKube::start(Faults {
        deletion_delay: Duration::from_millis(300),
        ..Faults::default()
    });
    let http = Http::new(&fake);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}});
    let path = "/api/v1/namespaces/default/pods/p";
    assert_eq!(http.apply(&format!("{path}?fieldManager=a"), &pod).0, 201);
    let (code, deleting) = http.send("DELETE", path, "application/json", "{}");
    assert_eq!(code, 200);
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        http.send("GET", path, "application/json", "").0,
        200,
        "it lingers while terminating"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        http.send("GET", path, "application/json", "").0,
        404,
        "then it is gone"
    );
    let (_, v1) = http.send("GET", "/api/v1", "application/json", "");
    let names: Vec<&str> = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"pods/log") && names.contains(&"replicationcontrollers"));
    let (_, apps) = http.send("GET", "/apis/apps/v1", "application/json", "");
    assert_eq!(apps["resources"][0]["kind"], "Deployment");
}

const DS: &str = "/apis/apps/v1/namespaces/default/daemonsets/node-agent";

fn daemon_set(selector: Value, labels: Value, port: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "node-agent"},
        "spec": {"selector": selector, "template": {"metadata": {"labels": labels},
            "spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "agent:1", "ports": [port]}]}}}})
}

#[test]
fn daemon_sets_are_validated_defaulted_and_report_a_pod_per_node() {
    let fake = FakeKube::start(Faults {
        ready_delay: Duration::from_millis(100),
        ..Faults::default()
    });
    let http = Http::new(&fake);
    let (_, apps) = http.send("GET", "/apis/apps/v1", "application/json", "");
    let ds = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "daemonsets")
        .expect("discovery lists daemonsets");
    assert_eq!(
        (&ds["kind"], &ds["namespaced"]),
        (&json!("DaemonSet"), &json!(true))
    );
    assert!(
        apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "daemonsets/status")
    );

    let url = format!("{DS}?fieldManager=t");
    let port = json!({"containerPort": 4999, "hostPort": 4999});
    let mut no_selector = daemon_set(Value::Null, json!({"app": "a"}), port.clone());
    no_selector["spec"]
        .as_object_mut()
        .unwrap()
        .remove("selector");
    let (code, status) = http.apply(&url, &no_selector);
    assert_eq!(code, 422, "apps/v1 requires a selector: {status}");
    assert_eq!(status["details"]["causes"][0]["field"], "spec.selector");
    let (code, status) = http.apply(
        &url,
        &daemon_set(
            json!({"matchLabels": {"app": "b"}}),
            json!({"app": "a"}),
            port.clone(),
        ),
    );
    assert_eq!(code, 422);
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.template.metadata.labels"
    );
    let (code, status) = http.apply(
        &url,
        &daemon_set(
            json!({"matchLabels": {"app": "a"}}),
            json!({"app": "a"}),
            json!({"containerPort": 5000, "hostPort": 4999}),
        ),
    );
    assert_eq!(code, 422, "on the host network, hostPort is containerPort");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.template.spec.containers[0].ports[0].containerPort"
    );

    let good = daemon_set(
        json!({"matchLabels": {"app": "a"}}),
        json!({"app": "a"}),
        port,
    );
    let (code, created) = http.apply(&url, &good);
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"]["updateStrategy"]["type"], "RollingUpdate");
    assert_eq!(
        created["spec"]["template"]["spec"]["restartPolicy"],
        "Always"
    );
    assert!(created["status"].get("observedGeneration").is_none());
    std::thread::sleep(Duration::from_millis(400));
    let (_, live) = http.send("GET", DS, "application/json", "");
    let status = &live["status"];
    assert_eq!(status["observedGeneration"], 1);
    let want = &status["desiredNumberScheduled"];
    assert!(want.as_i64().unwrap() > 0);
    for field in [
        "currentNumberScheduled",
        "updatedNumberScheduled",
        "numberReady",
        "numberAvailable",
    ] {
        assert_eq!(&status[field], want, "{field}");
    }

    let (code, status) = http.apply(
        &url,
        &daemon_set(
            json!({"matchLabels": {"app": "a", "v": "2"}}),
            json!({"app": "a", "v": "2"}),
            json!({"containerPort": 4999}),
        ),
    );
    assert_eq!(code, 422, "the selector is immutable");
    assert_eq!(status["details"]["causes"][0]["field"], "spec.selector");
}

#[test]
fn a_never_ready_daemon_set_runs_its_pods_but_none_is_ready() {
    let fake = FakeKube::start(Faults {
        ready_delay: Duration::from_millis(50),
        never_ready: vec!["node-agent".into()],
        ..Faults::default()
    });
    let http = Http::new(&fake);
    let good = daemon_set(
        json!({"matchLabels": {"app": "a"}}),
        json!({"app": "a"}),
        json!({"containerPort": 4999}),
    );
    assert_eq!(http.apply(&format!("{DS}?fieldManager=t"), &good).0, 201);
    std::thread::sleep(Duration::from_millis(300));
    let (_, live) = http.send("GET", DS, "application/json", "");
    let status = &live["status"];
    assert_eq!(status["observedGeneration"], 1);
    assert!(status["desiredNumberScheduled"].as_i64().unwrap() > 0);
    assert_eq!(
        status["updatedNumberScheduled"],
        status["desiredNumberScheduled"]
    );
    assert_eq!(
        (&status["numberReady"], &status["numberAvailable"]),
        (&json!(0), &json!(0))
    );
}
