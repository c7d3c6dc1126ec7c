//! Faults the client must survive: 5xx, 429 with `Retry-After`, connections dropped
//! before and after the server committed the change. Every run must end with every
//! object exactly as rendered, none created twice, and a second run changing nothing.

use crate::fake_kube::{Fault, Faults};
use crate::support::cluster::{Cluster, NS, config_map, ok, one_shot_pod, rc, secret, service};
use crate::support::stderr;
use serde_json::Value;

/// Every field of `expected` is in `actual` with the same value (the server adds more).
fn contains(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| contains(v, av))),
        _ => expected == actual,
    }
}

fn tree(c: &Cluster) -> Vec<(String, &'static str, String)> {
    let mut files = Vec::new();
    for i in 0..6 {
        files.push((format!("s{i}"), "secrets", secret(&format!("s{i}"))));
        files.push((format!("c{i}"), "configmaps", config_map(&format!("c{i}"))));
        files.push((format!("svc{i}"), "services", service(&format!("svc{i}"))));
    }
    files.push(("db".into(), "replicationcontrollers", rc("db", "")));
    files.push((
        "api".into(),
        "replicationcontrollers",
        rc("api", "Pod/sync"),
    ));
    files.push((
        "sync".into(),
        "pods",
        one_shot_pod("sync", "ReplicationController/db", "example/sync:1"),
    ));
    for (name, _, text) in &files {
        c.manifest(&format!("{name}.yaml"), text);
    }
    files
}

fn assert_as_rendered(c: &Cluster, files: &[(String, &'static str, String)]) {
    for (name, plural, text) in files {
        let rendered: Value = serde_yaml::from_str(text).unwrap();
        let live = c
            .fake
            .object(plural, NS, name)
            .unwrap_or_else(|| panic!("{plural}/{name} missing"));
        let mut expected = rendered.clone();
        expected["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        // The server keeps a Secret's `stringData` base64-encoded in `data`.
        if let Some(Value::Object(string_data)) =
            expected.as_object_mut().unwrap().remove("stringData")
        {
            use base64::Engine as _;
            let encode = |v: &Value| {
                Value::String(base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap()))
            };
            expected["data"] = Value::Object(
                string_data
                    .iter()
                    .map(|(k, v)| (k.clone(), encode(v)))
                    .collect(),
            );
        }
        assert!(
            contains(&expected, &live),
            "{plural}/{name} differs from the rendered object:\n{live:#}"
        );
    }
    assert_eq!(c.fake.max_creations(), 1, "no object was created twice");
}

#[test]
fn every_fault_class_ends_with_every_object_as_rendered_and_none_duplicated() {
    let faults = Faults {
        error_rate: 0.10,
        throttle_rate: 0.06,
        drop_before_rate: 0.08,
        drop_after_rate: 0.3,
        seed: 7,
        ..Faults::default()
    };
    let c = Cluster::new(faults);
    let files = tree(&c);
    let out = c.deploy(&[]);
    ok(&out);
    assert_as_rendered(&c, &files);
    let log = c.fake.log();
    for class in [
        Fault::Error500,
        Fault::Throttle429,
        Fault::DropBeforeCommit,
        Fault::DropAfterCommit,
    ] {
        assert!(
            log.iter().any(|e| e.fault == Some(class)),
            "the run met {class:?}"
        );
    }
    let out = c.deploy(&[]);
    ok(&out);
    assert!(stderr(&out).contains("; 0 changes"), "{}", stderr(&out));
    assert_as_rendered(&c, &files);
}

#[test]
fn an_apply_committed_before_its_connection_dropped_is_reported_once_as_created() {
    let c = Cluster::new(Faults {
        drop_after_rate: 0.5,
        seed: 3,
        ..Faults::default()
    });
    let files = tree(&c);
    let out = c.deploy(&[]);
    ok(&out);
    assert!(
        stderr(&out).contains(&format!("{} created", files.len())),
        "{}",
        stderr(&out)
    );
    assert_as_rendered(&c, &files);
    assert!(
        c.fake
            .log()
            .iter()
            .filter(|e| e.fault == Some(Fault::DropAfterCommit))
            .count()
            >= 5
    );
}

#[test]
fn a_request_that_hangs_after_its_change_was_committed_times_out_and_is_retried() {
    let c = Cluster::new(Faults {
        stall_after_rate: 0.3,
        stall: std::time::Duration::from_secs(3),
        seed: 5,
        ..Faults::default()
    });
    let files = tree(&c);
    let started = std::time::Instant::now();
    let out = c.deploy(&["--request-timeout", "500ms"]);
    ok(&out);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "timed out requests are not waited for"
    );
    assert_as_rendered(&c, &files);
    assert!(
        c.fake
            .log()
            .iter()
            .filter(|e| e.fault == Some(Fault::StallAfterCommit))
            .count()
            >= 3
    );
    let out = c.deploy(&["--request-timeout", "500ms"]);
    ok(&out);
    assert!(stderr(&out).contains("; 0 changes"), "{}", stderr(&out));
}
