//! `status` says why a workload is not ready in Kubernetes' own words, from its pods: a
//! pod that will never start (image missing, crash loop, nowhere to schedule) fails its
//! workload, one that may still start leaves it waiting with the reason; table and JSON.

use crate::fake_kube::Faults;
use crate::support::cluster::{Cluster, rc};
use crate::support::{stderr, stdout};
use serde_json::Value;

fn row<'a>(rows: &'a Value, object: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["object"] == object)
        .unwrap_or_else(|| panic!("no row {object}: {rows}"))
}

#[test]
fn status_names_each_workloads_pod_trouble_in_the_table_and_json() {
    let mut faults = Faults {
        rc_pods: true,
        ..Faults::default()
    };
    for (name, reason, message) in [
        (
            "pulls",
            "ImagePullBackOff",
            "Back-off pulling image \"example/pulls:1\": ErrImagePull: manifest unknown",
        ),
        (
            "loops",
            "CrashLoopBackOff",
            "back-off 40s restarting failed container=main",
        ),
        (
            "nowhere",
            "Unschedulable",
            "0/1 nodes are available: 1 Insufficient memory.",
        ),
        (
            "later",
            "ErrImagePull",
            "dial tcp 127.0.0.1:4999: connect: connection refused",
        ),
    ] {
        faults
            .pod_waiting
            .insert(name.into(), (reason.into(), message.into()));
    }
    let c = Cluster::new(faults);
    for name in ["pulls", "loops", "nowhere", "later", "fine"] {
        c.manifest(&format!("{name}.yaml"), &rc(name, ""));
    }
    let out = c.deploy(&["--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let out = c.run("status", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let table = stdout(&out);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("ReplicationController/{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}: {table}"))
            .to_string()
    };
    let pulls = line("pulls");
    assert!(
        pulls.contains(" failed ")
            && pulls.contains("ImagePullBackOff")
            && pulls.contains("manifest unknown")
            && pulls.contains("pod `pulls-"),
        "{pulls}"
    );
    let loops = line("loops");
    assert!(
        loops.contains(" failed ")
            && loops.contains("CrashLoopBackOff")
            && loops.contains("restarted 4 times, last exit code 1"),
        "{loops}"
    );
    let nowhere = line("nowhere");
    assert!(
        nowhere.contains(" failed ")
            && nowhere.contains("Unschedulable")
            && nowhere.contains("Insufficient memory"),
        "{nowhere}"
    );
    let later = line("later");
    assert!(
        later.contains(" no ")
            && later.contains("ErrImagePull")
            && later.contains("connection refused"),
        "a pull that may still work waits: {later}"
    );
    assert!(line("fine").contains(" yes "), "{table}");

    let out = c.run("status", &["-o", "json"]);
    let rows: Value = serde_json::from_str(&stdout(&out)).unwrap();
    for (name, ready, reason) in [
        ("pulls", "failed", "ImagePullBackOff"),
        ("loops", "failed", "CrashLoopBackOff"),
        ("nowhere", "failed", "Unschedulable"),
        ("later", "no", "ErrImagePull"),
    ] {
        let r = row(&rows, &format!("ReplicationController/{name}"));
        assert_eq!(
            (r["ready"].as_str(), r["reason"].as_str()),
            (Some(ready), Some(reason)),
            "{r}"
        );
        assert!(
            r["pod"]
                .as_str()
                .is_some_and(|p| p.starts_with(&format!("{name}-"))),
            "{r}"
        );
    }
    let fine = row(&rows, "ReplicationController/fine");
    assert!(
        fine.get("reason").is_none() && fine.get("pod").is_none(),
        "{fine}"
    );
}
