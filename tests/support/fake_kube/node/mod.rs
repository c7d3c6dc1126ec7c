//! The real-pod node: a kubelet for the fake API server that runs every pod it binds as
//! real containers with podman (see ARCHITECTURE.md, "The test cluster").
//!
//! One node per fake cluster, named after its test. It binds every pod to itself, runs
//! each in a podman pod on a bridge network of its own (`network.rs`), answers Service
//! names and carries Service ports to ready pods (`services.rs`), writes pod status and
//! events back into the store, and serves `pods/log` from the containers' logs. When the
//! test ends (`FakeKube` dropped, also on a panic) it removes everything it started, by
//! its own labels and records; at start it removes what a crashed run of the same test
//! left.

pub mod container;
pub mod env;
pub mod logs;
pub mod netns;
pub mod network;
pub mod pod;
pub mod podman;
pub mod probe;
pub mod services;
pub mod spec;
pub mod status;
pub mod volumes;

use super::Shared;
use super::objects::{ApiError, Key, status as api_status};
use logs::{ContainerLogs, LogQuery};
use network::Network;
use podman::{INSTANCE_LABEL, Podman, TEST_LABEL};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The node's name (`spec.nodeName` of every pod).
pub const NODE_NAME: &str = "fake-node";
/// The cluster's DNS domain.
pub const DOMAIN: &str = "cluster.local";

/// The labels the only node has (for `nodeSelector`).
pub fn node_label(key: &str) -> Option<&'static str> {
    match key {
        "kubernetes.io/hostname" => Some(NODE_NAME),
        "kubernetes.io/os" => Some("linux"),
        "kubernetes.io/arch" => Some("amd64"),
        _ => None,
    }
}

/// What a test chooses about its node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Names everything the node starts (podman pods, containers, network, files): the
    /// test's name.
    pub name: String,
    /// First restart back-off and its cap: the kubelet's are 10 s and 5 min; tests may
    /// shorten them to see `CrashLoopBackOff` sooner.
    pub backoff: Duration,
    pub backoff_max: Duration,
}

impl NodeOptions {
    pub fn new(name: &str) -> NodeOptions {
        NodeOptions {
            name: name.to_string(),
            backoff: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
        }
    }
}

/// The kubelet's back-off before restart number `n` of a crashing container (0: the
/// first restart, at once) or pull number `n` of an image.
pub fn backoff_delay(opts: &NodeOptions, n: u32) -> Duration {
    if n == 0 {
        return Duration::ZERO;
    }
    let factor = 2u32.saturating_pow(n - 1);
    opts.backoff.saturating_mul(factor).min(opts.backoff_max)
}

struct Worker {
    stop: watch::Sender<Option<u64>>,
    handle: JoinHandle<()>,
}

/// One pod's container logs, for `pods/log`.
struct PodLogs {
    uid: String,
    containers: Vec<(String, ContainerLogs)>,
}

pub struct Node {
    pub opts: NodeOptions,
    /// `NAME.PID.N`: this node among others of the same test (other processes).
    pub instance: String,
    pub dir: PathBuf,
    pub podman: Podman,
    pub net: Network,
    /// The node's own address (`status.hostIP`, and every host-network pod's).
    pub host_ip: Ipv4Addr,
    /// The node's own podman pod: its network namespace is the node's network, where
    /// host-network pods run and probes are made from.
    pub node_pod: String,
    node_pid: std::sync::atomic::AtomicU32,
    /// The process whose network namespace is each pod's (for port-forward).
    netns: Mutex<HashMap<(String, String), u32>>,
    /// What pods find in their service account token file.
    pub token: String,
    logs: Mutex<HashMap<(String, String), PodLogs>>,
    workers: Mutex<HashMap<String, Worker>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The name server's thread (see [`services::serve_dns`]).
    dns: Mutex<Option<std::thread::JoinHandle<()>>>,
    stopping: AtomicBool,
    /// Creating podman objects holds it shared; cleanup holds it alone, so nothing is
    /// created after it ran.
    pub gate: tokio::sync::RwLock<()>,
    pub services: services::Services,
}

/// Where nodes keep their files: `$TMPDIR/kube-openstack-fake-node/NAME.PID.N/`.
fn root() -> PathBuf {
    std::env::temp_dir().join("kube-openstack-fake-node")
}

