//! `kube-openstack teardown`: delete the deployment's objects in reverse kind order and
//! wait until they are gone. Asks first unless `--yes`.

use super::deploy::{connect, read_tree};
use crate::cli::TeardownArgs;
use crate::deploy::plan::Plan;
use crate::deploy::progress::{Mode, Progress};
use crate::deploy::{discovery, prune};
use crate::printer::Printer;
use crate::secrets::Masker;
use crate::settings::Project;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

pub fn run(project: &Project, printer: &Printer, args: &TeardownArgs) -> anyhow::Result<u8> {
    // The tree is optional here: its kinds are looked up too when it is there, but what is
    // deleted is what the cluster holds under the deployment's labels.
    let tree = read_tree(project, &args.cluster)
        .ok()
        .and_then(|(_, m)| Plan::build(m).ok());
    let namespace = project.namespace(&args.cluster.namespace);
    let mode = Mode::text_unless(printer.is_quiet());
    let progress = Progress::new(mode, Arc::new(Masker::none()), 0, true);
    crate::rt::block_on(async {
        let ctx = connect(&args.cluster, namespace.clone()).await?;
        let mut versions: Vec<&str> = crate::deploy::KNOWN_API_VERSIONS.to_vec();
        if let Some(plan) = &tree {
            versions.extend(plan.nodes.iter().map(|n| n.manifest.api_version.as_str()));
        }
        let discovered = discovery::discover(&ctx.kube, &versions).await?;
        let tree_types: Vec<_> = tree
            .iter()
            .flat_map(|p| p.nodes.iter())
            .filter_map(|n| {
                discovered
                    .get(&n.manifest.api_version, &n.manifest.id.kind)
                    .cloned()
            })
            .collect();
        let types = crate::deploy::deployment_types(&discovered, &tree_types);
        let live = ctx.list_live(&types).await?;
        let objects = prune::orphans(&live, &|_| false);
        if objects.is_empty() {
            printer.status(
                "Teardown",
                format!("nothing to delete in namespace `{namespace}`"),
            );
            return Ok(0);
        }
        for (id, _) in &objects {
            printer.data(&format!("{id}\n"));
        }
        if !args.dry_run
            && !args.yes
            && !confirm(&format!(
                "delete these {} objects from namespace `{namespace}`?",
                objects.len()
            ))?
        {
            anyhow::bail!("teardown cancelled; nothing deleted");
        }
        let deleted =
            prune::delete_all(&ctx, &objects, args.dry_run, args.timeout, &progress).await;
        crate::deploy::prune::check_deleted(&deleted, "objects")?;
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        printer.status(
            "Teardown",
            format!(
                "{verb} {} objects in namespace `{namespace}`",
                deleted.len()
            ),
        );
        Ok(0)
    })
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "{question} refusing to delete without confirmation: stdin is not a terminal; pass `--yes`"
        );
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
