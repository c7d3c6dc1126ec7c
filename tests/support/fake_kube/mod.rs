//! A fake Kubernetes API server for tests and benchmarks: a real HTTP server on
//! 127.0.0.1 that follows the API conventions the deploy engine relies on (discovery,
//! `Status` errors, server-side apply, dry run, graceful deletion, server-set metadata),
//! with simulated controllers, injected faults and a request log; or, started with
//! [`FakeKube::start_real`], with a node that runs every pod as real containers (podman)
//! and the controllers a cluster runs (`node/`, `workloads.rs`).
//!
//! No kube-apiserver can run where the tests run; this is the test target, so it stays
//! faithful to the documented behaviour rather than to what the client happens to do.

#![allow(dead_code)]

mod api;
mod conn;
mod controllers;
mod decode;
mod discovery;
pub mod events;
pub mod node;
mod objects;
pub mod portforward;
mod workloads;
mod writes;

use axum::body::Bytes;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Behaviour that tests choose: timings of the simulated controllers and faults.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every request.
    #[serde(with = "millis")]
    pub latency: Duration,
    /// Share of requests answered 500.
    pub error_rate: f64,
    /// Share answered 429 with `Retry-After: 1`.
    pub throttle_rate: f64,
    /// Share whose connection drops before the server does anything.
    pub drop_before_rate: f64,
    /// Share of writes whose connection drops after the change is committed.
    pub drop_after_rate: f64,
    /// Share of writes answered only after `stall`, once committed.
    pub stall_after_rate: f64,
    #[serde(with = "millis")]
    pub stall: Duration,
    /// Replication controllers and deployments are ready this long after a spec change.
    #[serde(with = "millis")]
    pub ready_delay: Duration,
    /// One-shot pods run this long (half Pending, half Running).
    #[serde(with = "millis")]
    pub pod_run_time: Duration,
    /// Pods (by name) that end `Failed`.
    pub fail_pods: Vec<String>,
    /// Workloads (by name) that never become ready.
    pub never_ready: Vec<String>,
    /// One-shot pods (by name) whose log, when they finish, is this text instead of the
    /// simulated migration's line (what a real command of theirs would print).
    pub pod_logs: std::collections::BTreeMap<String, String>,
    /// Replication controllers and DaemonSets run simulated pods, as the real controllers
    /// do: made from the template until `replicas` match the selector (one per DaemonSet),
    /// never replaced when an RC's template changes (nor an `OnDelete` DaemonSet's); the
    /// controller's status counts them. Off: a controller is only a status.
    pub rc_pods: bool,
    /// Pods (by name, or by their controller's name) whose container waits with this
    /// reason and message instead of starting (`ImagePullBackOff`, ...).
    pub pod_waiting: std::collections::BTreeMap<String, (String, String)>,
    /// Graceful deletion period of pods (and of foreground deletion).
    #[serde(with = "millis")]
    pub deletion_delay: Duration,
    pub seed: u64,
    /// When set, requests must carry `Authorization: Bearer TOKEN` (else 401).
    pub token: Option<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: Duration::ZERO,
            error_rate: 0.0,
            throttle_rate: 0.0,
            drop_before_rate: 0.0,
            drop_after_rate: 0.0,
            stall_after_rate: 0.0,
            stall: Duration::from_secs(5),
            ready_delay: Duration::from_millis(150),
            pod_run_time: Duration::from_millis(200),
            fail_pods: Vec::new(),
            never_ready: Vec::new(),
            pod_logs: Default::default(),
            rc_pods: false,
            pod_waiting: Default::default(),
            deletion_delay: Duration::from_millis(100),
            seed: 42,
            token: None,
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Fault {
    Error500,
    Throttle429,
    DropBeforeCommit,
    DropAfterCommit,
    StallAfterCommit,
}

/// One request as the server saw it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogEntry {
    pub method: String,
    pub path: String,
    pub query: String,
    /// 0 when the connection was dropped.
    pub code: u16,
    pub fault: Option<Fault>,
    pub start_ms: f64,
    pub end_ms: f64,
}

impl LogEntry {
    /// `Kind`-less object name of a write (`PATCH .../pods/NAME`), if it is one.
    pub fn name(&self) -> Option<&str> {
        self.path.rsplit('/').next()
    }

    pub fn is_apply(&self) -> bool {
        self.method == "PATCH" && !self.query.contains("dryRun")
    }
}

pub struct Shared {
    store: Mutex<objects::Store>,
    faults: Mutex<Faults>,
    log: Mutex<Vec<LogEntry>>,
    rng: Mutex<u64>,
    started: Instant,
    forwards: portforward::Forwards,
    /// The node running pods as real containers, when the cluster has one.
    node: std::sync::OnceLock<Arc<node::Node>>,
}

