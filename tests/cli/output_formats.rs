//! `-o json|yaml` on every command that prints a table or a result: what a script reads,
//! checked with real parsers (serde_json, serde_yaml). `stack show` and `params refresh`
//! are in `heat.rs`, `version` in `about.rs`.

use crate::fake_kube::Faults;
use crate::support::cluster::{Cluster, ok, small_tree};
use crate::support::{Project, SERVICE, stderr, stdout};
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
    assert!(out.status.success(), "{}", stderr(&out));
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
