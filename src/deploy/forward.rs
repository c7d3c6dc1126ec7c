//! Port-forward: a local TCP port on 127.0.0.1 that reaches a port of a pod through the
//! API server, as `kubectl port-forward` does, for servers reachable only inside the
//! cluster (the image registry, while `up` pushes to it).
//!
//! Each accepted local connection opens its own port-forward (one websocket,
//! `v4.channel.k8s.io`), so a connection whose tunnel breaks is closed alone and the
//! listener keeps accepting.

use super::Context;
use super::client::ClientError;
use super::discovery::Resource;
use super::ops;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How long a finished tunnel may take to close its websocket before it is left to end
/// on its own.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("cannot list the pods matching `{selector}` in namespace `{namespace}`")]
    List {
        selector: String,
        namespace: String,
        #[source]
        source: ClientError,
    },
    #[error(
        "no running and ready pod matches `{selector}` in namespace `{namespace}`{}",
        found_text(found)
    )]
    NoReadyPod {
        selector: String,
        namespace: String,
        /// The pods that matched, with why each was passed over.
        found: Vec<String>,
    },
    #[error("cannot listen on 127.0.0.1:{port}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("the API server refused to forward port {port} of pod `{pod}`: {code} {message}")]
    Refused {
        pod: String,
        port: u16,
        code: u16,
        message: String,
    },
    #[error("cannot open a port-forward to port {port} of pod `{pod}`")]
    Connect {
        pod: String,
        port: u16,
        #[source]
        source: kube::Error,
    },
    #[error("port {port} of pod `{pod}`: {message}")]
    Tunnel {
        pod: String,
        port: u16,
        message: String,
    },
}

fn found_text(found: &[String]) -> String {
    match found.is_empty() {
        true => " (no pod matches at all)".into(),
        false => format!(" (found: {})", found.join(", ")),
    }
}

/// A local TCP listener on 127.0.0.1 whose connections are each carried to
/// `remote_port` of one pod, through the API server's port-forward.
///
/// Dropping it stops accepting and aborts the open tunnels.
pub struct Forward {
    /// Where to connect (`127.0.0.1:PORT`).
    pub local: SocketAddr,
    /// The pod the connections reach.
    pub pod: String,
    /// The accept loop; it owns the tunnels' tasks, so aborting it ends them too.
    task: JoinHandle<()>,
    errors: Arc<Mutex<Vec<ForwardError>>>,
}

