//! Applying the rendered tree to the cluster, as `deploy` and `up` do: the plan read from
//! the tree on disk, the namespace first, every object as the scheduler allows, the
//! objects no longer in the tree pruned (when asked), and the failures summed up in one
//! error with the way out.
//!
//! It deploys the rendered tree on disk (`kubernetes/`, or `--manifests DIR`), as
//! `kubectl apply -f` would: what is deployed is exactly what `render` wrote and `diff`
//! showed, and deploying needs no parameter source (the tree can be rendered and reviewed
//! on one machine and deployed from another).

use crate::deploy::apply::{Outcome, Target};
use crate::deploy::manifest::{self, Manifest};
use crate::deploy::plan::Plan;
use crate::deploy::progress::Progress;
use crate::deploy::schedule::{self, NodeResult, State};
use crate::deploy::{Context, Failure, FailureCause, prune};
use crate::secrets::Masker;
use crate::settings::ClusterSettings;
use crate::state::StateDir;
use anyhow::Context as _;
use std::time::Duration;

/// How a plan is applied: the flags of `deploy` that `up` sets too.
pub struct Exec {
    pub dry_run: bool,
    pub recreate: bool,
    pub prune: bool,
    pub timeout: Option<Duration>,
    pub options: schedule::Options,
}

/// What a run did to each object, and what it pruned.
pub struct Report {
    pub results: Vec<NodeResult>,
    pub pruned: Vec<prune::Deleted>,
    pub interrupted: bool,
}

/// The rendered tree's objects, with the hint to render first when there is none.
pub fn read_tree(cluster: &ClusterSettings) -> anyhow::Result<Vec<Manifest>> {
    let dir = &cluster.manifests;
    manifest::load_tree(dir)
        .with_context(|| format!("cannot read the rendered tree `{}`", dir.display()))
}

/// The rendered tree's dependency graph.
pub fn plan(cluster: &ClusterSettings) -> anyhow::Result<Plan> {
    Plan::build(read_tree(cluster)?)
        .with_context(|| format!("invalid dependencies in `{}`", cluster.manifests.display()))
}

/// Masks the values of the Secrets of `manifests` and of every secret an earlier render
/// wrote (kept in `state`).
pub fn masker(state: &StateDir, manifests: &[&Manifest]) -> anyhow::Result<Masker> {
    let mut secrets = state.rendered_secrets().unwrap_or_default();
    for m in manifests.iter().filter(|m| m.id.kind == "Secret") {
        secrets.extend(crate::secrets::secret_object_values(&m.body.to_string()));
    }
    Ok(Masker::build(state, secrets, false)?)
}

/// A client of the cluster, for the deployment's namespace. Call inside `rt::block_on`.
pub async fn connect(cluster: &ClusterSettings) -> anyhow::Result<Context> {
    Ok(Context::connect(&cluster.client, cluster.namespace.clone()).await?)
}

/// Connects and applies `plan`; in a dry run, each result says what it would wait for.
pub fn apply(
    cluster: &ClusterSettings,
    plan: &Plan,
    exec: &Exec,
    progress: &dyn Progress,
) -> anyhow::Result<Report> {
    let mut report = crate::rt::block_on(async {
        let ctx = connect(cluster).await?;
        execute(&ctx, plan, exec, progress).await
    })?;
    if exec.dry_run {
        for (r, node) in report.results.iter_mut().zip(&plan.nodes) {
            if r.message.is_empty() && !node.deps.is_empty() {
                let deps: Vec<String> = node
                    .deps
                    .iter()
                    .map(|e| format!("{} ({})", plan.nodes[e.on].manifest.id, e.kind))
                    .collect();
                r.message = format!("waits for {}", deps.join(", "));
            }
        }
    }
    Ok(report)
}

