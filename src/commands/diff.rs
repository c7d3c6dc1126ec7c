//! `kube-openstack diff`: exit 0 when nothing would change, 1 when something would.

use crate::cli::{ClusterArgs, DiffArgs, DiffFormat};
use crate::diff::{Change, TreeDiff};
use crate::errors::EXIT_DIFFERENCES;
use crate::printer::Printer;
use crate::settings::{ClusterSettings, Project, TreeSettings};
use crate::workflow;
use anyhow::bail;

pub fn run(project: &Project, printer: &Printer, args: &DiffArgs) -> anyhow::Result<u8> {
    if let Some(flag) = cluster_flag(&args.cluster).filter(|_| !args.live) {
        bail!("`{flag}` is for comparing with the cluster: add `--live`, or leave it out");
    }
    if let Some(dir) = args.against.as_ref().filter(|d| !d.is_dir()) {
        bail!("`--against {}`: no such directory", dir.display());
    }
    let tree = TreeSettings::new(project, &args.tree);
    // Held to the end: no render swaps the tree or rotates a value while it is compared.
    let (params, _reading) = workflow::params::read_only(&tree.params, printer)?;
    let (files, _) = workflow::render::in_memory(&tree, printer, &params)?;
    if args.live {
        let state = tree.params.state.clone();
        let cluster = ClusterSettings::new(project, &args.cluster, state);
        let result = workflow::diff::against_cluster(&files, &params, &cluster, args.show_secrets)?;
        print(printer, &result, args.output);
        let (added, changed, removed) = result.object_counts();
        if result.is_empty() {
            let against = format!("against namespace `{}`", cluster.namespace);
            printer.status("No changes", against);
            return Ok(0);
        }
        let restarts = result.restarts.len();
        printer.status("Differences", format!("{added} objects to create, {changed} to change, {removed} not in the tree (`deploy --prune` deletes them); {restarts} workloads restart"));
        return Ok(EXIT_DIFFERENCES);
    }
    let against = args
        .against
        .clone()
        .unwrap_or_else(|| project.output_dir(&None));
    let state = &tree.params.state;
    let result = workflow::diff::against_dir(&files, &params, state, &against, args.show_secrets)?;
    print(printer, &result, args.output);
    let (added, changed, removed) = result.object_counts();
    if result.is_empty() {
        printer.status("No changes", format!("against `{}`", against.display()));
        return Ok(0);
    }
    printer.status(
        "Differences",
        format!(
            "{} files: {added} objects added, {changed} changed, {removed} removed; {} workloads restart",
            result.files.len(),
            result.restarts.len()
        ),
    );
    Ok(EXIT_DIFFERENCES)
}

/// The first cluster flag given, as typed.
fn cluster_flag(c: &ClusterArgs) -> Option<&'static str> {
    [
        (c.kubeconfig.is_some(), "--kubeconfig"),
        (c.context.is_some(), "--context"),
        (c.namespace.is_some(), "--namespace"),
        (c.manifests.is_some(), "--manifests"),
        (c.request_timeout.is_some(), "--request-timeout"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

fn print(printer: &Printer, result: &TreeDiff, output: DiffFormat) {
    match output {
        DiffFormat::Json => printer.data(&format!(
            "{}\n",
            serde_json::to_string_pretty(&result).expect("serializable")
        )),
        DiffFormat::Text => {
            for f in &result.files {
                for o in &f.objects {
                    let sign = match o.change {
                        Change::Added => "+",
                        Change::Removed => "-",
                        Change::Changed => "~",
                    };
                    printer.data(&format!("{sign} {} ({})\n", o.object, f.path.display()));
                }
                printer.diff(&f.diff);
            }
            for r in &result.restarts {
                printer.data(&format!(
                    "restarts {}: {}\n",
                    r.object,
                    r.because.join(", ")
                ));
            }
        }
    }
}
