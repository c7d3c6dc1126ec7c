//! `kube-openstack deploy`: the rendered tree to the cluster, in dependency order.
//!
//! It deploys the rendered tree on disk (`kubernetes/`, or `--manifests DIR`), as
//! `kubectl apply -f` would: what is deployed is exactly what `render` wrote and `diff`
//! showed, and deploying needs no parameter source (the tree can be rendered and reviewed
//! on one machine and deployed from another).

use crate::cli::{ClusterArgs, DeployArgs, EventFormat, GraphFormat, SourceArgs};
use crate::deploy::apply::{Outcome, Target};
use crate::deploy::client::ClientOptions;
use crate::deploy::manifest::{self, Manifest};
use crate::deploy::plan::{self, Plan};
use crate::deploy::progress::{Mode, Progress};
use crate::deploy::schedule::{self, NodeResult, State};
use crate::deploy::{Context, Failure, FailureCause, prune};
use crate::printer::Printer;
use crate::secrets::Masker;
use crate::settings::Project;
use crate::state::StateDir;
use anyhow::Context as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub fn run(project: &Project, printer: &Printer, args: &DeployArgs) -> anyhow::Result<u8> {
    let (dir, manifests) = read_tree(project, &args.cluster)?;
    let plan = Plan::build(manifests)
        .with_context(|| format!("invalid dependencies in `{}`", dir.display()))?;
    if let Some(format) = args.graph {
        printer.data(&match format {
            GraphFormat::Dot => plan::to_dot(&plan),
            GraphFormat::Mermaid => plan::to_mermaid(&plan),
        });
        return Ok(0);
    }
    let state = StateDir::new(project.state_dir(&SourceArgs::default()));
    let masker = Arc::new(masker(
        &state,
        &plan.nodes.iter().map(|n| &n.manifest).collect::<Vec<_>>(),
    )?);
    let mode = match args.output {
        EventFormat::Json => Mode::Json,
        EventFormat::Text if printer.is_quiet() => Mode::Quiet,
        EventFormat::Text => Mode::Text,
    };
    let progress = Progress::new(mode, masker, plan.nodes.len(), args.no_progress);
    let namespace = project.namespace(&args.cluster.namespace);
    let options = schedule::Options {
        parallel: usize::from(args.parallel),
        timeout: args.timeout,
        wait_all: !args.no_wait,
    };
    let verb = if args.dry_run {
        "Planning"
    } else {
        "Deploying"
    };
    progress.status(
        verb,
        &format!(
            "{} objects from `{}` to namespace `{namespace}`",
            plan.nodes.len(),
            dir.display()
        ),
    );

    let exec = Exec {
        dry_run: args.dry_run,
        recreate: args.recreate,
        prune: args.prune,
        timeout: args.timeout,
        options,
    };
    let report = crate::rt::block_on(async {
        let ctx = connect(&args.cluster, namespace.clone()).await?;
        execute(&ctx, &plan, &exec, &progress).await
    })?;
    let mut report = report;
    if args.dry_run {
        // The plan: what each object would wait for.
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
    summarise(printer, &progress, &report, args.output, args.dry_run)
}

pub(super) struct Report {
    pub results: Vec<NodeResult>,
    pub pruned: Vec<prune::Deleted>,
    pub interrupted: bool,
}

/// How a plan is applied: the flags of `deploy` that `up` sets too.
pub(super) struct Exec {
    pub dry_run: bool,
    pub recreate: bool,
    pub prune: bool,
    pub timeout: Option<Duration>,
    pub options: schedule::Options,
}

/// Applies `plan` to the connected cluster: namespace first, then every object as the
/// scheduler allows, then (with `prune`) what the deployment no longer has.
pub(super) async fn execute(
    ctx: &Context,
    plan: &Plan,
    exec: &Exec,
    progress: &Progress,
) -> anyhow::Result<Report> {
    let (discovered, resources) = crate::deploy::resolve(ctx, plan).await?;
    let ns_exists = ctx.ensure_namespace(exec.dry_run).await?;
    let types = crate::deploy::deployment_types(&discovered, &resources);
    let live_all = if ns_exists {
        ctx.list_live(&types).await?
    } else {
        Default::default()
    };
    let live = live_all
        .iter()
        .map(|(id, (_, obj))| (id.clone(), obj.clone()))
        .collect();
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
    let (results, interrupted) = if exec.dry_run && !ns_exists {
        // Nothing to ask the server about: everything would be created.
        (would_create_all(plan, progress), false)
    } else {
        schedule::run(
            plan,
            &resources,
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
        let orphans = prune::orphans(&live_all, &|id| plan.index.contains_key(id));
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

fn would_create_all(plan: &Plan, progress: &Progress) -> Vec<NodeResult> {
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
pub(super) fn counts(report: &Report, dry_run: bool) -> (String, usize) {
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

fn summarise(
    printer: &Printer,
    progress: &Progress,
    report: &Report,
    format: EventFormat,
    dry_run: bool,
) -> anyhow::Result<u8> {
    let (counts, changes) = counts(report, dry_run);
    match format {
        EventFormat::Json => {
            let summary = serde_json::json!({"event": "summary", "changes": changes, "dry_run": dry_run,
                "interrupted": report.interrupted, "objects": report.results, "pruned": report.pruned});
            progress.data_line(&progress.masker().mask(&summary.to_string()));
        }
        EventFormat::Text => {
            let mut table = String::from("OBJECT\tRESULT\tSTATE\tDETAIL\n");
            for r in &report.results {
                let outcome = r.outcome.map_or("-", Outcome::as_str);
                let state = serde_json::to_value(r.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                table.push_str(&format!(
                    "{}\t{outcome}\t{state}\t{}\n",
                    r.object,
                    progress.masker().mask(&r.message)
                ));
            }
            for d in &report.pruned {
                table.push_str(&format!(
                    "{}\tpruned\t{}\t{}\n",
                    d.object,
                    if d.error.is_some() {
                        "failed"
                    } else {
                        "deleted"
                    },
                    d.error.clone().unwrap_or_default()
                ));
            }
            printer.data(&progress.masker().mask(&align(&table)));
            printer.status("Summary", &counts);
        }
    }
    check(report, progress)?;
    Ok(0)
}

/// The run's failures as one error (interrupted, failed objects, failed prunes), with
/// the hint that fits them.
pub(super) fn check(report: &Report, progress: &Progress) -> anyhow::Result<()> {
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
        }
        .into());
    }
    if !failed.is_empty() || report.pruned.iter().any(|d| d.error.is_some()) {
        let names: Vec<String> = failed
            .iter()
            .map(|r| {
                progress
                    .masker()
                    .mask(&format!("{}: {}", r.object, r.message))
            })
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
        return Err(Failure { message, cause }.into());
    }
    Ok(())
}

/// Aligns tab-separated columns.
pub(super) fn align(table: &str) -> String {
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split('\t').collect()).collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let last = r.len().saturating_sub(1);
        for (i, cell) in r.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// The rendered tree's objects, with the hint to render first when there is none.
pub(super) fn read_tree(
    project: &Project,
    args: &ClusterArgs,
) -> anyhow::Result<(PathBuf, Vec<Manifest>)> {
    let dir = args
        .manifests
        .clone()
        .unwrap_or_else(|| project.output_dir(&None));
    let manifests = manifest::load_tree(&dir)
        .with_context(|| format!("cannot read the rendered tree `{}`", dir.display()))?;
    Ok((dir, manifests))
}

/// Masks the values of the tree's Secrets and of every secret an earlier render wrote
/// (kept in `state`).
pub(super) fn masker(state: &StateDir, manifests: &[&Manifest]) -> anyhow::Result<Masker> {
    let mut secrets = state.rendered_secrets().unwrap_or_default();
    for m in manifests.iter().filter(|m| m.id.kind == "Secret") {
        secrets.extend(crate::secrets::secret_object_values(&m.body.to_string()));
    }
    Ok(Masker::build(state, secrets, false)?)
}

pub(super) async fn connect(args: &ClusterArgs, namespace: String) -> anyhow::Result<Context> {
    let options = ClientOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        request_timeout: args.request_timeout,
    };
    Ok(Context::connect(&options, namespace).await?)
}
