//! Objects of the deployment that are no longer in the tree, and deleting in reverse
//! kind order, waiting until each kind's objects are gone.

use super::discovery::Resource;
use super::manifest::ObjectId;
use super::order::rank;
use super::progress::Progress;
use super::{Context, ops};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Live objects not in `keep`, not owned by another object (a ReplicationController's
/// pods), sorted for deletion: reverse kind order, then name.
pub fn orphans(
    live: &HashMap<ObjectId, (Resource, Value)>,
    keep: &dyn Fn(&ObjectId) -> bool,
) -> Vec<(ObjectId, Resource)> {
    let mut out: Vec<(ObjectId, Resource)> = live
        .iter()
        .filter(|(id, (_, obj))| {
            !keep(id)
                && obj
                    .pointer("/metadata/ownerReferences")
                    .is_none_or(|o| o.as_array().is_none_or(Vec::is_empty))
        })
        .map(|(id, (res, _))| (id.clone(), res.clone()))
        .collect();
    sort_for_deletion(&mut out);
    out
}

pub fn sort_for_deletion(objects: &mut [(ObjectId, Resource)]) {
    objects.sort_by(|a, b| {
        rank(&b.0.kind)
            .cmp(&rank(&a.0.kind))
            .then_with(|| a.0.cmp(&b.0))
    });
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Deleted {
    pub object: String,
    pub error: Option<String>,
}

/// An error listing every deletion that failed (`what`: "pods", "objects"), if any did.
pub fn check_deleted(deleted: &[Deleted], what: &str) -> anyhow::Result<()> {
    let failed: Vec<String> = deleted
        .iter()
        .filter_map(|d| d.error.as_ref().map(|e| format!("{}: {e}", d.object)))
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "{} {what} could not be deleted:\n  {}",
        failed.len(),
        failed.join("\n  ")
    );
    Ok(())
}

/// Deletes `objects` (already in deletion order): each kind group in parallel, waiting
/// until the group is gone before the next. With `dry_run`, the server's dry run only.
pub async fn delete_all(
    ctx: &Context,
    objects: &[(ObjectId, Resource)],
    dry_run: bool,
    timeout: Duration,
    progress: &dyn Progress,
) -> Vec<Deleted> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < objects.len() {
        let r = rank(&objects[start].0.kind);
        let end = objects[start..]
            .iter()
            .position(|(id, _)| rank(&id.kind) != r)
            .map_or(objects.len(), |p| start + p);
        let group = &objects[start..end];
        let results = futures::future::join_all(group.iter().map(|(id, res)| async move {
            progress.object(
                "Deleting",
                &id.to_string(),
                if dry_run { "dry run" } else { "" },
            );
            let result = async {
                ops::delete(&ctx.kube, res, &ctx.namespace, &id.name, dry_run)
                    .await
                    .map_err(|e| e.to_string())?;
                if !dry_run {
                    ops::wait_gone(&ctx.kube, res, &ctx.namespace, &id.name, timeout)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            }
            .await;
            match &result {
                Ok(()) => progress.object(
                    "Deleted",
                    &id.to_string(),
                    if dry_run { "dry run" } else { "" },
                ),
                Err(e) => progress.object("Failed", &id.to_string(), e),
            }
            Deleted {
                object: id.to_string(),
                error: result.err(),
            }
        }))
        .await;
        out.extend(results);
        start = end;
    }
    out
}