/// Test names as podman and file names take them.
fn sanitise(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.trim_matches('-').chars().take(40).collect()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl Node {
    /// Creates the node's directory, network and name server, after removing what a
    /// crashed run of the same test left.
    pub async fn start(opts: NodeOptions, shared: Arc<Shared>) -> Result<Arc<Node>, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        if !podman::installed() {
            return Err("podman is not installed (apt-get install podman runc catatonit)".into());
        }
        let name = sanitise(&opts.name);
        if name.is_empty() {
            return Err(format!("`{}` cannot name a node", opts.name));
        }
        let pid = std::process::id();
        let instance = format!("{name}.{pid}.{}", N.fetch_add(1, Ordering::Relaxed));
        let root = root();
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        set_mode(&root, 0o700);
        let dir = root.join(&instance);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        set_mode(&dir, 0o700);
        let podman = Podman::new(&dir, &name, &instance).map_err(|e| e.to_string())?;
        remove_leftovers(&podman, &name, &root, &dir).await;
        let net = Network::create(&podman, &format!("ko-{instance}"), &dir).await?;
        let host_ip = net.host_ip();
        let node_pod = format!("{instance}_node");
        let started = async {
            let pid = node_pod_start(&podman, &node_pod, &net, host_ip).await?;
            net.pin_bridge_address(&podman).await?;
            Ok::<_, String>(pid)
        };
        let node_pid = match started.await {
            Ok(pid) => pid,
            Err(e) => {
                remove_pods_blocking(&dir, &format!("label={INSTANCE_LABEL}={instance}"));
                net.remove_blocking(&dir);
                return Err(e);
            }
        };
        let token = shared
            .faults
            .lock()
            .unwrap()
            .token
            .clone()
            .unwrap_or_else(|| "fake-token".into());
        let node = Arc::new(Node {
            opts,
            instance,
            dir,
            podman,
            net,
            host_ip,
            node_pod,
            node_pid: std::sync::atomic::AtomicU32::new(node_pid),
            netns: Mutex::default(),
            token,
            logs: Mutex::default(),
            workers: Mutex::default(),
            tasks: Mutex::default(),
            dns: Mutex::default(),
            stopping: AtomicBool::new(false),
            gate: tokio::sync::RwLock::new(()),
            services: services::Services::default(),
        });
        *node.dns.lock().unwrap() = Some(services::serve_dns(shared.clone(), node.clone())?);
        let sync = tokio::spawn(run(shared, node.clone()));
        node.tasks.lock().unwrap().push(sync);
        Ok(node)
    }

    /// The process holding the node's network namespace.
    pub fn node_pid(&self) -> u32 {
        self.node_pid.load(Ordering::Relaxed)
    }

    pub fn set_netns(&self, key: &Key, pid: u32) {
        let k = (key.1.clone(), key.2.clone());
        self.netns.lock().unwrap().insert(k, pid);
    }

    pub fn forget_netns(&self, key: &Key) {
        let k = (key.1.clone(), key.2.clone());
        self.netns.lock().unwrap().remove(&k);
    }

    /// The process whose network namespace is pod `ns/name`'s, once it has one.
    pub fn netns_of(&self, ns: &str, name: &str) -> Option<u32> {
        let k = (ns.to_string(), name.to_string());
        self.netns.lock().unwrap().get(&k).copied()
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn spawn(&self, task: JoinHandle<()>) {
        self.tasks.lock().unwrap().push(task);
    }

    /// Removes every pod, container, network, address and file of this node (blocking:
    /// for `Drop`).
    pub fn shutdown(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        let _gate = self.gate.blocking_write();
        for (_, w) in self.workers.lock().unwrap().drain() {
            w.handle.abort();
        }
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        // Its socket is closed before the address goes: a next node may get this network.
        if let Some(dns) = self.dns.lock().unwrap().take() {
            let _ = dns.join();
        }
        self.services.close_all();
        let label = format!("label={INSTANCE_LABEL}={}", self.instance);
        remove_pods_blocking(&self.dir, &label);
        self.net.remove_blocking(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// `pods/log` of a pod of this node.
    pub fn log(&self, ns: &str, name: &str, q: &LogQuery) -> Result<String, ApiError> {
        let logs = self.logs.lock().unwrap();
        let bad = |m: String| api_status(400, "BadRequest", m, Value::Null);
        let Some(pod) = logs.get(&(ns.to_string(), name.to_string())) else {
            return Err(bad(format!(
                "container is not running yet in pod \"{name}\""
            )));
        };
        let names: Vec<&str> = pod.containers.iter().map(|(n, _)| n.as_str()).collect();
        let (cname, c) = match &q.container {
            Some(want) => pod
                .containers
                .iter()
                .find(|(n, _)| n == want)
                .ok_or_else(|| bad(format!("container {want} is not valid for pod {name}")))?,
            None if pod.containers.len() == 1 => &pod.containers[0],
            None => {
                return Err(bad(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    names.join(" ")
                )));
            }
        };
        let run = if q.previous {
            c.runs
                .len()
                .checked_sub(2)
                .map(|i| &c.runs[i])
                .ok_or_else(|| {
                    bad(format!(
                        "previous terminated container \"{cname}\" in pod \"{name}\" not found"
                    ))
                })?
        } else {
            c.runs.last().ok_or_else(|| {
                let why = match c.waiting.as_deref() {
                    Some("ErrImagePull") => "image can't be pulled".to_string(),
                    Some("ImagePullBackOff") => "trying and failing to pull image".to_string(),
                    Some(other) => other.to_string(),
                    None => "ContainerCreating".to_string(),
                };
                bad(format!(
                    "container \"{cname}\" in pod \"{name}\" is waiting to start: {why}"
                ))
            })?
        };
        Ok(logs::read(run, q))
    }

    fn pod_logs<'a>(
        map: &'a mut HashMap<(String, String), PodLogs>,
        key: &Key,
        uid: &str,
    ) -> &'a mut PodLogs {
        let entry = map
            .entry((key.1.clone(), key.2.clone()))
            .or_insert_with(|| PodLogs {
                uid: uid.to_string(),
                containers: Vec::new(),
            });
        if entry.uid != uid {
            *entry = PodLogs {
                uid: uid.to_string(),
                containers: Vec::new(),
            };
        }
        entry
    }

    /// Registers a pod's containers (in order) for `pods/log`.
    fn register_logs(&self, key: &Key, uid: &str, containers: &[String]) {
        let mut map = self.logs.lock().unwrap();
        let pod = Self::pod_logs(&mut map, key, uid);
        pod.containers = containers
            .iter()
            .map(|n| (n.clone(), ContainerLogs::default()))
            .collect();
    }

    pub fn add_run(&self, key: &Key, uid: &str, container: &str, log: PathBuf) {
        let mut map = self.logs.lock().unwrap();
        let pod = Self::pod_logs(&mut map, key, uid);
        if let Some((_, c)) = pod.containers.iter_mut().find(|(n, _)| n == container) {
            c.runs.push(log);
            c.waiting = None;
        }
    }

    pub fn set_waiting(&self, key: &Key, container: &str, reason: Option<&str>) {
        let mut map = self.logs.lock().unwrap();
        if let Some(pod) = map.get_mut(&(key.1.clone(), key.2.clone()))
            && let Some((_, c)) = pod.containers.iter_mut().find(|(n, _)| n == container)
        {
            c.waiting = reason.map(str::to_string);
        }
    }

    pub fn forget_logs(&self, key: &Key, uid: &str) {
        let mut map = self.logs.lock().unwrap();
        let k = (key.1.clone(), key.2.clone());
        if map.get(&k).is_some_and(|p| p.uid == uid) {
            map.remove(&k);
        }
    }
}