impl Forward {
    /// The errors of connections that ended with one, oldest first, taken (so a caller
    /// can report what broke a push).
    pub fn take_errors(&self) -> Vec<ForwardError> {
        std::mem::take(&mut *self.errors.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Picks a running and ready pod matching `selector` (a label selector) in the context's
/// namespace, checks that the API server lets us forward to it, binds
/// `127.0.0.1:local_port` (0: any free port) and spawns the accept loop on the current
/// Tokio runtime.
pub async fn start(
    ctx: &Context,
    selector: &str,
    remote_port: u16,
    local_port: u16,
) -> Result<Forward, ForwardError> {
    let pod = ready_pod(ctx, selector).await?;
    let pods: Api<Pod> = Api::namespaced(ctx.kube.stream_client().clone(), &ctx.namespace);
    // One tunnel up front, so a refusal (RBAC, a pod going away) is reported here rather
    // than as a reset connection in the middle of a push.
    let probe = open(&pods, &pod, remote_port).await?;
    probe.abort();
    let listener = TcpListener::bind(("127.0.0.1", local_port))
        .await
        .map_err(|source| ForwardError::Bind {
            port: local_port,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ForwardError::Bind {
        port: local_port,
        source,
    })?;
    let errors = Arc::new(Mutex::new(Vec::new()));
    let task = tokio::spawn(accept_loop(
        listener,
        pods,
        pod.clone(),
        remote_port,
        errors.clone(),
    ));
    Ok(Forward {
        local,
        pod,
        task,
        errors,
    })
}

/// The first (by name) running, ready and not terminating pod that matches.
async fn ready_pod(ctx: &Context, selector: &str) -> Result<String, ForwardError> {
    let pods = Resource {
        api_version: "v1".into(),
        kind: "Pod".into(),
        plural: "pods".into(),
        namespaced: true,
    };
    let items = ops::list(&ctx.kube, &pods, &ctx.namespace, selector)
        .await
        .map_err(|source| ForwardError::List {
            selector: selector.into(),
            namespace: ctx.namespace.clone(),
            source,
        })?;
    let mut ready = Vec::new();
    let mut found = Vec::new();
    for pod in &items {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match unready_reason(pod) {
            None => ready.push(name.to_string()),
            Some(why) => found.push(format!("`{name}` {why}")),
        }
    }
    ready.sort();
    ready
        .into_iter()
        .next()
        .ok_or_else(|| ForwardError::NoReadyPod {
            selector: selector.into(),
            namespace: ctx.namespace.clone(),
            found,
        })
}

/// Why a pod cannot take connections, or `None` when it can.
fn unready_reason(pod: &Value) -> Option<String> {
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return Some("is terminating".into());
    }
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    if phase != "Running" {
        return Some(format!("is {phase}"));
    }
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    (!ready).then(|| "is not ready".into())
}

async fn accept_loop(
    listener: TcpListener,
    pods: Api<Pod>,
    pod: String,
    port: u16,
    errors: Arc<Mutex<Vec<ForwardError>>>,
) {
    let mut tunnels = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // Accept errors (too many open files, an aborted handshake) are the
                // connection's; the listener stays.
                let Ok((local, _)) = accepted else { continue };
                let (pods, pod, errors) = (pods.clone(), pod.clone(), errors.clone());
                tunnels.spawn(async move {
                    if let Err(e) = carry(&pods, &pod, port, local).await {
                        errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                    }
                });
            }
            // Reap finished tunnels so the set does not grow with every connection.
            Some(_) = tunnels.join_next(), if !tunnels.is_empty() => {}
        }
    }
}

/// Carries one local connection through its own port-forward until either side ends.
async fn carry(
    pods: &Api<Pod>,
    pod: &str,
    port: u16,
    mut local: TcpStream,
) -> Result<(), ForwardError> {
    let mut forwarder = open(pods, pod, port).await?;
    let mut upstream = forwarder
        .take_stream(port)
        .expect("the forwarder has a stream for the port it was asked for");
    let error = forwarder
        .take_error(port)
        .expect("the forwarder has an error channel for the port it was asked for");
    let tunnel = |message: String| ForwardError::Tunnel {
        pod: pod.into(),
        port,
        message,
    };
    let result = tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut local, &mut upstream) => {
            copied.map(drop).map_err(|e| tunnel(e.to_string()))
        }
        // `None`: the forwarder ended without an error; the copy sees the end of stream.
        Some(message) = error => Err(tunnel(message)),
    };
    drop(local);
    drop(upstream);
    let _ = tokio::time::timeout(CLOSE_GRACE, forwarder.join()).await;
    result
}

/// Opens one port-forward websocket to `port` of `pod`.
async fn open(
    pods: &Api<Pod>,
    pod: &str,
    port: u16,
) -> Result<kube::api::Portforwarder, ForwardError> {
    pods.portforward(pod, &[port]).await.map_err(|e| match e {
        kube::Error::Api(status) => ForwardError::Refused {
            pod: pod.into(),
            port,
            code: status.code,
            message: status.message,
        },
        source => ForwardError::Connect {
            pod: pod.into(),
            port,
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::unready_reason;
    use serde_json::json;

    #[test]
    fn only_running_ready_and_live_pods_take_connections() {
        let ready = json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(unready_reason(&ready), None);
        let mut terminating = ready.clone();
        terminating["metadata"] = json!({"deletionTimestamp": "2024-01-01T00:00:00Z"});
        assert_eq!(unready_reason(&terminating).unwrap(), "is terminating");
        let pending = json!({"status": {"phase": "Pending"}});
        assert_eq!(unready_reason(&pending).unwrap(), "is Pending");
        let unready = json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}]}});
        assert_eq!(unready_reason(&unready).unwrap(), "is not ready");
    }
}
