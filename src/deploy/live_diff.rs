//! `diff --live`: the rendered objects against the cluster, normalised as `kubectl diff`
//! does: the server's dry-run apply of each object (so defaults the server adds show on
//! both sides) against the live object, without status and server-managed metadata.

use super::api_status::ApiStatus;
use super::apply::desired;
use super::client::ClientError;
use super::discovery::Resource;
use super::manifest::{Manifest, ObjectId};
use super::{Context, DeployError, KNOWN_API_VERSIONS, discovery, ops};
use crate::diff::{Change, FileChange, ObjectChange, TreeDiff};
use crate::secrets::Masker;
use crate::state::StoreError;
use futures::stream::{self, StreamExt};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum LiveDiffError {
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Mask(#[from] StoreError),
    #[error("`{}`: {id}: the server's dry run failed", file.display())]
    DryRun {
        file: std::path::PathBuf,
        id: String,
        #[source]
        source: ClientError,
    },
}

impl crate::report::Hint for LiveDiffError {
    fn hint(&self) -> Option<String> {
        match self {
            // Transparent: the deploy error is not a cause of its own in the chain.
            LiveDiffError::Deploy(e) => e.hint(),
            _ => None,
        }
    }
}

impl From<discovery::DiscoveryError> for LiveDiffError {
    fn from(e: discovery::DiscoveryError) -> Self {
        LiveDiffError::Deploy(e.into())
    }
}

/// One `FileChange` per object that differs (its `path` is the manifest's file), and one
/// per live object of the deployment that is no longer in the tree (`deploy --prune`
/// would delete it).
pub async fn live_diff(
    ctx: &Context,
    manifests: &[Manifest],
    make_masker: &dyn Fn(Vec<String>) -> Result<Masker, StoreError>,
) -> Result<TreeDiff, LiveDiffError> {
    let mut versions: Vec<&str> = manifests.iter().map(|m| m.api_version.as_str()).collect();
    versions.extend(KNOWN_API_VERSIONS);
    let found = discovery::discover(&ctx.kube, &versions).await?;
    let mut resources = Vec::with_capacity(manifests.len());
    for m in manifests {
        let res = found
            .get(&m.api_version, &m.id.kind)
            .cloned()
            .ok_or_else(|| discovery::DiscoveryError::UnknownKind {
                file: m.file.clone(),
                kind: m.id.kind.clone(),
                api_version: m.api_version.clone(),
            })?;
        resources.push(res);
    }
    let ns_exists = ctx.ensure_namespace(true).await?;
    let types = super::deployment_types(&found, &resources);
    let live = if ns_exists {
        ctx.list_live(&types).await?
    } else {
        Default::default()
    };
    let live_secrets = live
        .iter()
        .filter(|(id, _)| id.kind == "Secret")
        .flat_map(|(_, (_, obj))| crate::secrets::secret_object_values(&obj.to_string()))
        .collect();
    let masker = &make_masker(live_secrets)?;

    let compared: Vec<Result<Option<FileChange>, LiveDiffError>> =
        stream::iter(manifests.iter().zip(&resources))
            .map(|(m, res)| {
                let live = live.get(&m.id).map(|(_, obj)| obj);
                async move {
                    let after = as_applied(ctx, m, res, ns_exists).await?;
                    Ok(change(
                        &m.id.to_string(),
                        &m.file.display().to_string(),
                        live,
                        Some(&after),
                        masker,
                    ))
                }
            })
            .buffered(8)
            .collect()
            .await;
    let mut diff = TreeDiff::default();
    for c in compared {
        diff.files.extend(c?);
    }
    diff.restarts = restarts(ctx, manifests, &resources, &live);
    let mut orphans: Vec<_> = live
        .iter()
        .filter(|(id, (_, obj))| {
            !manifests.iter().any(|m| &m.id == *id)
                && obj.pointer("/metadata/ownerReferences").is_none()
        })
        .collect();
    orphans.sort_by(|a, b| a.0.cmp(b.0));
    for (id, (_, obj)) in orphans {
        diff.files.extend(change(
            &id.to_string(),
            &format!("(cluster) {id}"),
            Some(obj),
            None,
            masker,
        ));
    }
    Ok(diff)
}

/// The live workloads applying `manifests` restarts (see [`super::restarts`]).
fn restarts(
    ctx: &Context,
    manifests: &[Manifest],
    resources: &[Resource],
    live: &HashMap<ObjectId, (Resource, Value)>,
) -> Vec<crate::diff::Restart> {
    let live_of = |id: &ObjectId| live.get(id).map(|(_, o)| o.clone());
    let mut out = Vec::new();
    for (m, res) in manifests.iter().zip(resources) {
        let Some((_, now)) = live.get(&m.id) else {
            continue;
        };
        let wanted = desired(m, res, &ctx.namespace, &ctx.deployment);
        out.extend(super::restarts::live_restart(
            m, &wanted, now, manifests, &live_of,
        ));
    }
    out
}

/// The object as the server would hold it once applied: a server-side dry run (the
/// object as sent when there is no namespace yet to run it in).
async fn as_applied(
    ctx: &Context,
    m: &Manifest,
    res: &Resource,
    ns_exists: bool,
) -> Result<Value, LiveDiffError> {
    let wanted = desired(m, res, &ctx.namespace, &ctx.deployment);
    if !ns_exists {
        return Ok(wanted);
    }
    match ops::apply(&ctx.kube, res, &ctx.namespace, &m.id.name, &wanted, true).await {
        Ok(applied) => Ok(applied.object),
        // A change that cannot be made in place (a one-shot pod's new spec): `deploy`
        // replaces the object, so show what it would hold.
        Err(e) if e.status().is_some_and(ApiStatus::is_immutable) => Ok(wanted),
        Err(source) => Err(LiveDiffError::DryRun {
            file: m.file.clone(),
            id: m.id.to_string(),
            source,
        }),
    }
}

/// Keys sorted, as `kubectl diff` prints them, so key order never shows as a change.
fn yaml(v: Option<&Value>) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    v.map(|v| serde_yaml::to_string(&sorted(&ops::normalise(v))).unwrap_or_default())
        .unwrap_or_default()
}

fn change(
    id: &str,
    path: &str,
    live: Option<&Value>,
    after: Option<&Value>,
    masker: &Masker,
) -> Option<FileChange> {
    let (before, now) = (yaml(live), yaml(after));
    if before == now {
        return None;
    }
    let change = match (live, after) {
        (None, _) => Change::Added,
        (_, None) => Change::Removed,
        _ => Change::Changed,
    };
    let unified = similar::TextDiff::from_lines(&masker.mask(&before), &masker.mask(&now))
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{id}"), &format!("rendered/{id}"))
        .to_string();
    Some(FileChange {
        path: path.into(),
        change,
        objects: vec![ObjectChange {
            object: id.to_string(),
            change,
        }],
        diff: unified,
    })
}
