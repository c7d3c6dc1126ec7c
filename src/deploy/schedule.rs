//! The scheduler: starts each object as soon as what it needs is satisfied (its ready
//! dependencies ready, lower kinds accepted), at most `parallel` applies in flight, then
//! waits for readiness where it matters. Not wave by wave: one slow object holds back only
//! what depends on it.

use super::FailureCause;
use super::apply::{ApplyError, Outcome, Target, apply_object, desired};
use super::discovery::Resource;
use super::doomed;
use super::manifest::ObjectId;
use super::ops;
use super::plan::Plan;
use super::progress::Progress;
use super::ready::{Readiness, has_readiness, readiness};
use super::rollout;
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
    /// Readiness, a failed pod's log, and what to report when ready (`rolled out 3/3`).
    Waited(usize, Readiness, Option<String>, String),
    /// A rollout found nothing to do and nobody waits for the object.
    Settled(usize),
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
    progress: &dyn Progress,
    interrupt: impl Future<Output = ()>,
) -> (Vec<NodeResult>, bool) {
    let mut run = Run::new(plan, resources, live, target, options, progress);
    run.announce_waits();
    let mut interrupted = false;
    let mut interrupt = std::pin::pin!(interrupt);
    loop {
        if !interrupted {
            run.start_what_may();
        }
        if run.tasks.is_empty() || (interrupted && run.applying == 0) {
            break;
        }
        let done = tokio::select! {
            done = run.tasks.next() => done.expect("not empty"),
            () = &mut interrupt, if !interrupted => {
                interrupted = true;
                let applying = run.applying;
                progress.status("Interrupted", &format!("starting nothing new; finishing {applying} requests in flight"));
                continue;
            }
        };
        match done {
            Done::Applied(i, result) => run.applied(i, result),
            Done::Waited(i, readiness, logs, note) => run.waited(i, readiness, logs, note),
            Done::Settled(i) => {
                run.results[i].state = State::Applied;
                progress.tick();
            }
        }
    }
    (run.finish(), interrupted)
}

/// One run of the plan: each node's result so far and the requests in flight.
struct Run<'a> {
    plan: &'a Plan,
    resources: &'a [Resource],
    live: &'a HashMap<ObjectId, Value>,
    target: &'a Target<'a>,
    options: &'a Options,
    progress: &'a dyn Progress,
    results: Vec<NodeResult>,
    /// Objects of each rank the server has not accepted yet (pending or applying).
    unaccepted: Vec<usize>,
    /// Applies and waits in flight.
    tasks: FuturesUnordered<Task<'a>>,
    /// How many of those are applies (bounded by `parallel`).
    applying: usize,
}

