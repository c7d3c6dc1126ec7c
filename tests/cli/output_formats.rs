//! `-o json|yaml` on every command that prints a table or a result: what a script reads,
//! checked with real parsers (serde_json, serde_yaml). `stack show` and `params refresh`
//! are in `heat.rs`, `version` in `about.rs`.

use crate::fake_kube::Faults;
use crate::support::cluster::{Cluster, ok, small_tree};
use crate::support::{Project, SERVICE, failure, stderr, stdout};
use serde_json::Value as Json;

fn yaml(out: &std::process::Output) -> Json {
    serde_yaml::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("not YAML: {e}\n{}\n{}", stdout(out), stderr(out)))
}

fn json(out: &std::process::Output) -> Json {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("not JSON: {e}\n{}\n{}", stdout(out), stderr(out)))
}

fn objects_of(rows: &Json, key: &str) -> Vec<String> {
    rows.as_array()
        .unwrap_or_else(|| panic!("a list: {rows}"))
        .iter()
        .map(|r| r[key].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn status_db_sync_clean_jobs_and_teardown_print_yaml_and_json() {
    let c = Cluster::new(Faults::default());
    small_tree(&c);
    ok(&c.deploy(&[]));

    let out = c.run("status", &["-o", "yaml"]);
    ok(&out);
    let rows = yaml(&out);
    let objects = objects_of(&rows, "object");
    assert!(
        objects.contains(&"Pod/keystone-db-sync".to_string()),
        "{rows}"
    );
    assert!(
        rows.as_array().unwrap().iter().all(|r| r["ready"] == "yes"),
        "{rows}"
    );
    // The same rows as JSON (the ages may have moved on by a second).
    let again = json(&c.run("status", &["-o", "json"]));
    assert_eq!(objects_of(&again, "object"), objects);
    assert!(
        again[0]["age"].is_string() && again[0]["detail"].is_string(),
        "{again}"
    );

    let out = c.run("db-sync", &["keystone", "-o", "json"]);
    ok(&out);
    let pods = json(&out);
    assert_eq!(objects_of(&pods, "pod"), ["Pod/keystone-db-sync"]);
    assert_eq!(pods[0]["state"], "ready");
    // The pod's log still goes to stderr, not into the data.
    assert!(!stdout(&out).contains("POD"), "{}", stdout(&out));

    let out = c.run("clean-jobs", &["--dry-run", "-o", "yaml"]);
    ok(&out);
    let cleaned = yaml(&out);
    assert_eq!(cleaned["dry_run"], true);
    assert_eq!(cleaned["deleted"][0], "Pod/keystone-db-sync");

    let out = c.run("teardown", &["--yes", "-o", "json"]);
    ok(&out);
    let gone = json(&out);
    assert_eq!(gone["namespace"], "test");
    let deleted = gone["deleted"].as_array().unwrap();
    assert_eq!(deleted.len(), objects.len(), "{gone}");
    assert!(c.fake.objects("pods", "test").is_empty());
}

#[test]
fn up_prints_its_steps_as_yaml() {
    let p = Project::new();
    p.write("params.yaml", "name: web\n")
        .write("kubernetes-in/web-service.yaml", SERVICE)
        .write("docker/web/Dockerfile", "FROM scratch\n");
    let out = p
        .with_params(&["up", "--dry-run=client", "-o", "yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let steps = yaml(&out);
    assert_eq!(
        objects_of(&steps, "step"),
        [
            "params",
            "render",
            "registry",
            "images",
            "deploy",
            "db-sync",
            "clean-jobs",
            "verify"
        ]
    );
    assert_eq!(steps[4]["result"], "would run");
    assert!(steps[4]["seconds"].is_f64(), "{steps}");
    assert!(steps[6]["seconds"].is_null(), "{steps}");
}

#[test]
fn a_failed_up_still_prints_its_steps_as_json() {
    let p = Project::new();
    p.write("params.yaml", "name: web\n")
        .write("kubernetes-in/web-service.yaml", SERVICE);
    let out = p.with_params(&["up", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let steps = json(&out);
    let images = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "images")
        .unwrap();
    assert_eq!(images["result"], "failed");
}

/// The tree's `openstack-client` pod: the image and admin credentials `verify` runs with.
const CLIENT_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: openstack-client\nspec:\n  containers:\n  - name: client\n    image: example/openstack-client:1\n    env:\n    - name: OS_USERNAME\n      value: admin\n    - name: OS_PASSWORD\n      valueFrom:\n        secretKeyRef: {name: keystone, key: password}\n";

/// What the verify pod's script prints: a JSON line per check, here one broken whose
/// detail carries the Secret's value (as an error echoing a connection string would).
fn verify_log(broken: bool) -> String {
    let mut log = String::from(
        "{\"service\": \"identity\", \"check\": \"token as admin\", \"ok\": true, \"detail\": \"\"}\n\
         Traceback (most recent call last): noise between checks\n",
    );
    log.push_str(&format!(
        "{{\"service\": \"image\", \"check\": \"upload\", \"ok\": {}, \"detail\": \"as glance:s3cret-keystone-value\"}}\n",
        !broken
    ));
    log
}

fn verify_cluster(broken: bool) -> Cluster {
    let mut faults = Faults::default();
    faults
        .pod_logs
        .insert("kube-openstack-verify".into(), verify_log(broken));
    let c = Cluster::new(faults);
    small_tree(&c);
    c.manifest("openstack-client-pod.yaml", CLIENT_POD);
    ok(&c.deploy(&[]));
    c
}

fn documents(out: &std::process::Output) -> Vec<Json> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(&stdout(out))
        .map(|d| Json::deserialize(d).unwrap_or_else(|e| panic!("not YAML: {e}\n{}", stdout(out))))
        .collect()
}

#[test]
fn verify_prints_each_check_as_a_yaml_document_or_a_json_line_and_a_summary_masked() {
    let c = verify_cluster(false);
    let out = c.run("verify", &["-o", "yaml"]);
    ok(&out);
    let events = documents(&out);
    let of = |kind: &str| -> Vec<&Json> { events.iter().filter(|e| e["event"] == kind).collect() };
    let checks = of("check");
    assert_eq!(checks.len(), 2, "{}", stdout(&out));
    assert_eq!(checks[0]["service"], "identity");
    let detail = checks[1]["detail"].as_str().unwrap();
    assert!(detail.starts_with("as glance:***"), "{detail}");
    // What is not a check (a traceback) is kept, as a log event, in its place.
    assert!(
        of("log")
            .iter()
            .any(|e| e["line"].as_str().unwrap().contains("noise between"))
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["checks"], 2);
    assert!(stdout(&out).starts_with("---\n"), "{}", stdout(&out));

    // The same events, one JSON object a line; the pod is gone afterwards.
    let out = c.run("verify", &["-o", "json"]);
    ok(&out);
    let lines: Vec<Json> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let checks_of = |events: &[Json]| -> Vec<Json> {
        let mut checks: Vec<Json> = events
            .iter()
            .filter(|e| e["event"] == "check")
            .cloned()
            .collect();
        // Masked values carry a per-run suffix: compare what stays.
        for c in &mut checks {
            c["detail"] = c["detail"]
                .as_str()
                .unwrap()
                .split("***")
                .next()
                .unwrap()
                .into();
        }
        checks
    };
    assert_eq!(checks_of(&lines), checks_of(&events));
    assert_eq!(lines.last().unwrap()["event"], "summary");
    let pod = c.fake.object("pods", "test", "kube-openstack-verify");
    assert!(
        pod.as_ref()
            .is_none_or(|p| p["metadata"]["deletionTimestamp"].is_string()),
        "the verify pod is deleted at the end: {pod:?}"
    );
    for out in [&out, &c.run("verify", &[])] {
        let all = format!("{}{}", stdout(out), stderr(out));
        assert!(!all.contains("s3cret-keystone-value"), "{all}");
    }
}

#[test]
fn a_broken_check_fails_verify_naming_the_service_and_the_summary_says_so() {
    let c = verify_cluster(true);
    let out = c.run("verify", &["-o", "yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let events = documents(&out);
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["ok"], false);
    assert_eq!(summary["failed"][0]["service"], "image");
    assert!(
        stderr(&out).contains("image (") && stderr(&out).contains("hint:"),
        "{}",
        stderr(&out)
    );
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("s3cret-keystone-value"), "{all}");
    assert!(all.contains("***"), "{all}");
}
