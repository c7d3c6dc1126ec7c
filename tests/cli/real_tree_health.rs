//! What the end-to-end run (`real_tree.rs`) asks of the shipped payload: `up` exits 0
//! with every step done, every pod of the tree is Ready (or, for a one-shot pod, has
//! finished with exit 0), and `verify`, up's last step, passes: the cloud answers real
//! API calls from inside the cluster.

use crate::real_cluster::RealCluster;
use crate::real_tree_report::{NS, Row, api_pods};
use crate::support::stderr;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Output;

/// A pod that runs once: its container must finish with exit 0, never be Ready.
fn one_shot(row: &Row) -> bool {
    row.pod.ends_with("-db-sync")
        || ["keystone-register", "mariadb-users"].contains(&row.pod.as_str())
}

/// Why the tree is not healthy: one line per command that failed and per pod that is
/// neither Ready nor finished well (with the first error line of its log).
pub fn unhealthy(rows: &[Row], commands: &[(&str, &Output)]) -> Vec<String> {
    let mut sick: Vec<String> = commands
        .iter()
        .filter(|(_, out)| !out.status.success())
        .map(|(name, out)| format!("`{name}` exited {:?}", out.status.code()))
        .collect();
    for row in rows {
        let healthy = if one_shot(row) {
            row.finished_ok()
        } else {
            row.ready
        };
        if healthy {
            continue;
        }
        let why = row
            .not_created
            .clone()
            .or_else(|| row.waiting.as_ref().map(|(r, m)| format!("{r}: {m}")))
            .or_else(|| row.exit_code.map(|c| format!("exit code {c}")))
            .unwrap_or_else(|| "running, not Ready".into());
        let wanted = if one_shot(row) {
            "finished with exit 0"
        } else {
            "Ready"
        };
        sick.push(format!(
            "{} ({}): not {wanted}: {why}; {} restart(s); first error: {}",
            row.owner,
            row.pod,
            row.restarts,
            row.first_error.as_deref().unwrap_or("none")
        ));
    }
    sick
}

/// `up -o json`'s rows: one per step (step, result, seconds, detail).
pub fn up_rows(out: &Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// Why `up` did not end with a working cloud: its exit, a step that did not end well,
/// and `verify` (its last step) not having passed.
pub fn up_failures(out: &Output, steps: &[Value]) -> Vec<String> {
    let mut failures = Vec::new();
    if !out.status.success() {
        failures.push(format!("`up` exited {:?}", out.status.code()));
    }
    if steps.is_empty() {
        failures.push(format!("`up -o json` printed no steps: {}", stderr(out)));
    }
    for s in steps {
        let ok = match s["step"].as_str() {
            Some("clean-jobs") => s["result"] == "skipped",
            _ => s["result"] == "done" || s["result"] == "up to date",
        };
        if !ok {
            failures.push(format!(
                "up: step {} {}: {}",
                s["step"], s["result"], s["detail"]
            ));
        }
    }
    let verify = steps.iter().find(|s| s["step"] == "verify");
    if !verify.is_some_and(|v| {
        v["result"] == "done"
            && v["detail"]
                .as_str()
                .is_some_and(|d| d.ends_with("checks passed"))
    }) {
        failures.push(format!("up: verify did not pass: {verify:?}"));
    }
    failures
}

/// Every pod's uid, by name: a pod replaced since has another.
pub fn pod_uids(c: &RealCluster) -> BTreeMap<String, String> {
    api_pods(c)
        .iter()
        .map(|p| {
            let s = |k: &str| p["metadata"][k].as_str().unwrap_or_default().to_string();
            (s("name"), s("uid"))
        })
        .collect()
}

/// A second `up` changes nothing: every step of its `-o json` says `up to date` (or
/// `skipped`, clean-jobs), and every pod has the uid it had.
pub fn second_up_changed_nothing(
    c: &RealCluster,
    again: &Output,
    uids: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut out: Vec<String> = up_rows(again)
        .iter()
        .filter(|s| !matches!(s["result"].as_str(), Some("up to date" | "skipped")))
        .map(|s| {
            format!(
                "second up: step {} {}: {}",
                s["step"], s["result"], s["detail"]
            )
        })
        .collect();
    if !again.status.success() {
        out.push(format!(
            "second up exited {:?}: {}",
            again.status.code(),
            stderr(again)
        ));
    }
    if pod_uids(c) != *uids {
        out.push("second up replaced pods".into());
    }
    out
}

/// Every db-sync pod Succeeded and, but for placement's (its migration logs nothing),
/// has the migration's log as `kubectl logs` shows it.
pub fn db_sync_pods(c: &RealCluster, rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for p in api_pods(c) {
        let name = p["metadata"]["name"].as_str().unwrap_or_default();
        if !name.ends_with("-db-sync") {
            continue;
        }
        if p["status"]["phase"] != "Succeeded" {
            out.push(format!("{name}: phase {}", p["status"]["phase"]));
        }
        let path = format!("/api/v1/namespaces/{NS}/pods/{name}/log");
        let (_, log) = crate::real_tree_report::get(c, &path);
        if log.trim().is_empty() && name != "placement-db-sync" {
            out.push(format!("{name}: the API gives no log"));
        }
    }
    if !rows.iter().any(|r| r.pod.ends_with("-db-sync")) {
        out.push("the tree ran no db-sync pod".into());
    }
    out
}
