//! `kube-openstack deploy`: the rendered tree to the cluster, in dependency order.

use crate::cli::{DeployArgs, EventFormat, GraphFormat};
use crate::deploy::apply::Outcome;
use crate::deploy::plan;
use crate::deploy::progress::Progress as _;
use crate::deploy::schedule;
use crate::printer::{DeployProgress, Mode, Printer, align};
use crate::settings::{ClusterSettings, Project};
use crate::workflow::deploy::{self, Exec, Report};
use std::sync::Arc;

pub fn run(project: &Project, printer: &Printer, args: &DeployArgs) -> anyhow::Result<u8> {
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let plan = deploy::plan(&cluster)?;
    if let Some(format) = args.graph {
        printer.data(&match format {
            GraphFormat::Dot => plan::to_dot(&plan),
            GraphFormat::Mermaid => plan::to_mermaid(&plan),
        });
        return Ok(0);
    }
    let manifests: Vec<_> = plan.nodes.iter().map(|n| &n.manifest).collect();
    let masker = Arc::new(deploy::masker(&cluster.state, &manifests)?);
    let mode = match args.output {
        EventFormat::Json => Mode::Json,
        EventFormat::Text => Mode::Text,
    };
    let progress = printer.deploy_progress(mode, masker, plan.nodes.len(), args.no_progress);
    let verb = if args.dry_run {
        "Planning"
    } else {
        "Deploying"
    };
    progress.status(
        verb,
        &format!(
            "{} objects from `{}` to namespace `{}`",
            plan.nodes.len(),
            cluster.manifests.display(),
            cluster.namespace
        ),
    );
    let exec = Exec {
        dry_run: args.dry_run,
        recreate: args.recreate,
        prune: args.prune,
        timeout: args.timeout,
        options: schedule::Options {
            parallel: usize::from(args.parallel),
            timeout: args.timeout,
            wait_all: !args.no_wait,
        },
    };
    let report = deploy::apply(&cluster, &plan, &exec, &progress)?;
    summarise(printer, &progress, &report, args.output, args.dry_run);
    deploy::check(&report, progress.masker())?;
    Ok(0)
}

/// The table of every object (or the summary event), then the counts.
fn summarise(
    printer: &Printer,
    progress: &DeployProgress,
    report: &Report,
    format: EventFormat,
    dry_run: bool,
) {
    let masker = progress.masker();
    let (counts, changes) = deploy::counts(report, dry_run);
    if format == EventFormat::Json {
        let summary = serde_json::json!({"event": "summary", "changes": changes, "dry_run": dry_run,
            "interrupted": report.interrupted, "objects": report.results, "pruned": report.pruned});
        progress.data_line(&masker.mask(&summary.to_string()));
        return;
    }
    let mut table = String::from("OBJECT\tRESULT\tSTATE\tDETAIL\n");
    for r in &report.results {
        let outcome = r.outcome.map_or("-", Outcome::as_str);
        let state = serde_json::to_value(r.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let detail = masker.mask(&r.message);
        table.push_str(&format!("{}\t{outcome}\t{state}\t{detail}\n", r.object));
    }
    for d in &report.pruned {
        let state = if d.error.is_some() {
            "failed"
        } else {
            "deleted"
        };
        let detail = d.error.clone().unwrap_or_default();
        table.push_str(&format!("{}\tpruned\t{state}\t{detail}\n", d.object));
    }
    printer.data(&masker.mask(&align(&table)));
    printer.status("Summary", &counts);
}
