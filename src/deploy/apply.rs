//! Applying one object: server-side apply, with the outcome a user wants to see
//! (created / configured / unchanged), one-shot pods rerun when their spec changed, and
//! objects that cannot change in place recreated on request.

use super::api_status::ApiStatus;
use super::client::{ClientError, Kube};
use super::discovery::Resource;
use super::manifest::{Manifest, ObjectId};
use super::ops;
use super::order::is_one_shot;
use super::ready::{Readiness, readiness};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "kube-openstack";
/// Which deployment an object belongs to (the namespace's name by default).
pub const DEPLOYMENT_LABEL: &str = "kube-openstack/deployment";
/// Hash of the spec a one-shot pod or Job was created from, to know when to rerun it.
pub const SPEC_HASH: &str = "kube-openstack/spec-hash";

/// Annotation of a long-running workload's pod template: the hash of the Secrets and
/// ConfigMaps its pods read, so a changed value rolls exactly the workloads that read it.
pub const CONFIG_HASH: &str = "kube-openstack/config-hash";

/// The label selector of every object of a deployment.
pub fn selector(deployment: &str) -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY},{DEPLOYMENT_LABEL}={deployment}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    /// Deleted and created again (`--recreate`, immutable fields).
    Recreated,
    /// A one-shot pod or Job run again because its spec changed or it had failed.
    Rerun,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
            Outcome::Recreated => "recreated",
            Outcome::Rerun => "rerun",
        }
    }

    pub fn is_change(self) -> bool {
        self != Outcome::Unchanged
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("`{}`: {id}: {source}", file.display())]
    Server {
        file: PathBuf,
        id: ObjectId,
        source: ClientError,
    },
    #[error("`{}`: {id} cannot be changed in place: {status}", file.display())]
    Immutable {
        file: PathBuf,
        id: ObjectId,
        status: ApiStatus,
    },
    #[error("`{}`: {id}: the old object is still there after {timeout:?}", file.display())]
    NotGone {
        file: PathBuf,
        id: ObjectId,
        timeout: Duration,
    },
}

/// Where and how to apply.
pub struct Target<'a> {
    pub kube: &'a Kube,
    pub namespace: &'a str,
    pub deployment: &'a str,
    pub dry_run: bool,
    pub recreate: bool,
    pub gone_timeout: Duration,
}

/// The object as it is sent: the rendered body plus the namespace, the deployment
/// labels and, for one-shot pods and Jobs, the hash of their spec.
pub fn desired(m: &Manifest, res: &Resource, namespace: &str, deployment: &str) -> Value {
    let mut body = m.body.clone();
    if !body.get("metadata").is_some_and(Value::is_object) {
        body["metadata"] = Value::Object(Default::default());
    }
    let meta = body["metadata"]
        .as_object_mut()
        .expect("made an object above");
    if res.namespaced {
        meta.insert("namespace".into(), Value::String(namespace.to_string()));
    }
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
        labels.insert(DEPLOYMENT_LABEL.into(), deployment.into());
    }
    if is_one_shot(&m.id.kind, &m.body) {
        let hash = spec_hash(&m.body, m.config_digest.as_deref());
        let meta = body["metadata"].as_object_mut().expect("an object");
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(SPEC_HASH.into(), Value::String(hash));
        }
    }
    if let Some(digest) = &m.config_digest
        && super::order::is_long_running(&m.id.kind)
        && body.pointer("/spec/template").is_some_and(Value::is_object)
    {
        let template = &mut body["spec"]["template"];
        if !template.get("metadata").is_some_and(Value::is_object) {
            template["metadata"] = Value::Object(Default::default());
        }
        let meta = &mut template["metadata"];
        if !meta.get("annotations").is_some_and(Value::is_object) {
            meta["annotations"] = Value::Object(Default::default());
        }
        meta["annotations"][CONFIG_HASH] = Value::String(digest.clone());
    }
    if matches!(m.id.kind.as_str(), "ReplicationController" | "DaemonSet") {
        super::rollout::stamp_template(&mut body);
    }
    body
}

