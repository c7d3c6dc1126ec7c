//! The scheduler: starts each object as soon as what it needs is satisfied (its ready
//! dependencies ready, lower kinds accepted), at most `parallel` applies in flight, then
//! waits for readiness where it matters. Not wave by wave: one slow object holds back only
//! what depends on it.

use super::FailureCause;
use super::apply::{ApplyError, Outcome, Target, apply_object};
use super::discovery::Resource;
use super::manifest::ObjectId;
use super::ops;
use super::plan::Plan;
use super::progress::Progress;
use super::ready::{Readiness, has_readiness, readiness};
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// How long to wait for readiness, per kind, unless `--timeout` says otherwise.
pub fn default_timeout(kind: &str) -> Duration {
    match kind {
        // A real schema migration can take well over five minutes.
        "Pod" | "Job" => Duration::from_secs(30 * 60),
        "ReplicationController" | "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => {
            Duration::from_secs(10 * 60)
        }
        _ => Duration::from_secs(2 * 60),
    }
}

pub struct Options {
    pub parallel: usize,
    /// One timeout for every wait (`--timeout`); else [`default_timeout`].
    pub timeout: Option<Duration>,
    /// Wait for every object to be ready, not only those others depend on.
    pub wait_all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Applying,
    Waiting,
    /// Accepted by the server; nobody needed to wait for it.
    Applied,
    Ready,
    Failed,
    /// Not started: a dependency failed, or the run was interrupted.
    Skipped,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeResult {
    pub object: String,
    pub file: String,
    pub state: State,
    pub outcome: Option<Outcome>,
    /// Why it failed or was skipped; what it was still waiting for.
    pub message: String,
    /// A failed pod's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    /// What kind of failure it was (for the hint), when it failed.
    #[serde(skip)]
    pub failure: Option<FailureCause>,
}

enum Done {
    Applied(usize, Result<Outcome, ApplyError>),
    Waited(usize, Readiness, Option<String>),
}

type Task<'a> = Pin<Box<dyn Future<Output = Done> + Send + 'a>>;

/// Runs the plan. Returns each node's result (in plan order) and whether the run was
/// interrupted.
pub async fn run(
    plan: &Plan,
    resources: &[Resource],
    live: &HashMap<ObjectId, Value>,
    target: &Target<'_>,
    options: &Options,
    progress: &Progress,
    interrupt: impl Future<Output = ()>,
) -> (Vec<NodeResult>, bool) {
    let n = plan.nodes.len();
    let mut results: Vec<NodeResult> = plan
        .nodes
        .iter()
        .map(|node| NodeResult {
            object: node.manifest.id.to_string(),
            file: node.manifest.file.display().to_string(),
            state: State::Pending,
            outcome: None,
            message: String::new(),
            logs: None,
            failure: None,
        })
        .collect();
    let ranks = plan.nodes.iter().map(|n| n.rank).max().map_or(0, |m| m + 1);
    // Objects of each rank the server has not accepted yet (pending or applying).
    let mut unaccepted = vec![0usize; ranks];
    for node in &plan.nodes {
        unaccepted[node.rank] += 1;
    }
    let mut tasks: FuturesUnordered<Task<'_>> = FuturesUnordered::new();
    let mut applying = 0usize;
    let mut stopping = false;
    let mut interrupted = false;
    let mut interrupt = std::pin::pin!(interrupt);
    for (node, r) in plan.nodes.iter().zip(&results) {
        if !node.deps.is_empty() {
            let on: Vec<String> = node
                .deps
                .iter()
                .map(|e| plan.nodes[e.on].manifest.id.to_string())
                .collect();
            progress.object(
                "Pending",
                &r.object,
                &format!("waits for {}", on.join(", ")),
            );
        }
    }

    loop {
        if !stopping {
            let mut started = start_ready(
                plan,
                &results,
                &unaccepted,
                options.parallel - applying.min(options.parallel),
                false,
            );
            if started.is_empty() && applying == 0 && tasks.is_empty() {
                // Only the kind order could hold these back, and it must never deadlock
                // against the graph: release it.
                started = start_ready(plan, &results, &unaccepted, options.parallel, true);
            }
            for i in started {
                results[i].state = State::Applying;
                applying += 1;
                let node = &plan.nodes[i];
                progress.object("Applying", &results[i].object, "");
                let res = &resources[i];
                let live_obj = live.get(&node.manifest.id);
                tasks.push(Box::pin(async move {
                    Done::Applied(i, apply_object(target, &node.manifest, res, live_obj).await)
                }));
            }
        }
        if tasks.is_empty() || (stopping && applying == 0) {
            break;
        }
        let done = tokio::select! {
            done = tasks.next() => done.expect("not empty"),
            () = &mut interrupt, if !stopping => {
                stopping = true;
                interrupted = true;
                progress.status("Interrupted", &format!("starting nothing new; finishing {applying} requests in flight"));
                continue;
            }
        };
        match done {
            Done::Applied(i, result) => {
                applying -= 1;
                unaccepted[plan.nodes[i].rank] -= 1;
                match result {
                    Ok(outcome) => {
                        results[i].outcome = Some(outcome);
                        let node = &plan.nodes[i];
                        // Objects with no notion of readiness are ready once accepted: the
                        // apply's answer says so, no need to read them back.
                        let must_wait = !target.dry_run
                            && has_readiness(&node.manifest.id.kind)
                            && (options.wait_all || !node.dependents.is_empty());
                        if must_wait {
                            results[i].state = State::Waiting;
                            progress.object("Applied", &results[i].object, outcome.as_str());
                            let timeout = options
                                .timeout
                                .unwrap_or_else(|| default_timeout(&node.manifest.id.kind));
                            let res = &resources[i];
                            tasks.push(Box::pin(async move {
                                let (r, logs) =
                                    wait_ready(target, &node.manifest.id, res, timeout, progress)
                                        .await;
                                Done::Waited(i, r, logs)
                            }));
                        } else {
                            let settled = target.dry_run || !has_readiness(&node.manifest.id.kind);
                            results[i].state = if settled {
                                State::Ready
                            } else {
                                State::Applied
                            };
                            progress.object("Applied", &results[i].object, outcome.as_str());
                            progress.tick();
                        }
                    }
                    Err(e) => {
                        let why = progress.masker().mask(&crate::report::one_line(&e));
                        results[i].failure = Some(match e {
                            ApplyError::Immutable { .. } => FailureCause::Immutable,
                            _ => FailureCause::Other,
                        });
                        fail(plan, &mut results, &mut unaccepted, i, why, None, progress)
                    }
                }
            }
            Done::Waited(i, readiness, logs) => match readiness {
                Readiness::Ready => {
                    results[i].state = State::Ready;
                    progress.object("Ready", &results[i].object, "");
                    progress.tick();
                }
                Readiness::Failed(why) => {
                    results[i].failure = Some(match logs {
                        Some(_) => FailureCause::PodFailed,
                        None => FailureCause::Other,
                    });
                    fail(plan, &mut results, &mut unaccepted, i, why, logs, progress)
                }
                // A wait gives up pending only when its time is out.
                Readiness::Pending(why) => {
                    results[i].failure = Some(FailureCause::TimedOut);
                    fail(plan, &mut results, &mut unaccepted, i, why, logs, progress)
                }
            },
        }
    }
    for r in results.iter_mut().filter(|r| r.state == State::Pending) {
        r.state = State::Skipped;
        if r.message.is_empty() {
            r.message = "not started (interrupted)".into();
        }
    }
    progress.finish();
    debug_assert_eq!(results.len(), n);
    (results, interrupted)
}

/// Pending nodes whose dependencies are ready and (unless `ignore_kind_order`) whose
/// lower kinds are all accepted, at most `room` of them, in plan order.
fn start_ready(
    plan: &Plan,
    results: &[NodeResult],
    unaccepted: &[usize],
    room: usize,
    ignore_kind_order: bool,
) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, node) in plan.nodes.iter().enumerate() {
        if out.len() >= room {
            break;
        }
        if results[i].state != State::Pending {
            continue;
        }
        let deps_ready = node
            .deps
            .iter()
            .all(|e| results[e.on].state == State::Ready);
        if !deps_ready {
            continue;
        }
        if ignore_kind_order || kind_order_allows(plan, results, unaccepted, i) {
            out.push(i);
        }
    }
    out
}