impl Shared {
    /// A number in [0, 1) from a seeded generator (splitmix64), so a run is repeatable.
    fn roll(&self) -> f64 {
        let mut s = self.rng.lock().unwrap();
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A running fake API server.
pub struct FakeKube {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    /// The CA that signed the server's certificate, when it serves TLS.
    pub ca_pem: Option<String>,
    runtime: tokio::runtime::Handle,
}

impl Drop for FakeKube {
    /// Removes what the real-pod node started (nothing for a simulated cluster).
    fn drop(&mut self) {
        if let Some(node) = self.shared.node.get() {
            node.shutdown();
        }
    }
}

impl FakeKube {
    /// Starts the server on a thread of its own (with its own runtime), so synchronous
    /// tests can use it.
    pub fn start(faults: Faults) -> FakeKube {
        Self::start_with("127.0.0.1:0".parse().unwrap(), faults, false)
    }

    /// The same on a given address (a client configured before the server came up).
    pub fn start_on(addr: SocketAddr, faults: Faults) -> FakeKube {
        Self::start_with(addr, faults, false)
    }

    /// The same over TLS, with a certificate from a CA of its own (see [`FakeKube::ca_pem`]).
    pub fn start_tls(faults: Faults) -> FakeKube {
        Self::start_with("127.0.0.1:0".parse().unwrap(), faults, true)
    }

    /// A cluster whose pods are real containers: a node named after the test (see
    /// [`node::NodeOptions`]) runs each pod with podman, and ReplicationControllers and
    /// DaemonSets make real pods. Everything the node started is removed when the
    /// returned value is dropped (also when the test panics). Fails when podman is
    /// missing or the node cannot set up its network.
    pub fn start_real(faults: Faults, node: node::NodeOptions) -> Result<FakeKube, String> {
        Self::start_real_on("127.0.0.1:0".parse().unwrap(), faults, node)
    }

    /// The same on a given address.
    pub fn start_real_on(
        addr: SocketAddr,
        faults: Faults,
        node: node::NodeOptions,
    ) -> Result<FakeKube, String> {
        let fake = Self::start_with(addr, faults, false);
        let shared = fake.shared.clone();
        let started = fake.block_on(async move {
            let n = node::Node::start(node, shared.clone()).await?;
            Ok::<_, String>(n)
        })?;
        fake.shared.store.lock().unwrap().cluster_ips = started.net.service_ips();
        let _ = fake.shared.node.set(started);
        Ok(fake)
    }

    /// The node of a real-pod cluster.
    pub fn node(&self) -> Option<&Arc<node::Node>> {
        self.shared.node.get()
    }

    /// Runs a future on the server's runtime (its node's tasks live there).
    fn block_on<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        let handle = self.runtime.clone();
        std::thread::spawn(move || handle.block_on(f))
            .join()
            .expect("no panic on the server's runtime")
    }

    fn start_with(addr: SocketAddr, faults: Faults, tls: bool) -> FakeKube {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (acceptor, ca_pem) = match tls {
                    true => {
                        let (a, pem) = conn::tls_acceptor();
                        (Some(a), Some(pem))
                    }
                    false => (None, None),
                };
                let (addr, shared, server) = serve_with(addr, faults, acceptor).await;
                let handle = tokio::runtime::Handle::current();
                tx.send((addr, shared, ca_pem, handle)).unwrap();
                server.await;
            });
        });
        let (addr, shared, ca_pem, runtime) = rx.recv().expect("fake API server starts");
        FakeKube {
            addr,
            shared,
            ca_pem,
            runtime,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Writes a kubeconfig pointing at this server (token auth, as a real one would use;
    /// with TLS, the server's CA as `certificate-authority-data`).
    pub fn write_kubeconfig(&self, path: &Path) {
        let mut text = kubeconfig(&self.url());
        if let Some(pem) = &self.ca_pem {
            use base64::Engine as _;
            let data = base64::engine::general_purpose::STANDARD.encode(pem);
            text = text.replace(
                "    server: ",
                &format!("    certificate-authority-data: {data}\n    server: "),
            );
        }
        std::fs::write(path, text).unwrap();
    }

    pub fn set_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.shared.faults.lock().unwrap());
    }

    pub fn log(&self) -> Vec<LogEntry> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// The stored object, as the server holds it.
    pub fn object(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let store = self.shared.store.lock().unwrap();
        store
            .objects
            .get(&(plural.to_string(), namespace.to_string(), name.to_string()))
            .map(|s| s.object.clone())
    }

    /// Every stored object of a type in a namespace, by name.
    pub fn objects(&self, plural: &str, namespace: &str) -> Vec<Value> {
        let store = self.shared.store.lock().unwrap();
        store
            .objects
            .iter()
            .filter(|((p, ns, _), _)| p == plural && ns == namespace)
            .map(|(_, s)| s.object.clone())
            .collect()
    }

    /// How many times any object was created, at most (more than 1: a duplicate).
    pub fn max_creations(&self) -> u32 {
        self.shared
            .store
            .lock()
            .unwrap()
            .creations
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// Stores an object directly, as if another client had made it.
    pub fn insert(&self, plural: &str, namespace: &str, object: Value) {
        let mut store = self.shared.store.lock().unwrap();
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let mut object = object;
        object["metadata"]["resourceVersion"] = json!(store.next_rv());
        object["metadata"]["uid"] = json!(store.next_uid());
        object["metadata"]["creationTimestamp"] = json!(objects::now_rfc3339());
        let stored = objects::Stored {
            object,
            applied: Default::default(),
            changed_at: Instant::now(),
            delete_at: None,
        };
        store
            .objects
            .insert((plural.to_string(), namespace.to_string(), name), stored);
    }
}