impl<'a> Run<'a> {
    fn new(
        plan: &'a Plan,
        resources: &'a [Resource],
        live: &'a HashMap<ObjectId, Value>,
        target: &'a Target<'a>,
        options: &'a Options,
        progress: &'a dyn Progress,
    ) -> Run<'a> {
        let results = plan
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
        let mut unaccepted = vec![0usize; ranks];
        for node in &plan.nodes {
            unaccepted[node.rank] += 1;
        }
        Run {
            plan,
            resources,
            live,
            target,
            options,
            progress,
            results,
            unaccepted,
            tasks: FuturesUnordered::new(),
            applying: 0,
        }
    }

    /// Says up front what each object with dependencies waits for.
    fn announce_waits(&self) {
        for (node, r) in self.plan.nodes.iter().zip(&self.results) {
            if !node.deps.is_empty() {
                let on: Vec<String> = node
                    .deps
                    .iter()
                    .map(|e| self.plan.nodes[e.on].manifest.id.to_string())
                    .collect();
                self.progress.object(
                    "Pending",
                    &r.object,
                    &format!("waits for {}", on.join(", ")),
                );
            }
        }
    }

    /// Starts the applies that may start now, as many as `parallel` leaves room for.
    fn start_what_may(&mut self) {
        let (plan, options) = (self.plan, self.options);
        let room = options.parallel - self.applying.min(options.parallel);
        let mut started = start_ready(plan, &self.results, &self.unaccepted, room, false);
        if started.is_empty() && self.applying == 0 && self.tasks.is_empty() {
            // Only the kind order could hold these back, and it must never deadlock
            // against the graph: release it.
            started = start_ready(
                plan,
                &self.results,
                &self.unaccepted,
                options.parallel,
                true,
            );
        }
        for i in started {
            self.results[i].state = State::Applying;
            self.applying += 1;
            self.progress
                .object("Applying", &self.results[i].object, "");
            let node = &plan.nodes[i];
            let (target, res) = (self.target, &self.resources[i]);
            let live_obj = self.live.get(&node.manifest.id);
            self.tasks.push(Box::pin(async move {
                Done::Applied(i, apply_object(target, &node.manifest, res, live_obj).await)
            }));
        }
    }

    /// The server answered the apply of node `i`: wait for it to be ready if anything
    /// needs that, else it is done.
    fn applied(&mut self, i: usize, result: Result<Outcome, ApplyError>) {
        self.applying -= 1;
        self.unaccepted[self.plan.nodes[i].rank] -= 1;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(e) => {
                let why = self.progress.masker().mask(&crate::report::one_line(&e));
                self.results[i].failure = Some(match e {
                    ApplyError::Immutable { .. } => FailureCause::Immutable,
                    _ => FailureCause::Other,
                });
                return self.fail(i, why, None);
            }
        };
        self.results[i].outcome = Some(outcome);
        let node = &self.plan.nodes[i];
        let kind = &node.manifest.id.kind;
        // Objects with no notion of readiness are ready once accepted: the apply's answer
        // says so, no need to read them back.
        let must_wait = !self.target.dry_run
            && has_readiness(kind)
            && (self.options.wait_all || !node.dependents.is_empty());
        self.progress
            .object("Applied", &self.results[i].object, outcome.as_str());
        if rollout::rolls(kind, &node.manifest.body) && !self.target.dry_run {
            // Its pods are rolled onto the template whether or not anyone waits for it.
            self.results[i].state = State::Waiting;
            self.tasks.push(self.roll(i, must_wait));
        } else if must_wait {
            self.results[i].state = State::Waiting;
            let timeout = self
                .options
                .timeout
                .unwrap_or_else(|| default_timeout(kind));
            let (target, res, progress) = (self.target, &self.resources[i], self.progress);
            self.tasks.push(Box::pin(async move {
                let (r, logs) = wait_ready(target, &node.manifest.id, res, timeout, progress).await;
                Done::Waited(i, r, logs, String::new())
            }));
        } else {
            let settled = self.target.dry_run || !has_readiness(kind);
            self.results[i].state = if settled {
                State::Ready
            } else {
                State::Applied
            };
            self.progress.tick();
        }
    }

    /// The rollout of workload `i` (see [`super::rollout`]).
    fn roll(&self, i: usize, must_wait: bool) -> Task<'a> {
        let node = &self.plan.nodes[i];
        let (target, res, progress) = (self.target, &self.resources[i], self.progress);
        let timeout = self
            .options
            .timeout
            .unwrap_or_else(|| default_timeout(&node.manifest.id.kind));
        Box::pin(async move {
            let body = desired(&node.manifest, res, target.namespace, target.deployment);
            let id = &node.manifest.id;
            match rollout::converge(target, id, res, &body, must_wait, timeout, progress).await {
                Some(r) => Done::Waited(i, r.readiness, r.logs, r.note),
                None => Done::Settled(i),
            }
        })
    }

    /// The wait for node `i` ended.
    fn waited(&mut self, i: usize, readiness: Readiness, logs: Option<String>, note: String) {
        match readiness {
            Readiness::Ready => {
                self.results[i].state = State::Ready;
                self.progress
                    .object("Ready", &self.results[i].object, &note);
                self.results[i].message = note;
                self.progress.tick();
            }
            Readiness::Failed(why) => {
                self.results[i].failure = Some(match logs {
                    Some(_) => FailureCause::PodFailed,
                    None => FailureCause::Other,
                });
                self.fail(i, why, logs)
            }
            // A wait gives up pending only when its time is out.
            Readiness::Pending(why) => {
                self.results[i].failure = Some(FailureCause::TimedOut);
                self.fail(i, why, logs)
            }
        }
    }

    /// Marks `i` failed and every node that waits for it, directly or not, skipped.
    fn fail(&mut self, i: usize, why: String, logs: Option<String>) {
        let (plan, progress, results) = (self.plan, self.progress, &mut self.results);
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
                self.unaccepted[plan.nodes[d].rank] -= 1;
                results[d].message = format!("not started: {failed} failed");
                progress.object("Skipped", &results[d].object, &results[d].message);
            }
        }
    }

    /// The results, with what never started marked skipped.
    fn finish(mut self) -> Vec<NodeResult> {
        for r in self
            .results
            .iter_mut()
            .filter(|r| r.state == State::Pending)
        {
            r.state = State::Skipped;
            if r.message.is_empty() {
                r.message = "not started (interrupted)".into();
            }
        }
        self.progress.finish();
        self.results
    }
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

/// Polls the object until it is ready, failed, or the timeout expires (then `Pending`
/// with what it still waits for). A failed pod's log comes back with it.
async fn wait_ready(
    target: &Target<'_>,
    id: &ObjectId,
    res: &Resource,
    timeout: Duration,
    progress: &dyn Progress,
) -> (Readiness, Option<String>) {
    let start = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut last = String::new();
    loop {
        let state = match ops::get(target.kube, res, target.namespace, &id.name).await {
            Ok(Some(obj)) if id.kind == "DaemonSet" => match readiness(&id.kind, &obj) {
                Readiness::Pending(why) => match doomed_pod(target, &obj).await {
                    Some((why, logs)) => return (Readiness::Failed(why), logs),
                    None => Readiness::Pending(why),
                },
                other => other,
            },
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

/// A pod of `owner` that will not become ready: why, with its last log lines and events.
async fn doomed_pod(target: &Target<'_>, owner: &Value) -> Option<(String, Option<String>)> {
    let pods = rollout::owned_pods(target, owner).await.ok()?;
    let (pod, why) = pods.iter().find_map(|p| Some((p, doomed::doomed(p)?)))?;
    let name = pod["metadata"]["name"].as_str().unwrap_or("?");
    let logs = doomed::last_words(target, name).await;
    Some((format!("pod `{name}`: {why}"), logs))
}