/// Whether every object of a lower kind has been accepted, not counting those that wait
/// (directly or not) for this one: explicit intent wins over the default order.
fn kind_order_allows(plan: &Plan, results: &[NodeResult], unaccepted: &[usize], i: usize) -> bool {
    let rank = plan.nodes[i].rank;
    let mut blocking: Vec<usize> = unaccepted[..rank].to_vec();
    for &d in &plan.nodes[i].downstream {
        let r = plan.nodes[d].rank;
        if r < rank && matches!(results[d].state, State::Pending | State::Applying) {
            blocking[r] -= 1;
        }
    }
    blocking.iter().all(|&b| b == 0)
}

/// Marks `i` failed and every node that waits for it, directly or not, skipped.
fn fail(
    plan: &Plan,
    results: &mut [NodeResult],
    unaccepted: &mut [usize],
    i: usize,
    why: String,
    logs: Option<String>,
    progress: &Progress,
) {
    results[i].state = State::Failed;
    results[i].message = why.clone();
    progress.object("Failed", &results[i].object, &why);
    if let Some(logs) = &logs {
        for line in logs.lines() {
            progress.line(
                &progress
                    .masker()
                    .mask(&format!("{:>12} | {line}", plan.nodes[i].manifest.id.name)),
            );
        }
    }
    results[i].logs = logs;
    let failed = results[i].object.clone();
    for &d in &plan.nodes[i].downstream {
        if results[d].state == State::Pending {
            results[d].state = State::Skipped;
            // Never to be accepted: it must not hold later kinds back.
            unaccepted[plan.nodes[d].rank] -= 1;
            results[d].message = format!("not started: {failed} failed");
            progress.object("Skipped", &results[d].object, &results[d].message);
        }
    }
}