pub fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n    namespace: default\ncurrent-context: fake\nusers:\n- name: tester\n  user:\n    token: fake-token\n"
    )
}

/// Binds and returns the server's future (run it to serve).
pub async fn serve(
    addr: SocketAddr,
    faults: Faults,
) -> (
    SocketAddr,
    Arc<Shared>,
    impl std::future::Future<Output = ()>,
) {
    serve_with(addr, faults, None).await
}

async fn serve_with(
    addr: SocketAddr,
    faults: Faults,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (
    SocketAddr,
    Arc<Shared>,
    impl std::future::Future<Output = ()>,
) {
    let seed = faults.seed;
    let shared = Arc::new(Shared {
        store: Mutex::new(objects::Store::default()),
        faults: Mutex::new(faults),
        log: Mutex::new(Vec::new()),
        rng: Mutex::new(seed),
        started: Instant::now(),
        forwards: Default::default(),
        node: Default::default(),
    });
    // Namespaces every cluster has.
    for ns in ["default", "kube-system"] {
        let mut store = shared.store.lock().unwrap();
        let rv = store.next_rv();
        let uid = store.next_uid();
        let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "resourceVersion": rv, "uid": uid,
            "creationTimestamp": objects::now_rfc3339()}, "status": {"phase": "Active"}});
        store.objects.insert(
            ("namespaces".into(), String::new(), ns.into()),
            objects::Stored {
                object,
                applied: Default::default(),
                changed_at: Instant::now(),
                delete_at: None,
            },
        );
    }
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(portforward::ROUTE, axum::routing::any(portforward::handle))
        .fallback(api::handle)
        .with_state(shared.clone());
    let controllers = tokio::spawn(controllers::run(shared.clone()));
    let server = async move {
        let service = app.into_make_service_with_connect_info::<conn::Peer>();
        axum::serve(conn::KillableListener { tcp: listener, tls }, service)
            .await
            .unwrap();
        controllers.abort();
    };
    (addr, shared, server)
}

/// `/fake/...`: the control endpoints for scripts (the benchmark).
fn control(shared: &Shared, method: &Method, what: &str, body: &Bytes) -> Response {
    let json_reply =
        |v: Value| ([("content-type", "application/json")], v.to_string()).into_response();
    match (method.as_str(), what) {
        ("GET", "log") => json_reply(serde_json::to_value(&*shared.log.lock().unwrap()).unwrap()),
        ("GET", "faults") => {
            json_reply(serde_json::to_value(&*shared.faults.lock().unwrap()).unwrap())
        }
        ("PUT", "faults") => match serde_json::from_slice::<Faults>(body) {
            Ok(f) => {
                *shared.faults.lock().unwrap() = f;
                json_reply(json!({"ok": true}))
            }
            Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        },
        ("GET", "stats") => {
            let store = shared.store.lock().unwrap();
            let log = shared.log.lock().unwrap();
            let count = |f: Fault| log.iter().filter(|e| e.fault == Some(f)).count();
            json_reply(json!({
                "requests": log.len(),
                "objects": store.objects.len(),
                "max_creations": store.creations.values().copied().max().unwrap_or(0),
                "faults": {"500": count(Fault::Error500), "429": count(Fault::Throttle429),
                    "drop_before": count(Fault::DropBeforeCommit), "drop_after": count(Fault::DropAfterCommit)},
            }))
        }
        ("GET", "objects") => {
            let store = shared.store.lock().unwrap();
            let all: Vec<&Value> = store.objects.values().map(|s| &s.object).collect();
            json_reply(serde_json::to_value(all).unwrap())
        }
        _ => (
            axum::http::StatusCode::NOT_FOUND,
            "unknown control endpoint",
        )
            .into_response(),
    }
}
