//! The whole shipped tree on the real-pod cluster: rendered on the defaults, its images
//! built and pushed by `kube-openstack images` (nothing when the registry has them), and
//! deployed by `kube-openstack deploy`. The test prints, for every pod, whether it
//! started, its exit code or readiness and the first error line of its log, and checks
//! that this report (read through the API, as a user would) is what the containers
//! really did (read from podman). It does not ask every pod to be healthy: that is the
//! payload's business, not the cluster's.

use crate::real_cluster::RealCluster;
use crate::support::{stderr, stdout};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const NS: &str = "openstack";

/// One pod as the API reports it.
#[derive(Debug)]
struct Row {
    pod: String,
    owner: String,
    started: bool,
    /// `state.terminated` or else `lastState.terminated` exit code.
    exit_code: Option<i64>,
    running: bool,
    ready: bool,
    waiting: Option<String>,
    restarts: i64,
    first_error: Option<String>,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The first line of a log that says something went wrong.
fn first_error(log: &str) -> Option<String> {
    const SIGNS: &[&str] = &[
        "error",
        "fatal",
        "exception",
        "traceback",
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
    log.lines()
        .find(|l| {
            let l = l.to_lowercase();
            SIGNS.iter().any(|s| l.contains(s))
        })
        .map(|l| l.trim().chars().take(200).collect())
}

fn get(c: &RealCluster, path: &str) -> (u16, String) {
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

/// The log of a pod's first container as `kubectl logs` gives it (the previous run's when
/// the current one has not written anything yet).
fn api_log(c: &RealCluster, pod: &str) -> String {
    let base = format!("/api/v1/namespaces/{NS}/pods/{pod}/log");
    match get(c, &base) {
        (200, text) if !text.is_empty() => text,
        _ => match get(c, &format!("{base}?previous=true")) {
            (200, text) => text,
            _ => String::new(),
        },
    }
}

fn report(c: &RealCluster) -> Vec<Row> {
    let mut rows: Vec<Row> = c
        .fake
        .objects("pods", NS)
        .iter()
        .map(|p| {
            let name = p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let owner = match p["metadata"]["ownerReferences"][0]["name"].as_str() {
                Some(o) => format!(
                    "{}/{o}",
                    p["metadata"]["ownerReferences"][0]["kind"]
                        .as_str()
                        .unwrap_or("")
                ),
                None => format!("Pod/{name}"),
            };
            let s = &p["status"]["containerStatuses"][0];
            let terminated = s.pointer("/state/terminated");
            let last = s.pointer("/lastState/terminated");
            let exit_code = terminated.or(last).and_then(|t| t["exitCode"].as_i64());
            let restarts = s["restartCount"].as_i64().unwrap_or(0);
            let running = s.pointer("/state/running").is_some();
            let started =
                running || restarts > 0 || terminated.is_some_and(|t| t["reason"] != "StartError");
            let log = if started {
                api_log(c, &name)
            } else {
                String::new()
            };
            Row {
                pod: name,
                owner,
                started,
                exit_code,
                running,
                ready: s["ready"] == true,
                waiting: s
                    .pointer("/state/waiting/reason")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                restarts,
                first_error: first_error(&log),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.owner.cmp(&b.owner).then(a.pod.cmp(&b.pod)));
    rows
}

/// Every value of the namespace's Secrets, to keep them out of the printed report.
fn secret_values(c: &RealCluster) -> Vec<String> {
    use base64::Engine as _;
    let mut out: Vec<String> = c
        .fake
        .objects("secrets", NS)
        .iter()
        .flat_map(|s| {
            s["data"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(_, v)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.as_str()?)
                        .ok()?;
                    String::from_utf8(bytes).ok()
                })
                .collect::<Vec<_>>()
        })
        .filter(|v| v.len() >= 6)
        .collect();
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out
}

fn print(rows: &[Row], secrets: &[String]) -> String {
    let mut text = String::from("POD\tOF\tSTARTED\tEXIT\tREADY\tRESTARTS\tFIRST ERROR LINE\n");
    for r in rows {
        let exit = match (r.exit_code, &r.waiting, r.running) {
            (Some(code), _, _) => code.to_string(),
            (None, Some(w), _) => w.clone(),
            (None, None, true) => "running".into(),
            _ => "-".into(),
        };
        let mut error = r.first_error.clone().unwrap_or_else(|| "-".into());
        for s in secrets {
            error = error.replace(s.as_str(), "***");
        }
        text.push_str(&format!(
            "{}\t{}\t{}\t{exit}\t{}\t{}\t{error}\n",
            r.pod,
            r.owner,
            if r.started { "yes" } else { "no" },
            if r.ready { "yes" } else { "no" },
            r.restarts
        ));
    }
    text
}

/// The podman containers of a pod, newest run first.
fn runs(c: &RealCluster, pod: &str) -> Vec<Value> {
    let mut runs = c.containers_of(pod);
    runs.sort_by_key(|r| std::cmp::Reverse(r["Created"].as_i64().unwrap_or(0)));
    runs
}

/// Checks one row against podman.
fn check(c: &RealCluster, row: &Row, problems: &mut Vec<String>) {
    let runs = runs(c, &row.pod);
    let pod = &row.pod;
    let ran: Vec<&Value> = runs
        .iter()
        .filter(|r| r["StartedAt"].as_i64().unwrap_or(0) > 0)
        .collect();
    if row.started != !ran.is_empty() {
        problems.push(format!(
            "{pod}: reported started={} but podman ran {} container(s)",
            row.started,
            ran.len()
        ));
    }
    if !row.started {
        if let Some(reason) = &row.waiting
            && reason.contains("ImagePull")
        {
            let live = c.fake.object("pods", NS, pod).unwrap_or_default();
            let image = live["status"]["containerStatuses"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let present = Command::new("podman")
                .args(["image", "exists", &image])
                .status()
                .is_ok_and(|s| s.success());
            if present {
                problems.push(format!(
                    "{pod}: reported {reason} but {image} is in local storage"
                ));
            }
        }
        return;
    }
    if let Some(code) = row.exit_code {
        let exited: Vec<i64> = runs
            .iter()
            .filter(|r| r["State"] == "exited")
            .filter_map(|r| r["ExitCode"].as_i64())
            .collect();
        if !exited.contains(&code) {
            problems.push(format!(
                "{pod}: reported exit code {code}, podman's exited runs: {exited:?}"
            ));
        }
    }
    if row.running && !runs.iter().any(|r| r["State"] == "running") {
        problems.push(format!(
            "{pod}: reported running, podman has no running container"
        ));
    }
    // The first error line of the newest run that wrote anything, read from podman.
    let truth = runs.iter().find_map(|r| {
        let name = r["Names"][0].as_str()?;
        let out = Command::new("podman").args(["logs", name]).output().ok()?;
        let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        (!log.is_empty()).then_some(log)
    });
    if let (Some(reported), Some(truth)) = (&row.first_error, &truth)
        && !truth.contains(reported.as_str())
    {
        problems.push(format!(
            "{pod}: reported error line `{reported}` is not in the container's log"
        ));
    }
    if row.first_error.is_none()
        && let Some(line) = truth.as_deref().and_then(first_error)
        && !row.running
    {
        problems.push(format!(
            "{pod}: the container's log has `{line}`, the report none"
        ));
    }
}

#[test]
fn the_shipped_tree_on_real_pods_reports_what_each_container_really_did() {
    let c = RealCluster::new("shipped-tree");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["heat", "kubernetes-in", "docker"] {
        copy_dir(&root.join(dir), &c.project.path(dir));
    }
    std::fs::copy(
        root.join("kube-openstack.yaml"),
        c.project.path("kube-openstack.yaml"),
    )
    .unwrap();
    let run = |args: &[&str]| c.project.cmd().args(args).output().unwrap();
    let out = run(&["render"]);
    assert!(out.status.success(), "render: {}", stderr(&out));
    let out = run(&["images"]);
    assert!(
        out.status.success(),
        "the shipped images must build and push before their pods can run: {}",
        stderr(&out)
    );

    let start = Instant::now();
    let out = run(&["deploy", "--kubeconfig", "kubeconfig", "--timeout", "150s"]);
    let took = start.elapsed();
    let rows = report(&c);
    let table = print(&rows, &secret_values(&c));
    let summary = format!(
        "shipped tree on real pods: deploy exit {:?} after {:.0}s; {} pods, {} started, {} ready, {} exited 0\n{}",
        out.status.code(),
        took.as_secs_f64(),
        rows.len(),
        rows.iter().filter(|r| r.started).count(),
        rows.iter().filter(|r| r.ready).count(),
        rows.iter()
            .filter(|r| r.exit_code == Some(0) && !r.running)
            .count(),
        kube_openstack_align(&table)
    );
    eprintln!("{summary}");
    let report_file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shipped-tree-report.txt");
    let _ = std::fs::write(&report_file, &summary);

    assert!(!rows.is_empty(), "the tree has pods: {}", stderr(&out));
    let mut problems = Vec::new();
    for row in &rows {
        check(&c, row, &mut problems);
    }
    // What `status` says of each one-shot pod of the tree agrees with its container.
    let status = run(&["status", "--kubeconfig", "kubeconfig", "-o", "json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    let by_object: BTreeMap<String, String> = status
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["object"].as_str().unwrap_or_default().to_string(),
                r["ready"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for row in rows.iter().filter(|r| r.owner == format!("Pod/{}", r.pod)) {
        let said = by_object.get(&row.owner).cloned().unwrap_or_default();
        let succeeded = row.exit_code == Some(0) && !row.running && row.restarts == 0;
        if (said == "yes") != (succeeded || row.ready) {
            problems.push(format!(
                "{}: status says `{said}`, the container: exit {:?}, ready {}",
                row.pod, row.exit_code, row.ready
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the report disagrees with podman:\n{}\n\n{summary}\n{}",
        problems.join("\n"),
        stdout(&out)
    );
}

/// Columns aligned as the tool's tables are.
fn kube_openstack_align(table: &str) -> String {
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split('\t').collect()).collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line: String = r
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i + 1 == r.len() {
                        c.to_string()
                    } else {
                        format!("{c:<w$}  ", w = widths[i])
                    }
                })
                .collect();
            line.push('\n');
            line
        })
        .collect()
}
