//! The report of the whole-tree run (`real_tree.rs`): one row per pod of the shipped
//! tree, read through the API server as a user reads it (`GET pods`, `pods/log`), plus
//! one row per workload of the tree that has no pod, with what `deploy` said of it.

use crate::real_cluster::RealCluster;
use serde_json::Value;
use std::process::Command;

pub const NS: &str = "openstack";

/// One pod (or a workload without any) as the API reports it.
#[derive(Debug)]
pub struct Row {
    /// The pod's name; `-` for a workload with no pod.
    pub pod: String,
    /// `Kind/name` of what the tree declares: the owning controller, or the pod itself.
    pub owner: String,
    pub started: bool,
    /// `state.terminated` or else `lastState.terminated` exit code.
    pub exit_code: Option<i64>,
    pub running: bool,
    pub ready: bool,
    /// `state.waiting.reason`, and its message.
    pub waiting: Option<(String, String)>,
    pub restarts: i64,
    /// The first line of the container's log that says something went wrong.
    pub first_error: Option<String>,
    /// Why there is no pod, as `deploy` said.
    pub not_created: Option<String>,
}

impl Row {
    /// Its container finished well and is not to run again.
    pub fn finished_ok(&self) -> bool {
        self.exit_code == Some(0) && !self.running && self.waiting.is_none()
    }
}

/// The first line of a log that says something went wrong: a line logged as an error
/// (`ERROR`, `CRITICAL`, `FATAL`, a traceback, a Go panic) when there is one, else the
/// first that names a failure (a warning about a failed connection, say). Of a Python
/// traceback, the exception it ends with.
pub fn first_error(log: &str) -> Option<String> {
    const LEVELS: &[&str] = &[
        " ERROR ",
        " CRITICAL ",
        " FATAL ",
        "level=error",
        "level=fatal",
        "level=panic",
        "[error]",
    ];
    const STARTS: &[&str] = &["Traceback", "panic:", "Error:", "ERROR", "FATAL", "fatal:"];
    const SIGNS: &[&str] = &[
        "error",
        "fatal",
        "exception",
        "traceback",
        "panic",
        "denied",
        "refused",
        "failed",
        "not found",
        "no such",
        "cannot",
        "can't",
        "unable",
        "permission",
    ];
    let logged = |l: &&str| {
        LEVELS.iter().any(|s| l.contains(s)) || STARTS.iter().any(|s| l.trim().starts_with(s))
    };
    let names = |l: &&str| {
        let l = l.to_lowercase();
        SIGNS.iter().any(|s| l.contains(s))
    };
    let lines: Vec<&str> = log.lines().collect();
    let at = lines
        .iter()
        .position(logged)
        .or_else(|| lines.iter().position(names))?;
    // A Python traceback says what went wrong in its last line, the first after it
    // that is not indented.
    let line = if lines[at].starts_with("Traceback") {
        lines[at + 1..]
            .iter()
            .find(|l| !l.starts_with(char::is_whitespace) && !l.is_empty())
            .unwrap_or(&lines[at])
    } else {
        &lines[at]
    };
    Some(plain(line).trim().chars().take(300).collect())
}

/// `line` without terminal colour sequences (`ESC [ ... m`), which some services log.
pub fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `GET PATH` on the API server: status and body.
pub fn get(c: &RealCluster, path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            &format!("{}{path}", c.fake.url()),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.parse().unwrap_or(0), body.to_string())
}

