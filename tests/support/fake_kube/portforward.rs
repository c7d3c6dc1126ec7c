//! The `pods/{name}/portforward` subresource over WebSocket, as kube-apiserver and the
//! kubelet serve it to kube-rs and to `kubectl port-forward`:
//!
//! - `GET .../pods/NAME/portforward?ports=P1,P2` with a WebSocket upgrade; the server
//!   picks `v4.channel.k8s.io` (the only binary channel protocol of port-forward; `v5` is
//!   exec/attach only), or no subprotocol when the client asks for none;
//! - binary frames whose first byte is the channel: `2i` data and `2i+1` error of the
//!   `i`-th port; the server first sends, on each channel, the port as 2 bytes little
//!   endian, then data; an error is one text message on the error channel, after which
//!   the server closes;
//! - a missing pod is a 404 `Status`; a pod without a node a 400 `Status`; no `ports` a
//!   400 with the kubelet's plain text; a pod that is not running upgrades, then reports
//!   the runtime's error on the error channel (as containerd does once its sandbox is
//!   gone);
//! - when the pod goes away (deleted, once its grace period ends) or the upstream
//!   closes, the server closes the websocket.
//!
//! A simulated pod has no container: [`FakeKube::forward_port`] says where its port
//! really is (a registry, an echo server on 127.0.0.1). On the real-pod node a port is
//! the pod's loopback, reached from inside its network namespace as the kubelet does. A
//! port with nowhere to go gets the runtime's "connection refused" on its error channel.

use super::objects::{ApiError, status};
use super::{FakeKube, LogEntry, Shared};
use axum::body::Bytes;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

/// The route of the subresource (core group only: pods are `v1`).
pub const ROUTE: &str = "/api/v1/namespaces/{ns}/pods/{name}/portforward";

/// The binary channel protocol kube-apiserver speaks for port-forward.
const V4_BINARY: &str = "v4.channel.k8s.io";

/// Any pod, in [`FakeKube::forward_port`].
pub const ANY_POD: &str = "*";

/// Where each pod port really is: `(pod name or "*", port) -> address`.
#[derive(Default)]
pub struct Forwards(Mutex<HashMap<(String, u16), SocketAddr>>);

impl Forwards {
    fn target(&self, pod: &str, port: u16) -> Option<SocketAddr> {
        let map = self.0.lock().unwrap();
        map.get(&(pod.to_string(), port))
            .or_else(|| map.get(&(ANY_POD.to_string(), port)))
            .copied()
    }
}

impl FakeKube {
    /// Connects port-forwards to `port` of pod `pod` (or of any pod, with [`ANY_POD`])
    /// to `to`, a real server.
    pub fn forward_port(&self, pod: &str, port: u16, to: SocketAddr) {
        forward(&self.shared, pod, port, to);
    }
}

/// [`FakeKube::forward_port`] for a server started with [`super::serve`].
pub fn forward(shared: &Shared, pod: &str, port: u16, to: SocketAddr) {
    let mut map = shared.forwards.0.lock().unwrap();
    map.insert((pod.to_string(), port), to);
}

