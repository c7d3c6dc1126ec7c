//! Operations on one object by name: get, list, server-side apply, delete, wait until
//! gone, logs. Every one goes through [`Kube::send`], so every one is retried.

use super::client::{ClientError, Kube};
use super::discovery::Resource;
use kube::api::{
    DeleteParams, GetParams, ListParams, LogParams, Patch, PatchParams, PropagationPolicy,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The field manager of every change this tool makes.
pub const FIELD_MANAGER: &str = "kube-openstack";

use super::names::path_segment as segment;

fn build(
    r: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<http::Request<Vec<u8>>, ClientError> {
    r.map_err(|e| ClientError::Request(e.to_string()))
}

/// The live object, or `None` when there is none.
pub async fn get(
    kube: &Kube,
    res: &Resource,
    ns: &str,
    name: &str,
) -> Result<Option<Value>, ClientError> {
    let req = build(res.request(ns).get(&segment(name), &GetParams::default()))?;
    match kube.send(req).await {
        Ok(reply) => Ok(Some(reply.json())),
        Err(e) if e.code() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every object of the type matching `selector`.
pub async fn list(
    kube: &Kube,
    res: &Resource,
    ns: &str,
    selector: &str,
) -> Result<Vec<Value>, ClientError> {
    let req = build(
        res.request(ns)
            .list(&ListParams::default().labels(selector)),
    )?;
    let reply = kube.send(req).await?;
    let mut body = reply.json();
    let mut items = match body.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    // List items come without `kind` and `apiVersion`; put them back so an item compares
    // equal to the same object read on its own.
    for item in &mut items {
        if let Some(o) = item.as_object_mut() {
            o.insert("apiVersion".into(), Value::String(res.api_version.clone()));
            o.insert("kind".into(), Value::String(res.kind.clone()));
        }
    }
    Ok(items)
}

/// Server-side apply of `body` (forcing conflicts: this tool owns the objects it renders).
/// Returns the HTTP code (201 when the apply created the object) and the object.
pub async fn apply(
    kube: &Kube,
    res: &Resource,
    ns: &str,
    name: &str,
    body: &Value,
    dry_run: bool,
) -> Result<Applied, ClientError> {
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    if dry_run {
        params = params.dry_run();
    }
    let req = build(
        res.request(ns)
            .patch(&segment(name), &params, &Patch::Apply(body)),
    )?;
    let reply = kube.send(req).await?;
    Ok(Applied {
        code: reply.code,
        object: reply.json(),
        maybe_committed_before: reply.maybe_committed_before,
    })
}

/// The server's answer to an apply.
pub struct Applied {
    /// 201 when the apply created the object.
    pub code: u16,
    pub object: Value,
    /// See [`super::client::Reply::maybe_committed_before`].
    pub maybe_committed_before: bool,
}

/// Deletes the object (foreground: a workload's pods go first). `Ok(false)`: it was not there.
pub async fn delete(
    kube: &Kube,
    res: &Resource,
    ns: &str,
    name: &str,
    dry_run: bool,
) -> Result<bool, ClientError> {
    let params = DeleteParams {
        dry_run,
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..DeleteParams::default()
    };
    let req = build(res.request(ns).delete(&segment(name), &params))?;
    match kube.send(req).await {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some(404) => Ok(false),
        Err(e) => Err(e),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GoneError {
    #[error("still there after {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Waits until the object no longer exists (graceful deletion takes a while).
pub async fn wait_gone(
    kube: &Kube,
    res: &Resource,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Result<(), GoneError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    while get(kube, res, ns, name).await?.is_some() {
        if start.elapsed() > timeout {
            return Err(GoneError::Timeout(timeout));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
    Ok(())
}

/// A pod's log; when the container is waiting to restart (a crash loop), the log of the
/// run that failed.
pub async fn logs(
    kube: &Kube,
    res: &Resource,
    ns: &str,
    name: &str,
) -> Result<String, ClientError> {
    let current = fetch_logs(kube, res, ns, name, false).await;
    match current {
        Ok(text) if !text.is_empty() => Ok(text),
        _ => match fetch_logs(kube, res, ns, name, true).await {
            Ok(text) if !text.is_empty() => Ok(text),
            _ => current,
        },
    }
}

async fn fetch_logs(
    kube: &Kube,
    res: &Resource,
    ns: &str,
    name: &str,
    previous: bool,
) -> Result<String, ClientError> {
    let params = LogParams {
        previous,
        ..LogParams::default()
    };
    let req = build(res.request(ns).logs(&segment(name), &params))?;
    let reply = kube.send(req).await?;
    Ok(String::from_utf8_lossy(&reply.body).into_owned())
}

/// Strips what the server adds (status, bookkeeping metadata), so a dry-run result and a
/// live object compare the way `kubectl diff` shows them.
pub fn normalise(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.remove(k);
        }
    }
    o
}