/// The namespace's pods, as `kubectl get pods -o json` lists them.
pub fn api_pods(c: &RealCluster) -> Vec<Value> {
    let (code, body) = get(c, &format!("/api/v1/namespaces/{NS}/pods"));
    assert_eq!(code, 200, "listing pods: {body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

/// The log of a pod's first container as `kubectl logs` gives it (the previous run's when
/// the current one has not written anything yet).
fn api_log(c: &RealCluster, pod: &str, container: &str) -> String {
    let base = format!("/api/v1/namespaces/{NS}/pods/{pod}/log?container={container}");
    match get(c, &base) {
        (200, text) if !text.is_empty() => text,
        _ => match get(c, &format!("{base}&previous=true")) {
            (200, text) => text,
            _ => String::new(),
        },
    }
}

fn owner_of(p: &Value) -> String {
    let o = &p["metadata"]["ownerReferences"][0];
    match (o["kind"].as_str(), o["name"].as_str()) {
        (Some(kind), Some(name)) => format!("{kind}/{name}"),
        _ => format!("Pod/{}", p["metadata"]["name"].as_str().unwrap_or_default()),
    }
}

fn pod_row(c: &RealCluster, p: &Value) -> Row {
    let name = p["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let s = &p["status"]["containerStatuses"][0];
    let terminated = s.pointer("/state/terminated");
    let last = s.pointer("/lastState/terminated");
    let exit_code = terminated.or(last).and_then(|t| t["exitCode"].as_i64());
    let restarts = s["restartCount"].as_i64().unwrap_or(0);
    let running = s.pointer("/state/running").is_some();
    let started =
        running || restarts > 0 || terminated.is_some_and(|t| t["reason"] != "StartError");
    let log = if started {
        api_log(c, &name, s["name"].as_str().unwrap_or_default())
    } else {
        String::new()
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    Row {
        owner: owner_of(p),
        pod: name,
        started,
        exit_code,
        running,
        ready: s["ready"] == true,
        waiting: s
            .pointer("/state/waiting")
            .map(|w| (text(w.pointer("/reason")), text(w.pointer("/message")))),
        restarts,
        first_error: first_error(&log),
        not_created: None,
    }
}

/// The kinds of the tree that make pods.
pub fn makes_pods(object: &str) -> bool {
    ["Pod/", "ReplicationController/", "DaemonSet/"]
        .iter()
        .any(|k| object.starts_with(k))
}

/// Every pod the API lists, and every workload of `deploy`'s summary (its `objects`)
/// that has none; sorted by what the tree declares.
pub fn report(c: &RealCluster, deployed: &[Value]) -> Vec<Row> {
    // A pod being deleted (`verify`'s own, deleted once its checks ran) may already
    // have no container: a user sees it Terminating, not as part of the deployment.
    let mut rows: Vec<Row> = api_pods(c)
        .iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .map(|p| pod_row(c, p))
        .collect();
    for o in deployed {
        let object = o["object"].as_str().unwrap_or_default();
        if makes_pods(object) && !rows.iter().any(|r| r.owner == object) {
            rows.push(Row {
                pod: "-".into(),
                owner: object.to_string(),
                started: false,
                exit_code: None,
                running: false,
                ready: false,
                waiting: None,
                restarts: 0,
                first_error: None,
                not_created: Some(format!(
                    "deploy: {} {}",
                    o["state"].as_str().unwrap_or("?"),
                    o["message"].as_str().unwrap_or_default()
                )),
            });
        }
    }
    rows.sort_by(|a, b| a.owner.cmp(&b.owner).then(a.pod.cmp(&b.pod)));
    rows
}

/// Every value of the namespace's Secrets (six characters or more), longest first: to
/// keep them out of the printed report.
pub fn secret_values(c: &RealCluster) -> Vec<String> {
    use base64::Engine as _;
    let (_, body) = get(c, &format!("/api/v1/namespaces/{NS}/secrets"));
    let list: Value = serde_json::from_str(&body).unwrap_or_default();
    let mut out: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["data"].as_object())
        .flat_map(|data| data.values())
        .filter_map(|v| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.as_str()?)
                .ok()?;
            String::from_utf8(bytes).ok()
        })
        .filter(|v| v.len() >= 6)
        .collect();
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out
}

/// `text` with every secret value replaced by `***`.
pub fn mask(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
}

/// The report as an aligned table: started, exit code (or what it waits for, or that
/// it runs), readiness, restarts, and why it is unwell.
pub fn print(rows: &[Row], secrets: &[String]) -> String {
    let mut table =
        vec![["POD", "OF", "STARTED", "EXIT", "READY", "RESTARTS", "WHY"].map(String::from)];
    for r in rows {
        let last = r
            .exit_code
            .map(|c| format!(" (last {c})"))
            .unwrap_or_default();
        let exit = match (&r.waiting, r.running, r.exit_code) {
            (_, true, _) => format!("running{last}"),
            (Some((reason, _)), _, _) => format!("{reason}{last}"),
            (None, false, Some(code)) => code.to_string(),
            _ => "-".into(),
        };
        let why = r
            .first_error
            .clone()
            .or_else(|| r.not_created.clone())
            .or_else(|| r.waiting.as_ref().map(|(_, m)| m.clone()))
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "-".into());
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        table.push([
            r.pod.clone(),
            r.owner.clone(),
            yes(r.started),
            exit,
            yes(r.ready),
            r.restarts.to_string(),
            mask(&why, secrets),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    table
        .iter()
        .map(|r| {
            let mut line: String = (0..6)
                .map(|i| format!("{:<w$}  ", r[i], w = widths[i]))
                .collect();
            line.push_str(&r[6]);
            line.push('\n');
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::first_error;

    #[test]
    fn the_first_error_line_is_a_logged_error_or_the_exception_of_a_traceback() {
        let log = "starting\nWARNING connection failed, retrying\n2026 1 ERROR db [-] gone\n";
        assert_eq!(first_error(log).unwrap(), "2026 1 ERROR db [-] gone");
        let log = "Traceback (most recent call last):\n  File \"x\", line 1\n    boom()\nValueError: bad\n";
        assert_eq!(first_error(log).unwrap(), "ValueError: bad");
        assert_eq!(
            first_error("ok\nconnection refused\n").unwrap(),
            "connection refused"
        );
        assert_eq!(first_error("all good\n"), None);
        assert_eq!(
            first_error("\u{1b}[01;31m2026 1 ERROR x\u{1b}[00m\n").unwrap(),
            "2026 1 ERROR x"
        );
    }
}