pub async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((ns, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let started = shared.started.elapsed();
    let reply = answer(&shared, &ns, &name, &uri, &headers, upgrade);
    let code = match &reply {
        Ok(_) => 101,
        Err(r) => r.status().as_u16(),
    };
    shared.log.lock().unwrap().push(LogEntry {
        method: "GET".into(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        code,
        fault: None,
        start_ms: started.as_secs_f64() * 1000.0,
        end_ms: shared.started.elapsed().as_secs_f64() * 1000.0,
    });
    reply.unwrap_or_else(|r| r)
}

/// The checks in the order the API server and then the kubelet make them: the upgrade,
/// or the refusal (both are responses, the error only stops at the first refusal).
#[allow(clippy::result_large_err)]
fn answer(
    shared: &Arc<Shared>,
    ns: &str,
    name: &str,
    uri: &Uri,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Response> {
    let token = shared.faults.lock().unwrap().token.clone();
    if let Some(token) = token {
        let sent = headers.get("authorization").and_then(|v| v.to_str().ok());
        if sent != Some(format!("Bearer {token}").as_str()) {
            let e = status(401, "Unauthorized", "Unauthorized".into(), Value::Null);
            return Err(api_error(e));
        }
    }
    let pod = {
        let store = shared.store.lock().unwrap();
        let key = ("pods".to_string(), ns.to_string(), name.to_string());
        store.objects.get(&key).map(|s| s.object.clone())
    };
    let Some(pod) = pod else {
        let e = status(
            404,
            "NotFound",
            format!("pods \"{name}\" not found"),
            json!({"name": name, "kind": "pods"}),
        );
        return Err(api_error(e));
    };
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
        .to_string();
    // No scheduler here: a pod that has started running counts as placed on a node.
    if phase == "Pending" && pod.pointer("/spec/nodeName").is_none() {
        let e = status(
            400,
            "BadRequest",
            format!("pod {name} does not have a host assigned"),
            Value::Null,
        );
        return Err(api_error(e));
    }
    let ports = ports(uri).map_err(|m| text(StatusCode::BAD_REQUEST, m))?;
    let upgrade =
        upgrade.map_err(|_| text(StatusCode::BAD_REQUEST, "Upgrade request required".into()))?;
    let offered: Vec<String> = upgrade
        .requested_protocols()
        .filter_map(|p| p.to_str().ok().map(str::to_string))
        .collect();
    let upgrade = match offered.is_empty() {
        true => upgrade,
        false if offered.iter().any(|p| p == V4_BINARY) => upgrade.protocols([V4_BINARY]),
        false => {
            let m = format!(
                "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server supports [\"{V4_BINARY}\"]"
            );
            return Err(text(StatusCode::FORBIDDEN, m));
        }
    };
    let sandbox = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or(name)
        .replace('-', "");
    // On the real-pod node a pod's port is its loopback's, as the kubelet reaches it.
    let netns = shared.node.get().and_then(|n| n.netns_of(ns, name));
    let tunnel = Tunnel {
        shared: shared.clone(),
        key: ("pods".into(), ns.into(), name.into()),
        ports,
        running: phase == "Running",
        sandbox,
        netns,
    };
    Ok(upgrade.on_upgrade(move |socket| tunnel.run(socket)))
}

/// The `ports` query parameter: repeated, comma-separated, or both.
fn ports(uri: &Uri) -> Result<Vec<u16>, String> {
    let query = uri.query().unwrap_or("");
    let mut out = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k != "ports" {
            continue;
        }
        for p in v.split(',').filter(|p| !p.is_empty()) {
            let port: u16 = p
                .trim()
                .parse()
                .map_err(|e| format!("unable to parse \"{p}\" as a port: {e}"))?;
            if port == 0 {
                return Err(format!("port \"{p}\" must be > 0"));
            }
            out.push(port);
        }
    }
    match out.is_empty() {
        true => Err("query parameter \"port\" is required".into()),
        false => Ok(out),
    }
}

fn api_error(e: ApiError) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = [("content-type", "application/json")];
    (code, headers, e.body.to_string()).into_response()
}

/// The kubelet answers its own errors in plain text, which the API server passes on.
fn text(code: StatusCode, message: String) -> Response {
    (
        code,
        [("content-type", "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

struct Tunnel {
    shared: Arc<Shared>,
    key: (String, String, String),
    ports: Vec<u16>,
    running: bool,
    sandbox: String,
    /// On the real-pod node: a process in the pod's network namespace.
    netns: Option<u32>,
}

/// What a port's upstream reader hands the websocket writer.
enum Upstream {
    Data(usize, Bytes),
    Closed(usize),
}

impl Tunnel {
    async fn run(self, socket: WebSocket) {
        let (mut tx, mut rx) = socket.split();
        for (i, port) in self.ports.iter().enumerate() {
            for channel in [2 * i, 2 * i + 1] {
                let frame = frame(channel, &port.to_le_bytes());
                if tx.send(frame).await.is_err() {
                    return;
                }
            }
        }
        let (up_tx, mut up_rx) = mpsc::channel::<Upstream>(16);
        let mut writers: Vec<Option<OwnedWriteHalf>> = Vec::new();
        let mut readers = Vec::new();
        for (i, &port) in self.ports.iter().enumerate() {
            match self.connect(port).await {
                Ok(tcp) => {
                    let (r, w) = tcp.into_split();
                    writers.push(Some(w));
                    readers.push(tokio::spawn(read_upstream(i, r, up_tx.clone())));
                }
                Err(message) => {
                    writers.push(None);
                    let _ = tx.send(frame(2 * i + 1, message.as_bytes())).await;
                }
            }
        }
        drop(up_tx);
        let mut open = writers.iter().filter(|w| w.is_some()).count();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        while open > 0 {
            tokio::select! {
                msg = rx.next() => match msg {
                    Some(Ok(Message::Binary(b))) if b.len() > 1 => {
                        let (channel, data) = (b[0] as usize, &b[1..]);
                        if channel % 2 != 0 {
                            continue;
                        }
                        if let Some(Some(w)) = writers.get_mut(channel / 2)
                            && w.write_all(data).await.is_err()
                        {
                            writers[channel / 2] = None;
                            open -= 1;
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
                up = up_rx.recv() => match up {
                    Some(Upstream::Data(i, data)) => {
                        if tx.send(frame(2 * i, &data)).await.is_err() {
                            break;
                        }
                    }
                    Some(Upstream::Closed(i)) => {
                        if writers[i].take().is_some() {
                            open -= 1;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    if !self.shared.store.lock().unwrap().objects.contains_key(&self.key) {
                        break;
                    }
                }
            }
        }
        for r in readers {
            r.abort();
        }
        let _ = tx.send(Message::Close(None)).await;
    }

    /// The pod's port, as the container runtime would reach it, or the runtime's error.
    async fn connect(&self, port: u16) -> Result<TcpStream, String> {
        let prefix = format!(
            "error forwarding port {port} to pod {}, uid : ",
            self.sandbox
        );
        if !self.running {
            let sandbox = &self.sandbox;
            return Err(format!(
                "{prefix}failed to find sandbox \"{sandbox}\" in store: not found"
            ));
        }
        let refused = || {
            format!(
                "{prefix}failed to execute portforward in network namespace \"/var/run/netns/cni-fake\": failed to connect to localhost:{port} inside namespace \"{}\", IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 [::1]:{port}: connect: connection refused ",
                self.sandbox
            )
        };
        if let Some(pid) = self.netns {
            let local = SocketAddr::from(([127, 0, 0, 1], port));
            return super::node::netns::connect(pid, local, Duration::from_secs(5))
                .await
                .map_err(|_| refused());
        }
        let target = self.shared.forwards.target(&self.key.2, port);
        let target = target.ok_or_else(refused)?;
        TcpStream::connect(target).await.map_err(|_| refused())
    }
}

async fn read_upstream(
    i: usize,
    mut r: tokio::net::tcp::OwnedReadHalf,
    tx: mpsc::Sender<Upstream>,
) {
    let mut buf = vec![0; 32 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let data = Bytes::copy_from_slice(&buf[..n]);
                if tx.send(Upstream::Data(i, data)).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = tx.send(Upstream::Closed(i)).await;
}

fn frame(channel: usize, data: &[u8]) -> Message {
    let mut b = Vec::with_capacity(data.len() + 1);
    b.push(channel as u8);
    b.extend_from_slice(data);
    Message::Binary(b.into())
}