/// Polls the object until it is ready, failed, or the timeout expires (then `Pending`
/// with what it still waits for). A failed pod's log comes back with it.
async fn wait_ready(
    target: &Target<'_>,
    id: &ObjectId,
    res: &Resource,
    timeout: Duration,
    progress: &Progress,
) -> (Readiness, Option<String>) {
    let start = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut last = String::new();
    loop {
        let state = match ops::get(target.kube, res, target.namespace, &id.name).await {
            Ok(Some(obj)) => readiness(&id.kind, &obj),
            Ok(None) => Readiness::Pending("not found".into()),
            // The client already retried what was transient; keep waiting until the timeout.
            Err(e) => Readiness::Pending(format!("cannot read it: {e}")),
        };
        match state {
            Readiness::Ready => return (Readiness::Ready, None),
            Readiness::Failed(why) => {
                let logs = if id.kind == "Pod" {
                    ops::logs(target.kube, res, target.namespace, &id.name)
                        .await
                        .ok()
                } else {
                    None
                };
                return (Readiness::Failed(why), logs);
            }
            Readiness::Pending(why) => {
                if why != last {
                    progress.object("Waiting", &id.to_string(), &why);
                    last = why;
                }
            }
        }
        if start.elapsed() >= timeout {
            return (
                Readiness::Pending(format!(
                    "timed out after {}s, still waiting: {last}",
                    timeout.as_secs_f32()
                )),
                None,
            );
        }
        let left = timeout.saturating_sub(start.elapsed());
        tokio::time::sleep(delay.min(left)).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(2));
    }
}
