//! `kube-openstack deploy`: the rendered tree to the cluster, in dependency order.

use crate::cli::{DeployArgs, EventFormat, GraphFormat};
use crate::deploy::apply::Outcome;
use crate::deploy::plan;
use crate::deploy::progress::Progress as _;
use crate::deploy::schedule;
use crate::printer::{DeployProgress, Mode, Printer, align};
use crate::settings::{ClusterSettings, DryRun, Project};
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
    let dry_run = DryRun::from(args.dry_run);
    if dry_run == DryRun::Client {
        print_plan(printer, &plan, args.output, &cluster.namespace);
        return Ok(0);
    }
    let manifests: Vec<_> = plan.nodes.iter().map(|n| &n.manifest).collect();
    let masker = Arc::new(deploy::masker(&cluster.state, &manifests)?);
    let mode = match args.output {
        EventFormat::Json => Mode::Json,
        EventFormat::Text => Mode::Text,
    };
    let progress = printer.deploy_progress(mode, masker, plan.nodes.len(), args.no_progress);
    let verb = if dry_run.is_on() {
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
        dry_run: dry_run.is_on(),
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
    summarise(printer, &progress, &report, args.output, dry_run.is_on());
    deploy::check(&report, progress.masker())?;
    Ok(0)
}

/// `--dry-run=client`: the objects in the order they would be applied, with what each
/// waits for; nothing is asked of the cluster.
fn print_plan(printer: &Printer, plan: &plan::Plan, format: EventFormat, namespace: &str) {
    let waits = |n: &plan::Node| -> Vec<String> {
        n.deps
            .iter()
            .map(|e| plan.nodes[e.on].manifest.id.to_string())
            .collect()
    };
    if format == EventFormat::Json {
        let objects: Vec<_> = plan
            .nodes
            .iter()
            .map(|n| {
                serde_json::json!({"object": n.manifest.id.to_string(),
            "file": n.manifest.file, "waits_for": waits(n)})
            })
            .collect();
        let summary =
            serde_json::json!({"event": "summary", "dry_run": "client", "objects": objects});
        printer.data(&format!("{summary}\n"));
        return;
    }
    let mut table = String::from("OBJECT\tFILE\tWAITS FOR\n");
    for n in &plan.nodes {
        let on = waits(n).join(", ");
        let file = n.manifest.file.display();
        table.push_str(&format!(
            "{}\t{file}\t{}\n",
            n.manifest.id,
            if on.is_empty() { "-" } else { &on }
        ));
    }
    printer.data(&align(&table));
    printer.status(
        "Planned",
        format!(
            "{} objects for namespace `{namespace}` (client dry run: the cluster was not asked)",
            plan.nodes.len()
        ),
    );
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
