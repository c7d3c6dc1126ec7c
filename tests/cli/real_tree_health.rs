//! What the end-to-end run (`real_tree.rs`) asks of the shipped payload: `up` exits 0
//! with every step done, every pod of the tree is Ready (or, for a one-shot pod, has
//! finished with exit 0), and `verify`, up's last step, passes: the cloud answers real
//! API calls from inside the cluster.

use crate::real_tree_report::Row;
use crate::support::stderr;
use serde_json::Value;
use std::process::Output;

/// A pod that runs once: its container must finish with exit 0, never be Ready.
fn one_shot(row: &Row) -> bool {
    row.pod.ends_with("-db-sync") || row.pod == "keystone-register"
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