/// A stable hash of what a one-shot object runs: its spec (image, command, env, config
/// references) and the configuration it reads (`config_digest`). serde_json keeps key
/// order as written, which the render makes stable.
pub fn spec_hash(body: &Value, config_digest: Option<&str>) -> String {
    let spec = body.get("spec").map(|s| s.to_string()).unwrap_or_default();
    let digest = Sha256::digest(format!("{spec}\n{}", config_digest.unwrap_or("")).as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")?.get(key)?.as_str()
}

/// Applies one object. `live` is what the server held before (from the listing made at
/// the start of the run), used to tell created / configured / unchanged apart.
pub async fn apply_object(
    t: &Target<'_>,
    m: &Manifest,
    res: &Resource,
    live: Option<&Value>,
) -> Result<Outcome, ApplyError> {
    let body = desired(m, res, t.namespace, t.deployment);
    let server = |source| ApplyError::Server {
        file: m.file.clone(),
        id: m.id.clone(),
        source,
    };
    if is_one_shot(&m.id.kind, &m.body)
        && let Some(live) = live
    {
        let same_spec = annotation(live, SPEC_HASH) == annotation(&body, SPEC_HASH);
        let failed = matches!(readiness(&m.id.kind, live), Readiness::Failed(_));
        if same_spec && !failed {
            return Ok(Outcome::Unchanged);
        }
        if t.dry_run {
            return Ok(Outcome::Rerun);
        }
        replace(t, m, res, &body).await?;
        return Ok(Outcome::Rerun);
    }
    match ops::apply(t.kube, res, t.namespace, &m.id.name, &body, t.dry_run).await {
        Ok(applied) => Ok(classify(&applied, live, t.dry_run)),
        Err(e) if e.status().is_some_and(ApiStatus::is_immutable) => {
            if !t.recreate {
                let status = e.status().cloned().unwrap_or_default();
                return Err(ApplyError::Immutable {
                    file: m.file.clone(),
                    id: m.id.clone(),
                    status,
                });
            }
            if !t.dry_run {
                replace(t, m, res, &body).await?;
            }
            Ok(Outcome::Recreated)
        }
        Err(e) => Err(server(e)),
    }
}

fn classify(applied: &ops::Applied, live: Option<&Value>, dry_run: bool) -> Outcome {
    let result = &applied.object;
    if applied.code == 201 {
        return Outcome::Created;
    }
    let Some(live) = live else {
        // Not among the deployment's objects at the start, yet there: either an attempt
        // of ours created it before its connection dropped, or it was made without our
        // labels and this apply adopted it.
        return if applied.maybe_committed_before {
            Outcome::Created
        } else {
            Outcome::Configured
        };
    };
    let rv = |o: &Value| o.pointer("/metadata/resourceVersion").cloned();
    // A dry run's answer keeps the old resourceVersion whatever would change: compare content.
    let same_version = !dry_run && rv(live) == rv(result);
    if same_version || ops::normalise(live) == ops::normalise(result) {
        Outcome::Unchanged
    } else {
        Outcome::Configured
    }
}

/// Deletes the object, waits until it is gone, and applies `body` afresh.
async fn replace(
    t: &Target<'_>,
    m: &Manifest,
    res: &Resource,
    body: &Value,
) -> Result<(), ApplyError> {
    let server = |source| ApplyError::Server {
        file: m.file.clone(),
        id: m.id.clone(),
        source,
    };
    ops::delete(t.kube, res, t.namespace, &m.id.name, false)
        .await
        .map_err(server)?;
    match ops::wait_gone(t.kube, res, t.namespace, &m.id.name, t.gone_timeout).await {
        Ok(()) => {}
        Err(ops::GoneError::Client(e)) => return Err(server(e)),
        Err(ops::GoneError::Timeout(timeout)) => {
            return Err(ApplyError::NotGone {
                file: m.file.clone(),
                id: m.id.clone(),
                timeout,
            });
        }
    }
    ops::apply(t.kube, res, t.namespace, &m.id.name, body, false)
        .await
        .map_err(server)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_hash_changes_with_the_spec_only() {
        let a = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"image": "x:1"}]}});
        let mut b = a.clone();
        b["metadata"]["labels"] = json!({"a": "b"});
        assert_eq!(spec_hash(&a, None), spec_hash(&b, None));
        assert_ne!(
            spec_hash(&a, Some("config 1")),
            spec_hash(&a, Some("config 2"))
        );
        b["spec"]["containers"][0]["image"] = json!("x:2");
        assert_ne!(spec_hash(&a, None), spec_hash(&b, None));
    }
}
