//! One pod on the node, from binding to removal: admission (fields the node cannot
//! honour), volumes, the sandbox (a podman pod: the network namespace its containers
//! share, on the node's network or the host's), its containers (`container.rs`), and on
//! deletion the grace period, then everything removed and the object released.

use super::super::objects::Key;
use super::super::{Shared, events};
use super::container;
use super::podman::strings;
use super::status::{Container, PodState, State};
use super::{Node, spec, volumes};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub struct PodCtx {
    pub shared: Arc<Shared>,
    pub node: Arc<Node>,
    pub key: Key,
    pub uid: String,
    /// The pod as it was bound (its spec cannot change but for images).
    pub pod: Value,
    /// The podman pod's name (for a host-network pod, what its containers' names start
    /// with: they run in the node's own podman pod).
    pub sandbox: String,
    /// Every podman container made for the pod, to remove with it.
    pub made: Mutex<Vec<String>>,
    /// Volumes, logs, env files: mode 0700, removed with the pod.
    pub dir: PathBuf,
    pub state: Mutex<PodState>,
    /// The grace period, in seconds, once the pod is being deleted.
    pub stop: watch::Receiver<Option<u64>>,
}

impl PodCtx {
    pub fn new(
        shared: Arc<Shared>,
        node: Arc<Node>,
        key: Key,
        pod: Value,
        stop: watch::Receiver<Option<u64>>,
    ) -> PodCtx {
        let uid = pod["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let plain: String = uid.chars().filter(|c| *c != '-').collect();
        let short = &plain[plain.len().saturating_sub(8)..];
        let sandbox = format!("{}_{}_{}_{short}", node.instance, key.1, key.2);
        let dir = node.dir.join("pods").join(&uid);
        let containers = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                Container::new(
                    c["name"].as_str().unwrap_or_default(),
                    c["image"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        let host_ip = node.host_ip.to_string();
        PodCtx {
            shared,
            node,
            key,
            uid,
            pod,
            sandbox,
            made: Mutex::default(),
            dir,
            state: Mutex::new(PodState::new(containers, &host_ip)),
            stop,
        }
    }

    pub fn ns(&self) -> &str {
        &self.key.1
    }

    pub fn name(&self) -> &str {
        &self.key.2
    }

    pub fn restart_policy(&self) -> &str {
        self.pod["spec"]["restartPolicy"]
            .as_str()
            .unwrap_or("Always")
    }

    pub fn host_network(&self) -> bool {
        self.pod["spec"]["hostNetwork"].as_bool() == Some(true)
    }

    /// The podman pod the containers run in: the pod's own, or the node's.
    pub fn podman_pod(&self) -> &str {
        if self.host_network() {
            &self.node.node_pod
        } else {
            &self.sandbox
        }
    }

    /// Writes the pod's status into the stored object (if it is still this pod).
    pub fn publish(&self) {
        let status = self.state.lock().unwrap().status(self.restart_policy());
        let mut store = self.shared.store.lock().unwrap();
        let same = store
            .objects
            .get(&self.key)
            .is_some_and(|s| s.object["metadata"]["uid"] == self.uid.as_str());
        if !same {
            return;
        }
        if store.objects[&self.key].object.get("status") == Some(&status) {
            return;
        }
        let rv = store.next_rv();
        let stored = store.objects.get_mut(&self.key).expect("checked");
        stored.object["status"] = status;
        stored.object["metadata"]["resourceVersion"] = json!(rv);
    }

    /// Changes container `i`'s record and publishes.
    pub fn update(&self, i: usize, f: impl FnOnce(&mut Container)) {
        f(&mut self.state.lock().unwrap().containers[i]);
        self.publish();
    }

    pub fn event(&self, kind: &str, reason: &str, message: &str) {
        let mut store = self.shared.store.lock().unwrap();
        let mut involved = self.pod.clone();
        involved["kind"] = json!("Pod");
        involved["apiVersion"] = json!("v1");
        events::record(&mut store, &involved, kind, reason, message, "kubelet");
    }

    /// Sleeps for `d`; `true` when the pod is being deleted (now or during the sleep).
    pub async fn sleep_or_stop(&self, d: Duration) -> bool {
        let mut stop = self.stop.clone();
        let stopped = tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = stop.wait_for(Option::is_some) => true,
        };
        stopped || self.stop.borrow().is_some()
    }

    pub fn stopping(&self) -> bool {
        self.stop.borrow().is_some() || self.node.is_stopping()
    }

    pub fn grace(&self) -> u64 {
        self.stop.borrow().unwrap_or(0)
    }

    async fn wait_stop(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(Option::is_some).await;
    }

    /// Marks every container as unable to start for `reason` and publishes it.
    fn block(&self, reason: &str, message: &str) {
        let mut state = self.state.lock().unwrap();
        state.blocked = Some((reason.to_string(), message.to_string()));
        for c in &mut state.containers {
            c.state = State::Waiting {
                reason: reason.to_string(),
                message: message.to_string(),
            };
        }
        drop(state);
        self.publish();
    }
}

/// The whole life of a pod on the node.
pub async fn run(ctx: Arc<PodCtx>) {
    ctx.publish();
    if let Err(e) = std::fs::create_dir_all(&ctx.dir) {
        ctx.block(
            "CreateContainerConfigError",
            &format!("cannot create the pod directory: {e}"),
        );
        ctx.wait_stop().await;
        return finish(&ctx).await;
    }
    let unsupported = spec::unsupported(&ctx.pod);
    if !unsupported.is_empty() {
        let message = format!("the test node cannot honour: {}", unsupported.join("; "));
        ctx.event("Warning", "Unsupported", &message);
        ctx.block("CreateContainerConfigError", &message);
        ctx.wait_stop().await;
        return finish(&ctx).await;
    }
    let volumes = loop {
        let prepared = {
            let store = ctx.shared.store.lock().unwrap();
            volumes::prepare(&store, ctx.ns(), &ctx.pod, &ctx.dir, &ctx.node.token)
        };
        match prepared {
            Ok(v) => break v,
            Err(message) => {
                ctx.event("Warning", "FailedMount", &message);
                if ctx.sleep_or_stop(Duration::from_secs(2)).await {
                    return finish(&ctx).await;
                }
            }
        }
    };
    loop {
        match sandbox(&ctx).await {
            Ok(ip) => {
                ctx.state.lock().unwrap().pod_ip = ip;
                ctx.publish();
                break;
            }
            Err(message) => {
                ctx.event(
                    "Warning",
                    "FailedCreatePodSandBox",
                    &format!("Failed to create pod sandbox: {message}"),
                );
                if ctx.sleep_or_stop(Duration::from_secs(5)).await {
                    return finish(&ctx).await;
                }
            }
        }
    }
    let count = ctx.state.lock().unwrap().containers.len();
    let volumes = Arc::new(volumes);
    let runs = (0..count).map(|i| container::run(&ctx, i, &volumes));
    futures::future::join_all(runs).await;
    ctx.wait_stop().await;
    finish(&ctx).await;
}

/// The node's address for the pod (`Err`: why the sandbox could not be made): a podman
/// pod on the node network, or for a host-network pod the node's own.
async fn sandbox(ctx: &PodCtx) -> Result<String, String> {
    if ctx.host_network() {
        let pid = ctx.node.node_pid();
        ctx.node.set_netns(&ctx.key, pid);
        return Ok(ctx.node.host_ip.to_string());
    }
    let _gate = ctx.node.gate.read().await;
    if ctx.stopping() {
        return Err("the pod is being deleted".into());
    }
    let podman = &ctx.node.podman;
    let _ = podman
        .run(&strings(&["pod", "rm", "-f", "-t", "0", &ctx.sandbox]))
        .await;
    let spec = &ctx.pod["spec"];
    let mut args = strings(&["pod", "create", "--name", &ctx.sandbox]);
    args.extend(podman.label_args());
    args.extend(strings(&[
        "--label",
        &format!("io.kubernetes.pod.namespace={}", ctx.ns()),
        "--label",
        &format!("io.kubernetes.pod.name={}", ctx.name()),
    ]));
    let hostname = spec["hostname"].as_str().unwrap_or(ctx.name());
    let hostname: String = hostname.chars().take(63).collect();
    args.extend(strings(&[
        "--network",
        &ctx.node.net.name,
        "--hostname",
        &hostname,
    ]));
    dns_args(ctx, &mut args);
    for alias in spec["hostAliases"].as_array().into_iter().flatten() {
        let ip = alias["ip"].as_str().unwrap_or_default();
        for h in alias["hostnames"].as_array().into_iter().flatten() {
            args.push("--add-host".into());
            args.push(format!("{}:{ip}", h.as_str().unwrap_or_default()));
        }
    }
    podman.run(&args).await.map_err(|e| e.to_string())?;
    podman
        .run(&strings(&["pod", "start", &ctx.sandbox]))
        .await
        .map_err(|e| e.to_string())?;
    let pod = podman
        .inspect("pod", &ctx.sandbox)
        .await
        .map_err(|e| e.to_string())?;
    let infra = pod["InfraContainerID"].as_str().unwrap_or_default();
    let infra = podman
        .inspect("container", infra)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(pid) = infra.pointer("/State/Pid").and_then(Value::as_u64) {
        ctx.node.set_netns(&ctx.key, pid as u32);
    }
    infra
        .pointer(&format!(
            "/NetworkSettings/Networks/{}/IPAddress",
            ctx.node.net.name
        ))
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "the sandbox has no address on the pod network".to_string())
}

/// Name resolution per `dnsPolicy`: the node's name server with the namespace's search
/// path (`ClusterFirst`; on the host network only with `ClusterFirstWithHostNet`), the
/// host's (`Default`), or `dnsConfig` alone (`None`): servers, searches, options.
pub fn dns_config(ctx: &PodCtx) -> (Vec<String>, Vec<String>, Vec<String>) {
    let spec = &ctx.pod["spec"];
    let policy = spec["dnsPolicy"].as_str().unwrap_or("ClusterFirst");
    let cluster = match policy {
        "ClusterFirst" => !ctx.host_network(),
        "ClusterFirstWithHostNet" => true,
        _ => false,
    };
    let mut servers = Vec::new();
    let mut searches = Vec::new();
    let mut options = Vec::new();
    if cluster {
        servers.push(ctx.node.net.dns.to_string());
        let ns = ctx.ns();
        searches.extend([
            format!("{ns}.svc.{}", super::DOMAIN),
            format!("svc.{}", super::DOMAIN),
            super::DOMAIN.to_string(),
        ]);
        options.push("ndots:5".to_string());
    }
    let config = &spec["dnsConfig"];
    let strs = |k: &str| -> Vec<String> {
        config[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    servers.extend(strs("nameservers"));
    searches.extend(strs("searches"));
    for o in config["options"].as_array().into_iter().flatten() {
        let name = o["name"].as_str().unwrap_or_default();
        options.push(match o["value"].as_str() {
            Some(v) => format!("{name}:{v}"),
            None => name.to_string(),
        });
    }
    (servers, searches, options)
}

fn dns_args(ctx: &PodCtx, args: &mut Vec<String>) {
    let (servers, searches, options) = dns_config(ctx);
    for s in servers {
        args.extend(["--dns".to_string(), s]);
    }
    for s in searches {
        args.extend(["--dns-search".to_string(), s]);
    }
    for o in options {
        args.extend(["--dns-option".to_string(), o]);
    }
}

/// The `resolv.conf` of a host-network pod, whose containers share the node's network
/// namespace but not its name resolution (the host's, unless the policy says cluster).
pub fn resolv_conf(ctx: &PodCtx) -> String {
    let (servers, searches, options) = dns_config(ctx);
    if servers.is_empty() && searches.is_empty() {
        return std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    }
    let mut text = String::new();
    for s in servers {
        text.push_str(&format!("nameserver {s}\n"));
    }
    if !searches.is_empty() {
        text.push_str(&format!("search {}\n", searches.join(" ")));
    }
    if !options.is_empty() {
        text.push_str(&format!("options {}\n", options.join(" ")));
    }
    text
}

/// Removes the pod's containers and sandbox, its files and its logs, then the object
/// (still this pod).
async fn finish(ctx: &PodCtx) {
    let grace = ctx.grace().to_string();
    let podman = &ctx.node.podman;
    let made: Vec<String> = ctx.made.lock().unwrap().clone();
    if !made.is_empty() {
        let mut args = strings(&["rm", "-f", "-i", "-t", &grace]);
        args.extend(made);
        let _ = podman.run(&args).await;
    }
    if !ctx.host_network() {
        let _ = podman
            .run(&strings(&["pod", "rm", "-f", "-t", &grace, &ctx.sandbox]))
            .await;
    }
    let _ = std::fs::remove_dir_all(&ctx.dir);
    ctx.node.forget_logs(&ctx.key, &ctx.uid);
    ctx.node.forget_netns(&ctx.key);
    let mut store = ctx.shared.store.lock().unwrap();
    let mine = store
        .objects
        .get(&ctx.key)
        .is_some_and(|s| s.object["metadata"]["uid"] == ctx.uid.as_str());
    if mine {
        store.objects.remove(&ctx.key);
    }
}
