//! The pod network of one node: a podman bridge network with a /24 of its own, pods in
//! the lower half (each pod its own address, so two pods may listen on the same port),
//! Service addresses, the node's own address (.253) and the name server (.254) in the
//! upper half.
//!
//! Service addresses live on the host's loopback interface as /32s: the host answers ARP
//! for every local address, so a pod reaches them through its bridge whether or not the
//! bridge exists yet, and the node's proxies and name server can bind them before any
//! pod starts. Every address added is recorded in the node's state file, so a later run
//! of the same test removes what a crashed one left.
//!
//! The bridge's own hardware address is pinned once the node's pod is on it (see
//! [`Network::pin_bridge_address`]): every one of those addresses is reached through it.

use super::podman::{self, Podman, strings};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The block the node networks are carved from: `10.90.0.0/16` .. `10.99.255.0/24`.
const FIRST: u32 = u32::from_be_bytes([10, 90, 0, 0]);
const SUBNETS: u32 = 10 * 256;

pub struct Network {
    /// The podman network's name.
    pub name: String,
    /// `10.x.y.0`
    pub base: Ipv4Addr,
    /// The name server every pod of the network uses.
    pub dns: Ipv4Addr,
    added: Mutex<Vec<Ipv4Addr>>,
    state: PathBuf,
}

/// What a node leaves on the host besides podman objects, for the cleanup of a crashed
/// run.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub struct HostState {
    pub network: String,
    pub addresses: Vec<Ipv4Addr>,
}

impl Network {
    /// Creates the podman network with the first free /24 at or after one derived from
    /// the node's name (podman refuses a subnet another network or a host address uses).
    pub async fn create(podman: &Podman, name: &str, dir: &Path) -> Result<Network, String> {
        let start = name
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
            % SUBNETS;
        let mut last = String::new();
        for i in 0..SUBNETS {
            let base = Ipv4Addr::from(FIRST + ((start + i) % SUBNETS) * 256);
            let o = base.octets();
            let subnet = format!("{base}/24");
            let mut args = strings(&[
                "network",
                "create",
                "--driver",
                "bridge",
                "--subnet",
                &subnet,
                "--gateway",
                &format!("{}.{}.{}.1", o[0], o[1], o[2]),
                "--ip-range",
                &format!("{base}/25"),
                "--disable-dns",
            ]);
            args.extend(podman.label_args());
            args.push(name.to_string());
            match podman.run(&args).await {
                Ok(_) => {
                    let net = Network {
                        name: name.to_string(),
                        base,
                        dns: Ipv4Addr::new(o[0], o[1], o[2], 254),
                        added: Mutex::new(Vec::new()),
                        state: dir.join("host-state.json"),
                    };
                    net.save();
                    net.add_address(net.dns)?;
                    return Ok(net);
                }
                Err(e) if e.stderr.contains("already used") => last = e.stderr,
                Err(e) => return Err(format!("cannot create the pod network: {e}")),
            }
        }
        Err(format!("no free /24 for the pod network: {last}"))
    }

    /// Fixes the bridge's hardware address at the one it has now. A Linux bridge whose
    /// address was never set takes the lowest of its ports' addresses: it changes when a
    /// pod with a lower one joins and again when that pod leaves, and every pod that
    /// learned the old one (for the gateway, the name server and each Service address,
    /// all answered by the bridge) then sends into nothing until its ARP entry is given
    /// up, for tens of seconds, in which its DNS queries go unanswered. Called once the
    /// node's own pod, which lives as long as the node, is the bridge's only port, so no
    /// pod can have learned another address; a bridge whose address was set stays.
    pub async fn pin_bridge_address(&self, podman: &Podman) -> Result<(), String> {
        let fail = |e: String| format!("cannot pin the pod bridge's address: {e}");
        let net = podman
            .inspect("network", &self.name)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let bridge = net["network_interface"].as_str().ok_or_else(|| {
            fail(format!(
                "`podman network inspect` names no interface: {net}"
            ))
        })?;
        let sys = Path::new("/sys/class/net").join(bridge);
        let read = |f: &str| {
            std::fs::read_to_string(sys.join(f))
                .map(|s| s.trim().to_string())
                .map_err(|e| fail(format!("{}: {e}", sys.join(f).display())))
        };
        let mac = read("address")?;
        let out = std::process::Command::new("ip")
            .args(["link", "set", "dev", bridge, "address", &mac])
            .output()
            .map_err(|e| fail(format!("cannot run `ip`: {e}")))?;
        if !out.status.success() {
            return Err(fail(format!(
                "`ip link set dev {bridge} address {mac}`: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        // 3 is NET_ADDR_SET: the kernel no longer changes it with the ports.
        match read("addr_assign_type")?.as_str() {
            "3" => Ok(()),
            other => Err(fail(format!("{bridge}'s address is still of type {other}"))),
        }
    }

    /// The node's own address (its podman pod's, on this network).
    pub fn host_ip(&self) -> Ipv4Addr {
        let o = self.base.octets();
        Ipv4Addr::new(o[0], o[1], o[2], 253)
    }

    /// The addresses Services get, in the order the API server hands them out.
    pub fn service_ips(&self) -> Vec<String> {
        let o = self.base.octets();
        (128..253)
            .rev()
            .map(|n| Ipv4Addr::new(o[0], o[1], o[2], n).to_string())
            .collect()
    }

    /// Whether `ip` is a Service address of this network.
    pub fn is_service_ip(&self, ip: Ipv4Addr) -> bool {
        let (a, b) = (ip.octets(), self.base.octets());
        a[..3] == b[..3] && (128..253).contains(&a[3])
    }

    /// Puts `ip` on the loopback interface (recorded first, so a crash right after still
    /// leaves a record).
    pub fn add_address(&self, ip: Ipv4Addr) -> Result<(), String> {
        {
            let mut added = self.added.lock().unwrap();
            if added.contains(&ip) {
                return Ok(());
            }
            added.push(ip);
        }
        self.save();
        ip_addr("add", ip)
    }

    pub fn remove_address(&self, ip: Ipv4Addr) {
        let _ = ip_addr("del", ip);
        self.added.lock().unwrap().retain(|a| *a != ip);
        self.save();
    }

    fn save(&self) {
        let state = HostState {
            network: self.name.clone(),
            addresses: self.added.lock().unwrap().clone(),
        };
        let _ = std::fs::write(&self.state, serde_json::to_vec(&state).unwrap());
    }

    /// Removes the addresses and the network (blocking: called from `Drop`).
    pub fn remove_blocking(&self, conf_dir: &Path) {
        for ip in self.added.lock().unwrap().drain(..) {
            let _ = ip_addr("del", ip);
        }
        let _ = podman::run_blocking(conf_dir, &["network", "rm", "-f", &self.name]);
        let _ = std::fs::remove_file(&self.state);
    }
}

/// Removes what a crashed node recorded in `dir` (its addresses, its network).
pub fn remove_leftovers(dir: &Path, conf_dir: &Path) {
    let Ok(text) = std::fs::read(dir.join("host-state.json")) else {
        return;
    };
    let Ok(state) = serde_json::from_slice::<HostState>(&text) else {
        return;
    };
    for ip in state.addresses {
        let _ = ip_addr("del", ip);
    }
    if !state.network.is_empty() {
        let _ = podman::run_blocking(conf_dir, &["network", "rm", "-f", &state.network]);
    }
}

fn ip_addr(verb: &str, ip: Ipv4Addr) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(["addr", verb, &format!("{ip}/32"), "dev", "lo"])
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip addr {verb} {ip}/32 dev lo`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
