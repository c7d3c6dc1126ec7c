//! Deploy: the rendered tree to a Kubernetes cluster, in dependency order, waiting for
//! what each step needs, idempotent (server-side apply), with prune, status, teardown and
//! the one-shot database jobs.
//!
//! The stages receive a [`Context`] (client, namespace, deployment label) so tests hand
//! them a client for a fake API server.

pub mod api_status;
pub mod apply;
pub mod client;
pub mod discovery;
pub mod doomed;
pub mod forward;
pub mod infer;
pub mod kubeconfig;
pub mod live_diff;
pub mod manifest;
pub mod names;
pub mod ops;
pub mod order;
pub mod plan;
pub mod progress;
pub mod prune;
pub mod ready;
pub mod restarts;
pub mod rollout;
pub mod schedule;

use apply::{MANAGED_BY, MANAGED_BY_LABEL};
use client::{ClientError, ClientOptions, Kube};
use discovery::{Discovered, DiscoveryError, Resource};
use manifest::ObjectId;
use plan::Plan;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The namespace when neither `-n` nor the config file names one.
pub const DEFAULT_NAMESPACE: &str = "openstack";

/// What every deploy stage works against.
pub struct Context {
    pub kube: Kube,
    pub namespace: String,
    /// Value of the deployment label (the namespace's name).
    pub deployment: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("cannot connect to the cluster")]
    Connect(#[source] ClientError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("cannot list the deployment's {0} objects")]
    List(String, #[source] ClientError),
    #[error("cannot create namespace `{0}`")]
    Namespace(String, #[source] ClientError),
    #[error("namespace `{0}` is not valid: {1}")]
    InvalidNamespace(String, String),
    #[error("`{}`: a {kind} names namespace `{namespace}`, but the deployment's namespace is `{expected}`", file.display())]
    WrongNamespace {
        file: std::path::PathBuf,
        kind: String,
        namespace: String,
        expected: String,
    },
}

impl crate::report::Hint for DeployError {
    fn hint(&self) -> Option<String> {
        match self {
            DeployError::Connect(_) => Some(
                "name the cluster with `--kubeconfig FILE` and `--context NAME`, or set `KUBECONFIG`"
                    .into(),
            ),
            DeployError::Discovery(DiscoveryError::UnknownKind { .. }) => Some(
                "install the CustomResourceDefinition that serves the kind, or fix `apiVersion`/`kind`"
                    .into(),
            ),
            DeployError::WrongNamespace { namespace, .. } => Some(format!(
                "deploy with `-n {namespace}`, or remove `metadata.namespace` from the manifest so it follows `-n`"
            )),
            _ => None,
        }
    }
}

/// A run that did not complete: interrupted, or some objects failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    pub cause: FailureCause,
}

/// What a failed run's way out depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCause {
    Interrupted,
    /// An object whose change cannot be made in place (`--recreate` makes it).
    Immutable,
    /// A pod failed; its log was printed.
    PodFailed,
    /// An object was not ready in time.
    TimedOut,
    Other,
}

impl crate::report::Hint for Failure {
    fn hint(&self) -> Option<String> {
        Some(match self.cause {
            FailureCause::Interrupted => {
                "run `kube-openstack deploy` again: it converges from where this run stopped".into()
            }
            FailureCause::Immutable => {
                "pass `--recreate` to delete and recreate the objects that cannot change in place"
                    .into()
            }
            FailureCause::PodFailed => "the failed pod's log is above; once fixed, `kube-openstack deploy` (or `db-sync SERVICE`) runs it again".into(),
            FailureCause::TimedOut => {
                "`status` shows what is still pending; `--timeout` gives waits longer".into()
            }
            FailureCause::Other => return None,
        })
    }
}

impl Context {
    pub async fn connect(
        options: &ClientOptions,
        namespace: String,
    ) -> Result<Context, DeployError> {
        names::namespace(&namespace)
            .map_err(|why| DeployError::InvalidNamespace(namespace.clone(), why))?;
        let (kube, _) = Kube::connect(options).await.map_err(DeployError::Connect)?;
        Ok(Context {
            kube,
            deployment: namespace.clone(),
            namespace,
        })
    }

    /// Creates the namespace when it is missing. `Ok(true)`: it exists (or was created).
    pub async fn ensure_namespace(&self, dry_run: bool) -> Result<bool, DeployError> {
        let ns_res = Resource {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
            namespaced: false,
        };
        let err = |e| DeployError::Namespace(self.namespace.clone(), e);
        if ops::get(&self.kube, &ns_res, "", &self.namespace)
            .await
            .map_err(err)?
            .is_some()
        {
            return Ok(true);
        }
        if dry_run {
            return Ok(false);
        }
        let body = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": self.namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY}}});
        ops::apply(&self.kube, &ns_res, "", &self.namespace, &body, false)
            .await
            .map_err(err)?;
        Ok(true)
    }

