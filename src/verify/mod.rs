//! `verify`: the deployed cloud checks itself. A one-shot pod of the tree's
//! `openstack-client` image runs `check.py` inside the cluster, with the credentials the
//! rendered tree gives its own pods: the admin's (the `OS_*` variables of the
//! `openstack-client` pod) and, for every service, the password its pods log in to
//! Keystone with (each container's `SERVICE_USER` and the Secret key behind its
//! `ADMIN_PASSWORD`). Only references to the Secrets go into the pod: no value passes
//! through this process. Each check is one JSON line of the pod's log.

use crate::deploy::Context;
use crate::deploy::apply::{DEPLOYMENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL};
use crate::deploy::client::ClientError;
use crate::deploy::discovery::Resource;
use crate::deploy::manifest::Manifest;
use crate::deploy::ops::{self, GoneError};
use crate::deploy::order::pod_spec;
use crate::deploy::ready::{Readiness, readiness};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The verify pod's name.
pub const POD: &str = "kube-openstack-verify";
/// The pod of the tree whose image and admin credentials the checks use.
pub const CLIENT_POD: &str = "openstack-client";
const SCRIPT: &str = include_str!("check.py");

/// One check, as the pod printed it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    pub service: String,
    pub check: String,
    pub ok: bool,
    #[serde(default)]
    pub detail: String,
}

/// A line of the pod's log: a check, or anything else (a traceback).
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Check(Check),
    Other(String),
}

impl Line {
    pub fn parse(text: &str) -> Line {
        match serde_json::from_str::<Check>(text) {
            Ok(check) => Line::Check(check),
            Err(_) => Line::Other(text.to_string()),
        }
    }
}

/// Where the pod's lines go as they come.
pub trait Progress: Sync {
    fn line(&self, line: &Line);
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "the rendered tree has no pod `{CLIENT_POD}` (its image and admin credentials are what the checks run with)"
    )]
    NoClient,
    #[error("pod `{CLIENT_POD}` of the rendered tree has no container with an image")]
    NoImage,
    #[error("cannot run pod `{POD}`")]
    Cluster(#[from] ClientError),
    #[error("the previous pod `{POD}` is not gone")]
    Gone(#[from] GoneError),
    #[error("pod `{POD}` did not finish within {0:?}")]
    TimedOut(Duration),
    #[error("pod `{POD}` checked nothing: {0}")]
    NothingChecked(String),
    #[error("{}", broken(.0))]
    Broken(Vec<(String, String)>),
}

fn broken(services: &[(String, String)]) -> String {
    let list: Vec<String> = services
        .iter()
        .map(|(service, why)| format!("{service} ({why})"))
        .collect();
    format!(
        "{} of the cloud's services failed their checks: {}",
        services.len(),
        list.join("; ")
    )
}

impl crate::report::Hint for VerifyError {
    fn hint(&self) -> Option<String> {
        match self {
            VerifyError::NoClient | VerifyError::NoImage => Some(format!(
                "render the shipped tree (or add a pod `{CLIENT_POD}` with the openstack CLI image and OS_* variables)"
            )),
            VerifyError::TimedOut(_) => Some("`--timeout` gives the checks longer".into()),
            VerifyError::NothingChecked(_) | VerifyError::Broken(_) => Some(
                "`kube-openstack status` shows which pods are not ready; once fixed, `kube-openstack verify` checks again".into(),
            ),
            _ => None,
        }
    }
}

/// The verify pod for `tree`, labelled as the deployment's (so `teardown` removes one a
/// stopped run left).
pub fn pod(tree: &[Manifest], namespace: &str, deployment: &str) -> Result<Value, VerifyError> {
    let client = tree
        .iter()
        .find(|m| m.id.kind == "Pod" && m.id.name == CLIENT_POD)
        .ok_or(VerifyError::NoClient)?;
    let container = client
        .body
        .pointer("/spec/containers/0")
        .filter(|c| c["image"].is_string())
        .ok_or(VerifyError::NoImage)?;
    let mut env: Vec<Value> = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["name"].as_str().is_some_and(|n| n.starts_with("OS_")))
        .cloned()
        .collect();
    let mut users = Vec::new();
    for (i, (user, source)) in service_users(tree).into_iter().enumerate() {
        let var = format!("KO_VERIFY_PASSWORD_{i}");
        users.push(format!("{user}:{var}"));
        env.push(json!({"name": var, "valueFrom": source}));
    }
    env.push(json!({"name": "KO_VERIFY_USERS", "value": users.join(" ")}));
    let mut spec = json!({
        "name": "verify",
        "image": container["image"],
        "args": ["python3", "-c", SCRIPT],
        "env": env,
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
    });
    if let Some(policy) = container.get("imagePullPolicy") {
        spec["imagePullPolicy"] = policy.clone();
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": POD,
            "namespace": namespace,
            "labels": {
                MANAGED_BY_LABEL: MANAGED_BY,
                DEPLOYMENT_LABEL: deployment,
                "app.kubernetes.io/name": POD,
            },
        },
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "containers": [spec],
        },
    }))
}

