//! Deleting the deployment's objects in reverse kind order and waiting until they are
//! gone (`teardown`), and deleting finished one-shot pods (`clean-jobs`).

use super::deploy::{connect, read_tree};
use crate::deploy::manifest::ObjectId;
use crate::deploy::plan::Plan;
use crate::deploy::{discovery, prune};
use crate::printer::{DeployProgress, Mode, Printer};
use crate::secrets::Masker;
use crate::settings::ClusterSettings;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Deletes what the cluster holds under the deployment's labels; `confirm` sees the list
/// first (to show it), and may refuse. The objects deleted (or, in a dry run, that would
/// be), in the order they went.
pub fn teardown(
    cluster: &ClusterSettings,
    printer: &Printer,
    dry_run: bool,
    timeout: Duration,
    confirm: &dyn Fn(&[ObjectId]) -> anyhow::Result<bool>,
) -> anyhow::Result<Vec<String>> {
    let namespace = &cluster.namespace;
    let progress = progress(printer);
    // The tree is optional here: its kinds are looked up too when it is there, but what is
    // deleted is what the cluster holds under the deployment's labels.
    let tree = read_tree(cluster).ok().and_then(|m| Plan::build(m).ok());
    crate::rt::block_on(async {
        let ctx = connect(cluster).await?;
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
            return Ok(Vec::new());
        }
        let ids: Vec<ObjectId> = objects.iter().map(|(id, _)| id.clone()).collect();
        if !confirm(&ids)? {
            anyhow::bail!("teardown cancelled; nothing deleted");
        }
        let deleted = prune::delete_all(&ctx, &objects, dry_run, timeout, &progress).await;
        prune::check_deleted(&deleted, "objects")?;
        printer.status(
            "Teardown",
            format!(
                "{} {} objects in namespace `{namespace}`",
                would(dry_run),
                deleted.len()
            ),
        );
        Ok(deleted.into_iter().map(|d| d.object).collect())
    })
}

/// The rendered tree's objects in the order teardown deletes them (reverse kind order),
/// read without asking the cluster (`teardown --dry-run=client`).
pub fn in_the_tree(cluster: &ClusterSettings) -> anyhow::Result<Vec<ObjectId>> {
    let plan = Plan::build(read_tree(cluster)?)?;
    Ok(plan
        .nodes
        .iter()
        .rev()
        .map(|n| n.manifest.id.clone())
        .collect())
}

fn would(dry_run: bool) -> &'static str {
    if dry_run { "would delete" } else { "deleted" }
}

/// Deletions say what they do, unless `--quiet`.
fn progress(printer: &Printer) -> DeployProgress {
    printer.deploy_progress(Mode::Text, Arc::new(Masker::none()), 0, true)
}

/// Deletes the deployment's one-shot pods that succeeded (and, with `failed_too`, those
/// that failed); the pods deleted (in a dry run, that would be).
pub fn clean_jobs(
    cluster: &ClusterSettings,
    printer: &Printer,
    failed_too: bool,
    dry_run: bool,
) -> anyhow::Result<Vec<String>> {
    let progress = progress(printer);
    crate::rt::block_on(async {
        let ctx = connect(cluster).await?;
        let live = ctx.list_pods().await?;
        let mut finished: Vec<(ObjectId, discovery::Resource)> = live
            .iter()
            .filter(|(_, (_, pod))| {
                let one_shot = pod
                    .pointer("/spec/restartPolicy")
                    .and_then(Value::as_str)
                    .unwrap_or("Always")
                    != "Always";
                let phase = pod
                    .pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                one_shot && (phase == "Succeeded" || failed_too && phase == "Failed")
            })
            .map(|(id, (res, _))| (id.clone(), res.clone()))
            .collect();
        prune::sort_for_deletion(&mut finished);
        let deleted = prune::delete_all(
            &ctx,
            &finished,
            dry_run,
            Duration::from_secs(120),
            &progress,
        )
        .await;
        prune::check_deleted(&deleted, "pods")?;
        printer.status(
            "Cleaned",
            format!(
                "{} {} finished one-shot pods in `{}`",
                would(dry_run),
                deleted.len(),
                cluster.namespace
            ),
        );
        Ok(deleted.into_iter().map(|d| d.object).collect())
    })
}
