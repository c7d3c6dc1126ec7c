//! What the whole-tree run (`real_tree.rs`) asks of the shipped payload: `deploy` and
//! `db-sync --all` exit 0, every pod of the tree is Ready (or, for a one-shot pod, has
//! finished with exit 0), and `kube-openstack verify` passes: the cloud answers real API
//! calls from inside the cluster.

use crate::real_tree_report::Row;
use crate::support::{stderr, stdout};
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

/// What `deploy` said of every object it did not bring up (its summary's `objects`): a
/// one-shot pod that timed out under load exits 0 later, and only `deploy` says why it
/// was given up on.
pub fn deploy_failures(deployed: &[Value]) -> Vec<String> {
    deployed
        .iter()
        .filter(|o| o["state"] == "failed")
        .map(|o| format!("deploy: {} failed: {}", o["object"], o["message"]))
        .collect()
}

/// `verify -o json`'s checks that failed, and its summary's error when it has one.
pub fn verify_failures(out: &Output) -> Vec<String> {
    let events: Vec<Value> = stdout(out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut failures: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "check" && e["ok"] == false)
        .map(|e| format!("verify: {} {}: {}", e["service"], e["check"], e["detail"]))
        .collect();
    match events.iter().find(|e| e["event"] == "summary") {
        Some(s) if s["ok"] == true && out.status.success() => {}
        Some(s) => failures.push(format!("verify: {}", s["error"])),
        None => failures.push(format!("verify printed no summary: {}", stderr(out))),
    }
    if events.iter().filter(|e| e["event"] == "check").count() == 0 {
        failures.push("verify ran no check".into());
    }
    failures
}