/// Every service user of the tree with where its pods read its password: a container's
/// `SERVICE_USER` value and its `ADMIN_PASSWORD`'s `valueFrom`. A user whose pods read
/// their password from different places is checked once per place.
fn service_users(tree: &[Manifest]) -> Vec<(String, Value)> {
    let mut found: BTreeMap<(String, String), Value> = BTreeMap::new();
    for m in tree {
        let Some(spec) = pod_spec(&m.id.kind, &m.body) else {
            continue;
        };
        for c in spec["containers"].as_array().into_iter().flatten() {
            let env = c["env"].as_array().cloned().unwrap_or_default();
            let named = |n: &str| env.iter().find(|e| e["name"] == n).cloned();
            let user = named("SERVICE_USER").and_then(|e| e["value"].as_str().map(str::to_string));
            let source = named("ADMIN_PASSWORD").and_then(|e| e.get("valueFrom").cloned());
            if let (Some(user), Some(source)) = (user, source) {
                found.insert((user, source.to_string()), source);
            }
        }
    }
    found.into_iter().map(|((user, _), s)| (user, s)).collect()
}

fn pods() -> Resource {
    Resource {
        api_version: "v1".into(),
        kind: "Pod".into(),
        plural: "pods".into(),
        namespaced: true,
    }
}

/// Runs the pod (a previous one deleted first), hands each line of its log to `progress`
/// as it comes, and returns the checks; the pod is deleted at the end.
pub async fn run(
    ctx: &Context,
    pod: &Value,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<Vec<Check>, VerifyError> {
    let res = pods();
    let ns = &ctx.namespace;
    if ops::delete(&ctx.kube, &res, ns, POD, false).await? {
        ops::wait_gone(&ctx.kube, &res, ns, POD, timeout).await?;
    }
    ops::apply(&ctx.kube, &res, ns, POD, pod, false).await?;
    let result = follow(ctx, &res, timeout, progress).await;
    let _ = ops::delete(&ctx.kube, &res, ns, POD, false).await;
    result
}

/// Polls the pod and its log twice a second until it ends.
async fn follow(
    ctx: &Context,
    res: &Resource,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<Vec<Check>, VerifyError> {
    let start = Instant::now();
    let mut printed = 0;
    let mut checks = Vec::new();
    let mut others = Vec::new();
    loop {
        let live = ops::get(&ctx.kube, res, &ctx.namespace, POD).await?;
        let phase = live
            .as_ref()
            .and_then(|p| p.pointer("/status/phase"))
            .and_then(Value::as_str)
            .unwrap_or("Pending");
        let done = matches!(phase, "Succeeded" | "Failed");
        if let Ok(text) = ops::logs(&ctx.kube, res, &ctx.namespace, POD).await {
            let fresh = text.get(printed..).unwrap_or_default();
            let upto = match done {
                true => fresh.len(),
                false => fresh.rfind('\n').map_or(0, |p| p + 1),
            };
            for l in fresh[..upto].lines().filter(|l| !l.trim().is_empty()) {
                let line = Line::parse(l);
                progress.line(&line);
                match line {
                    Line::Check(c) => checks.push(c),
                    Line::Other(text) => others.push(text),
                }
            }
            printed += upto;
        }
        if done {
            return finished(checks, &others, phase);
        }
        if let Some(Readiness::Failed(why)) = live.as_ref().map(|p| readiness("Pod", p)) {
            return Err(VerifyError::NothingChecked(why));
        }
        if start.elapsed() > timeout {
            return Err(VerifyError::TimedOut(timeout));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn finished(checks: Vec<Check>, others: &[String], phase: &str) -> Result<Vec<Check>, VerifyError> {
    if checks.is_empty() {
        let last = others.last().map_or("no output", String::as_str);
        return Err(VerifyError::NothingChecked(format!(
            "it ended {phase}, its last line: {last}"
        )));
    }
    if phase == "Failed" && checks.iter().all(|c| c.ok) {
        let last = others.last().map_or("no output", String::as_str);
        return Err(VerifyError::NothingChecked(format!(
            "it failed after {} checks that passed; its last line: {last}",
            checks.len()
        )));
    }
    Ok(checks)
}

impl VerifyError {
    /// The same error with the pod's words masked: a check's detail or a traceback line
    /// can echo a credential (the error goes to the terminal as it is).
    pub fn masked(self, masker: &crate::secrets::Masker) -> VerifyError {
        match self {
            VerifyError::NothingChecked(why) => VerifyError::NothingChecked(masker.mask(&why)),
            VerifyError::Broken(services) => VerifyError::Broken(
                services
                    .into_iter()
                    .map(|(service, why)| (service, masker.mask(&why)))
                    .collect(),
            ),
            other => other,
        }
    }
}

/// `Ok` when every check passed; else each broken service with the first reason.
pub fn outcome(checks: &[Check]) -> Result<(), VerifyError> {
    let mut broken: Vec<(String, String)> = Vec::new();
    for c in checks.iter().filter(|c| !c.ok) {
        if let Some((_, why)) = broken.iter_mut().find(|(s, _)| *s == c.service) {
            why.push_str(&format!(", {}", c.check));
        } else {
            broken.push((c.service.clone(), format!("{}: {}", c.check, c.detail)));
        }
    }
    match broken.is_empty() {
        true => Ok(()),
        false => Err(VerifyError::Broken(broken)),
    }
}

#[cfg(test)]
mod tests;