/// The node's podman pod: on the node network at the node's address, named as the
/// node; its infra process's id (whose network namespace is the node's).
async fn node_pod_start(
    podman: &Podman,
    name: &str,
    net: &Network,
    ip: Ipv4Addr,
) -> Result<u32, String> {
    let mut args = podman::strings(&[
        "pod",
        "create",
        "--name",
        name,
        "--network",
        &net.name,
        "--ip",
        &ip.to_string(),
        "--hostname",
        NODE_NAME,
    ]);
    args.extend(podman.label_args());
    let fail = |e: podman::PodmanError| format!("cannot start the node's own pod: {e}");
    podman.run(&args).await.map_err(fail)?;
    podman
        .run(&podman::strings(&["pod", "start", name]))
        .await
        .map_err(fail)?;
    let pod = podman.inspect("pod", name).await.map_err(fail)?;
    let infra = pod["InfraContainerID"].as_str().unwrap_or_default();
    let infra = podman.inspect("container", infra).await.map_err(fail)?;
    infra
        .pointer("/State/Pid")
        .and_then(Value::as_u64)
        .map(|p| p as u32)
        .ok_or_else(|| "the node's own pod has no process".to_string())
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

fn remove_pods_blocking(conf_dir: &Path, filter: &str) {
    let Ok(out) = podman::run_blocking(conf_dir, &["pod", "ps", "-q", "--filter", filter]) else {
        return;
    };
    let ids: Vec<&str> = out.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["pod", "rm", "-f", "-t", "0"];
        args.extend(ids);
        let _ = podman::run_blocking(conf_dir, &args);
    }
}

