//! What the end-to-end run (`real_tree.rs`) checks against podman: what the API, `status`
//! and `db-sync` say of each pod is what its containers really did.

use crate::real_cluster::RealCluster;
use crate::real_tree_report::{Row, first_error, plain};
use crate::support::{stderr, stdout};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};

/// `db-sync`'s closing table (columns apart by two spaces or more): `Pod/NAME` ->
/// (state, detail).
fn db_sync_results(out: &Output) -> BTreeMap<String, (String, String)> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("Pod/"))
        .filter_map(|l| {
            let mut cols = l.split("  ").map(str::trim).filter(|c| !c.is_empty());
            let object = cols.next()?.to_string();
            let state = cols.next()?.to_string();
            Some((object, (state, cols.collect::<Vec<_>>().join(" "))))
        })
        .collect()
}

/// The podman containers of a pod, newest run first.
fn runs(c: &RealCluster, pod: &str) -> Vec<Value> {
    let mut runs = c.containers_of(pod);
    runs.sort_by_key(|r| std::cmp::Reverse(r["Created"].as_i64().unwrap_or(0)));
    runs
}

/// What podman logged for a container (both streams).
fn podman_log(container: &Value) -> String {
    let Some(name) = container["Names"][0].as_str() else {
        return String::new();
    };
    let out = Command::new("podman")
        .args(["logs", name])
        .output()
        .unwrap();
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    log
}

/// The last `n` lines of a log, for a problem's message.
fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn exit_codes(runs: &[Value]) -> Vec<i64> {
    runs.iter()
        .filter(|r| r["State"] == "exited")
        .filter_map(|r| r["ExitCode"].as_i64())
        .collect()
}

/// Checks one pod's row against podman.
pub fn check(c: &RealCluster, row: &Row, problems: &mut Vec<String>) {
    let pod = &row.pod;
    let runs = runs(c, pod);
    let ran = runs
        .iter()
        .filter(|r| r["StartedAt"].as_i64().unwrap_or(0) > 0)
        .count();
    if row.started != (ran > 0) {
        problems.push(format!(
            "{pod}: reported started={}, podman ran {ran} container(s)",
            row.started
        ));
    }
    if !row.started {
        if let Some((reason, _)) = &row.waiting
            && reason.contains("ImagePull")
        {
            let live = c.fake.object("pods", "openstack", pod).unwrap_or_default();
            let image = live["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let pulled = Command::new("podman")
                .args(["image", "exists", &image])
                .status()
                .is_ok_and(|s| s.success());
            if pulled {
                problems.push(format!(
                    "{pod}: reported {reason} but {image} is in the node's storage"
                ));
            }
        }
        return;
    }
    if let Some(code) = row.exit_code
        && !exit_codes(&runs).contains(&code)
    {
        problems.push(format!(
            "{pod}: reported exit code {code}, podman's exited runs: {:?}",
            exit_codes(&runs)
        ));
    }
    if row.running && !runs.iter().any(|r| r["State"] == "running") {
        problems.push(format!(
            "{pod}: reported running, podman has no running container"
        ));
    }
    // The newest run that wrote anything: every run of a crash loop says the same.
    let truth = runs.iter().map(podman_log).find(|l| !l.is_empty());
    match (&row.first_error, truth.as_deref().and_then(first_error)) {
        (Some(reported), _)
            if !runs
                .iter()
                .any(|r| plain(&podman_log(r)).contains(reported)) =>
        {
            problems.push(format!(
                "{pod}: reported error line `{reported}` is in no run's log"
            ));
        }
        (None, Some(line)) if !row.running => problems.push(format!(
            "{pod}: the container's log has `{line}`, the report none"
        )),
        _ => {}
    }
}

/// The pods every container of the node belongs to: none the API does not list.
pub fn check_orphans(c: &RealCluster, rows: &[Row], problems: &mut Vec<String>) {
    let mut listed: BTreeSet<String> = rows.iter().map(|r| r.pod.clone()).collect();
    // Pods being deleted are left out of the report, not out of the API.
    listed.extend(
        crate::real_tree_report::api_pods(c)
            .iter()
            .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string)),
    );
    for container in c.containers() {
        let pod = container["Labels"]["io.kubernetes.pod.name"]
            .as_str()
            .unwrap_or_default();
        if !pod.is_empty() && !listed.contains(pod) {
            problems.push(format!(
                "podman has a container of pod `{pod}`, which the API does not list: {}",
                container["Names"][0]
            ));
        }
    }
}