/// Applies `plan` to the connected cluster: namespace first, then every object as the
/// scheduler allows, then (with `prune`) what the deployment no longer has.
pub async fn execute(
    ctx: &Context,
    plan: &Plan,
    exec: &Exec,
    progress: &dyn Progress,
) -> anyhow::Result<Report> {
    let survey = ctx.survey(plan, exec.dry_run).await?;
    let target = Target {
        kube: &ctx.kube,
        namespace: &ctx.namespace,
        deployment: &ctx.deployment,
        dry_run: exec.dry_run,
        recreate: exec.recreate,
        gone_timeout: exec.timeout.unwrap_or(Duration::from_secs(5 * 60)),
    };
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (results, interrupted) = if exec.dry_run && !survey.namespace_exists {
        // Nothing to ask the server about: everything would be created.
        (would_create_all(plan, progress), false)
    } else {
        let live = survey.live_objects();
        schedule::run(
            plan,
            &survey.resources,
            &live,
            &target,
            &exec.options,
            progress,
            interrupt,
        )
        .await
    };
    let mut pruned = Vec::new();
    if exec.prune && !interrupted {
        let orphans = prune::orphans(&survey.live, &|id| plan.index.contains_key(id));
        for (id, _) in &orphans {
            progress.object("Prune", &id.to_string(), "no longer in the tree");
        }
        let timeout = exec.timeout.unwrap_or(Duration::from_secs(5 * 60));
        pruned = prune::delete_all(ctx, &orphans, exec.dry_run, timeout, progress).await;
    }
    Ok(Report {
        results,
        pruned,
        interrupted,
    })
}

fn would_create_all(plan: &Plan, progress: &dyn Progress) -> Vec<NodeResult> {
    plan.nodes
        .iter()
        .map(|n| {
            let object = n.manifest.id.to_string();
            progress.object("Applied", &object, "created (namespace does not exist yet)");
            NodeResult {
                object,
                file: n.manifest.file.display().to_string(),
                state: State::Ready,
                outcome: Some(Outcome::Created),
                message: String::new(),
                logs: None,
                failure: None,
            }
        })
        .collect()
}

/// `N objects: 1 created, ...; K changes`, and K.
pub fn counts(report: &Report, dry_run: bool) -> (String, usize) {
    let count = |o: Outcome| {
        report
            .results
            .iter()
            .filter(|r| r.outcome == Some(o))
            .count()
    };
    let changes = report
        .results
        .iter()
        .filter(|r| r.outcome.is_some_and(Outcome::is_change))
        .count()
        + report.pruned.iter().filter(|d| d.error.is_none()).count();
    let text = format!(
        "{} objects: {} created, {} configured, {} unchanged, {} rerun, {} recreated, {} pruned; {changes} changes{}",
        report.results.len(),
        count(Outcome::Created),
        count(Outcome::Configured),
        count(Outcome::Unchanged),
        count(Outcome::Rerun),
        count(Outcome::Recreated),
        report.pruned.len(),
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        },
    );
    (text, changes)
}

/// The run's failures as one error (interrupted, failed objects, failed prunes), of the
/// cause whose way out fits them.
pub fn check(report: &Report, masker: &Masker) -> Result<(), Failure> {
    let failed: Vec<&NodeResult> = report
        .results
        .iter()
        .filter(|r| r.state == State::Failed)
        .collect();
    let skipped = report
        .results
        .iter()
        .filter(|r| r.state == State::Skipped)
        .count();
    if report.interrupted {
        let done = report
            .results
            .iter()
            .filter(|r| r.outcome.is_some())
            .count();
        return Err(Failure {
            message: format!(
                "interrupted: {done} of {} objects applied, {} not started",
                report.results.len(),
                report.results.len() - done
            ),
            cause: FailureCause::Interrupted,
        });
    }
    if failed.is_empty() && !report.pruned.iter().any(|d| d.error.is_some()) {
        return Ok(());
    }
    let names: Vec<String> = failed
        .iter()
        .map(|r| masker.mask(&format!("{}: {}", r.object, r.message)))
        .collect();
    // The way out of the first kind that applies, in this order.
    let cause = [
        FailureCause::Immutable,
        FailureCause::PodFailed,
        FailureCause::TimedOut,
    ]
    .into_iter()
    .find(|c| failed.iter().any(|r| r.failure == Some(*c)))
    .unwrap_or(FailureCause::Other);
    let message = format!(
        "{} objects failed, {skipped} not started because of them:\n  {}",
        failed.len(),
        names.join("\n  ")
    );
    Err(Failure { message, cause })
}