    /// The deployment's live objects of each type, by `Kind/name`.
    pub async fn list_live(
        &self,
        types: &[Resource],
    ) -> Result<HashMap<ObjectId, (Resource, Value)>, DeployError> {
        let selector = apply::selector(&self.deployment);
        let lists = types.iter().map(|res| {
            let selector = selector.clone();
            async move {
                let items = ops::list(&self.kube, res, &self.namespace, &selector)
                    .await
                    .map_err(|e| DeployError::List(res.kind.clone(), e))?;
                Ok::<_, DeployError>((res, items))
            }
        });
        let mut out = HashMap::new();
        for r in futures::future::join_all(lists).await {
            let (res, items) = r?;
            for item in items {
                let name = item
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                out.insert(ObjectId::new(&res.kind, &name), (res.clone(), item));
            }
        }
        Ok(out)
    }

    /// What applying `plan` starts from: the resource of each node, the namespace (made
    /// unless a dry run), and the deployment's live objects of every type it may hold.
    pub async fn survey(&self, plan: &Plan, dry_run: bool) -> Result<Survey, DeployError> {
        let (discovered, resources) = resolve(self, plan).await?;
        let namespace_exists = self.ensure_namespace(dry_run).await?;
        let types = deployment_types(&discovered, &resources);
        let live = if namespace_exists {
            self.list_live(&types).await?
        } else {
            HashMap::new()
        };
        Ok(Survey {
            resources,
            namespace_exists,
            live,
        })
    }

    /// Every pod of the namespace (one list request): a workload's pods carry its
    /// template's labels, not the deployment's, so they are found by owner afterwards.
    pub async fn namespace_pods(&self) -> Result<Vec<Value>, DeployError> {
        let pods = rollout::pods_resource();
        ops::list(&self.kube, &pods, &self.namespace, "")
            .await
            .map_err(|e| DeployError::List(pods.kind.clone(), e))
    }

    /// The deployment's live pods (one list request, after discovery of `v1`).
    pub async fn list_pods(&self) -> Result<HashMap<ObjectId, (Resource, Value)>, DeployError> {
        let discovered = discovery::discover(&self.kube, &["v1"]).await?;
        let Some(pods) = discovered.get("v1", "Pod").cloned() else {
            return Ok(HashMap::new());
        };
        self.list_live(std::slice::from_ref(&pods)).await
    }
}

/// What the cluster holds for a plan (see [`Context::survey`]).
pub struct Survey {
    /// The resource of each node, in plan order.
    pub resources: Vec<Resource>,
    /// False only in a dry run whose namespace does not exist yet.
    pub namespace_exists: bool,
    /// The deployment's live objects, by `Kind/name`.
    pub live: HashMap<ObjectId, (Resource, Value)>,
}

impl Survey {
    /// The live objects without their resources.
    pub fn live_objects(&self) -> HashMap<ObjectId, Value> {
        self.live
            .iter()
            .map(|(id, (_, obj))| (id.clone(), obj.clone()))
            .collect()
    }
}

/// The group versions of the kinds of the default order, so `prune`, `status` and
/// `teardown` find objects of kinds no longer in the tree.
pub const KNOWN_API_VERSIONS: &[&str] = &["v1", "apps/v1", "batch/v1"];

/// Every resource type a deployment may hold: those of the tree, and the served kinds of
/// the default order (Namespace excepted: the deployment lives in it).
pub fn deployment_types(discovered: &Discovered, tree: &[Resource]) -> Vec<Resource> {
    let mut out: Vec<Resource> = Vec::new();
    for res in tree
        .iter()
        .cloned()
        .chain(
            order::KIND_ORDER
                .iter()
                .flat_map(|g| g.iter())
                .flat_map(|kind| {
                    KNOWN_API_VERSIONS
                        .iter()
                        .filter_map(move |v| discovered.get(v, kind))
                        .cloned()
                        .collect::<Vec<_>>()
                }),
        )
    {
        if res.namespaced && !out.contains(&res) {
            out.push(res);
        }
    }
    out
}

/// Resolves the plan's kinds: the resource of each node, in plan order.
pub async fn resolve(
    ctx: &Context,
    plan: &Plan,
) -> Result<(Discovered, Vec<Resource>), DeployError> {
    let manifests: Vec<&manifest::Manifest> = plan.nodes.iter().map(|n| &n.manifest).collect();
    let mut versions: Vec<&str> = manifests.iter().map(|m| m.api_version.as_str()).collect();
    versions.extend(KNOWN_API_VERSIONS);
    let discovered = discovery::discover(&ctx.kube, &versions).await?;
    let mut out = Vec::with_capacity(manifests.len());
    for m in manifests {
        let res = discovered
            .get(&m.api_version, &m.id.kind)
            .cloned()
            .ok_or_else(|| DiscoveryError::UnknownKind {
                file: m.file.clone(),
                kind: m.id.kind.clone(),
                api_version: m.api_version.clone(),
            })?;
        // As kubectl does: an object that names another namespace is not moved silently.
        if let Some(ns) = manifest::own_namespace(m)
            && res.namespaced
            && ns != ctx.namespace
        {
            return Err(DeployError::WrongNamespace {
                file: m.file.clone(),
                kind: m.id.kind.clone(),
                namespace: ns.to_string(),
                expected: ctx.namespace.clone(),
            });
        }
        out.push(res);
    }
    Ok((discovered, out))
}