/// What `status` says of each object of the tree agrees with its pods' rows.
pub fn check_status(status: &Value, rows: &[Row], problems: &mut Vec<String>) {
    let said: BTreeMap<&str, &str> = status
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["object"].as_str().unwrap_or_default(),
                r["ready"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let mut by_owner: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by_owner.entry(r.owner.as_str()).or_default().push(r);
    }
    for (owner, pods) in by_owner {
        let said = said.get(owner).copied().unwrap_or("(absent)");
        let created = pods.iter().any(|r| r.not_created.is_none());
        let wrong = match said {
            "missing" => created,
            _ if !created => true,
            "yes" if owner.starts_with("Pod/") => !(pods[0].finished_ok() || pods[0].ready),
            "yes" => !pods.iter().all(|r| r.ready),
            "failed" => pods.iter().all(|r| r.finished_ok() || r.ready),
            _ => false,
        };
        if wrong {
            let seen: Vec<String> = pods
                .iter()
                .map(|r| format!("{} exit {:?} ready {}", r.pod, r.exit_code, r.ready))
                .collect();
            problems.push(format!("{owner}: status says `{said}`, the pods: {seen:?}"));
        }
    }
}

/// The containers of the pods `db-sync` ran, read right after it returned (they go on
/// restarting): each pod's exit codes and logs.
pub struct AfterDbSync {
    results: BTreeMap<String, (String, String)>,
    exit_codes: BTreeMap<String, Vec<i64>>,
    logs: BTreeMap<String, String>,
}

pub fn after_db_sync(c: &RealCluster, out: &Output) -> AfterDbSync {
    let results = db_sync_results(out);
    let mut after = AfterDbSync {
        results: BTreeMap::new(),
        exit_codes: BTreeMap::new(),
        logs: BTreeMap::new(),
    };
    for object in results.keys() {
        let name = object.trim_start_matches("Pod/").to_string();
        let runs = runs(c, &name);
        after.exit_codes.insert(name.clone(), exit_codes(&runs));
        let log: String = runs.iter().map(podman_log).collect();
        after.logs.insert(name, plain(&log));
    }
    after.results = results;
    after
}

/// What `db-sync` said of each db-sync pod is what its containers did: success only when
/// one exited 0, a failure's exit code one podman saw, the last line it printed of the
/// pod's log in a container's log.
pub fn check_db_sync(out: &Output, after: &AfterDbSync, rows: &[Row], problems: &mut Vec<String>) {
    if after.results.is_empty() {
        problems.push(format!("db-sync printed no result: {}", stderr(out)));
    }
    let printed = plain(&stdout(out));
    for (object, (state, detail)) in &after.results {
        let name = object.trim_start_matches("Pod/");
        let codes = &after.exit_codes[name];
        let Some(row) = rows.iter().find(|r| r.pod == name) else {
            if state != "Skipped" {
                problems.push(format!(
                    "{object}: db-sync says {state}, the API has no pod"
                ));
            }
            continue;
        };
        if state == "Ready" && !(codes.contains(&0) && row.finished_ok()) {
            problems.push(format!(
                "{object}: db-sync says Ready, podman's exit codes: {codes:?}"
            ));
        }
        if let Some(code) = detail
            .split("exit code ")
            .nth(1)
            .and_then(|s| s.split(|ch: char| !ch.is_ascii_digit()).next())
            .and_then(|s| s.parse::<i64>().ok())
            && !codes.contains(&code)
        {
            problems.push(format!(
                "{object}: db-sync says exit code {code}, podman's runs: {codes:?}"
            ));
        }
        let prefix = format!("{name} | ");
        let last = printed
            .lines()
            .rev()
            .filter_map(|l| l.strip_prefix(&prefix))
            .find(|l| !l.trim().is_empty());
        let logged = &after.logs[name];
        match last {
            // A command that succeeds in silence (placement-manage db sync does) leaves
            // nothing to print.
            None if row.started && !logged.trim().is_empty() => problems.push(format!(
                "{object}: db-sync printed nothing of a pod whose containers logged:\n{}",
                tail(logged, 5)
            )),
            // Masked by db-sync: not comparable with the container's own line.
            Some(line) if line.contains("***") => {}
            Some(line) if !logged.contains(line.trim()) => problems.push(format!(
                "{object}: db-sync printed `{line}`, which no container of the pod logged"
            )),
            _ => {}
        }
    }
}