/// What earlier runs of the same test left when their process died: pods and networks
/// labelled with the test's name and a dead instance, the addresses and files recorded
/// in their directories.
async fn remove_leftovers(podman: &Podman, name: &str, root: &Path, own: &Path) {
    let dead = |instance: &str| {
        let mut parts = instance.rsplitn(3, '.');
        let _n = parts.next();
        let pid = parts.next().and_then(|p| p.parse::<u32>().ok());
        parts.next() == Some(name) && pid.is_some_and(|p| !alive(p))
    };
    let label = format!("{TEST_LABEL}={name}");
    for pod in podman.pods_labelled(&label).await {
        let instance = pod
            .pointer(&format!("/Labels/{}", INSTANCE_LABEL.replace('/', "~1")))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if dead(instance) {
            let id = pod["Id"].as_str().unwrap_or_default();
            let _ = podman
                .run(&podman::strings(&["pod", "rm", "-f", "-t", "0", id]))
                .await;
        }
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let file_name = e.file_name().to_string_lossy().into_owned();
        if e.path() != own && dead(&file_name) {
            network::remove_leftovers(&e.path(), own);
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    for net in podman.networks_labelled(&label).await {
        let instance = net
            .pointer(&format!("/labels/{}", INSTANCE_LABEL.replace('/', "~1")))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if dead(instance) {
            let n = net["name"].as_str().unwrap_or_default();
            let _ = podman
                .run(&podman::strings(&["network", "rm", "-f", n]))
                .await;
        }
    }
}

/// The node's loop: binds new pods, starts a worker for each, tells workers when their
/// pod is being deleted, and keeps the Services' proxies in step with the store.
async fn run(shared: Arc<Shared>, node: Arc<Node>) {
    loop {
        sync(&shared, &node);
        services::sync(&shared, &node).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sync(shared: &Arc<Shared>, node: &Arc<Node>) {
    let mut pods = Vec::new();
    {
        let mut store = shared.store.lock().unwrap();
        let keys: Vec<Key> = store
            .objects
            .keys()
            .filter(|k| k.0 == "pods")
            .cloned()
            .collect();
        for key in keys {
            let unbound = store.objects[&key]
                .object
                .pointer("/spec/nodeName")
                .is_none();
            if unbound {
                let rv = store.next_rv();
                let s = store.objects.get_mut(&key).expect("listed");
                s.object["spec"]["nodeName"] = json!(NODE_NAME);
                s.object["metadata"]["resourceVersion"] = json!(rv);
            }
            let obj = &store.objects[&key].object;
            if obj.pointer("/spec/nodeName").and_then(Value::as_str) != Some(NODE_NAME) {
                continue;
            }
            let grace = obj.pointer("/metadata/deletionTimestamp").map(|_| {
                obj.pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(30)
            });
            pods.push((key, obj.clone(), grace));
        }
    }
    let mut workers = node.workers.lock().unwrap();
    let live: std::collections::HashSet<String> = pods
        .iter()
        .map(|(_, o, _)| {
            o["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    for (key, obj, grace) in pods {
        let uid = obj["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match (workers.get(&uid), grace) {
            (Some(w), Some(g)) => {
                if w.stop.borrow().is_none() {
                    let _ = w.stop.send(Some(g));
                }
            }
            (Some(_), None) => {}
            (None, Some(_)) => {
                // Deleted before it ran: nothing to stop.
                shared.store.lock().unwrap().objects.remove(&key);
            }
            (None, None) => {
                if node.is_stopping() {
                    continue;
                }
                let (tx, rx) = watch::channel(None);
                let names: Vec<String> = obj["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect();
                node.register_logs(&key, &uid, &names);
                let ctx = Arc::new(pod::PodCtx::new(
                    shared.clone(),
                    node.clone(),
                    key.clone(),
                    obj,
                    rx,
                ));
                let handle = tokio::spawn(pod::run(ctx));
                workers.insert(uid, Worker { stop: tx, handle });
            }
        }
    }
    // Pods removed without a grace period (forced): stop their containers now.
    for (uid, w) in workers.iter() {
        if !live.contains(uid) && w.stop.borrow().is_none() {
            let _ = w.stop.send(Some(0));
        }
    }
    workers.retain(|_, w| !w.handle.is_finished());
}
