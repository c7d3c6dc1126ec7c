//! What the machine gives the end-to-end run (`real_tree.rs`) besides the cluster: the
//! provider cloud's Swift, reachable from the pods, and the deployment's memory use.
//!
//! The Swift of `scripts/dev-registry.sh` listens on 127.0.0.1 only, which is each pod's
//! own loopback, not the machine's. A provider Swift is at an address the cluster
//! routes to, so the run relays one: a port on the node network's gateway (the
//! machine's address on the pods' bridge), carried to that Swift. tempauth builds the
//! storage URL from the address it was asked on, so the pods store through the relay
//! into the same account and container as the machine's registry.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// `host:port` of the Swift of `scripts/dev-registry.sh` (its `KO_SWIFT_AUTH_URL`).
pub fn machine_swift() -> String {
    let url = std::env::var("KO_SWIFT_AUTH_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:8090/auth/v1.0".into());
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    rest.split('/').next().unwrap_or_default().to_string()
}

/// A TCP relay from `listen` to `to`, one thread per connection; it stops accepting
/// when dropped.
pub struct Relay {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Relay {
    pub fn start(listen: Ipv4Addr, to: &str) -> Relay {
        let listener = TcpListener::bind((listen, 0))
            .unwrap_or_else(|e| panic!("cannot listen on {listen} for the Swift relay: {e}"));
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let to = to.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let to = to.clone();
                std::thread::spawn(move || {
                    if let Ok(upstream) = TcpStream::connect(&to) {
                        pipe(client, upstream);
                    }
                });
            }
        });
        Relay { addr, stop }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Copies both ways until either side closes.
fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let one = std::thread::spawn(move || copy(a, b));
    copy(b2, a2);
    let _ = one.join();
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Samples, every 10 s, the memory of every container of one node (`podman stats`'
/// usage: the container's cgroup, page cache it can drop left out) and keeps the peak
/// of their sum.
pub struct MemorySampler {
    stop: Arc<AtomicBool>,
    peak: Arc<Mutex<Peak>>,
    handle: Option<JoinHandle<()>>,
}

/// What was seen: the peak sum in bytes, and how many containers it summed.
#[derive(Default, Clone, Copy)]
pub struct Peak {
    pub bytes: u64,
    pub containers: usize,
}

impl MemorySampler {
    /// Samples the containers carrying `label` (`KEY=VALUE`).
    pub fn start(label: String) -> MemorySampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(Mutex::new(Peak::default()));
        let (stopped, seen) = (stop.clone(), peak.clone());
        let handle = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let (bytes, containers) = sample(&label);
                let mut seen = seen.lock().unwrap();
                if bytes > seen.bytes {
                    *seen = Peak { bytes, containers };
                }
                drop(seen);
                for _ in 0..10 {
                    if stopped.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        });
        MemorySampler {
            stop,
            peak,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> Peak {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        *self.peak.lock().unwrap()
    }
}

/// The memory of the running containers carrying `label`, summed, and their number.
fn sample(label: &str) -> (u64, usize) {
    let ids = Command::new("podman")
        .args(["ps", "-q", "--filter", &format!("label={label}")])
        .output();
    let Ok(ids) = ids else { return (0, 0) };
    let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return (0, 0);
    }
    let out = Command::new("podman")
        .args(["stats", "--no-stream", "--format", "json"])
        .args(&ids)
        .output();
    let Ok(out) = out else { return (0, 0) };
    let stats: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let bytes = stats
        .iter()
        .filter_map(|s| s["mem_usage"].as_str())
        .filter_map(|u| size(u.split('/').next()?.trim()))
        .sum();
    (bytes, stats.len())
}

/// `51.18MB`, `237.6kB`, `1.2GB` (podman's decimal units) in bytes.
fn size(text: &str) -> Option<u64> {
    let at = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(at);
    let factor = match unit {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    Some((number.trim().parse::<f64>().ok()? * factor) as u64)
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn podman_sizes_are_read_in_decimal_units() {
        assert_eq!(size("51.18MB"), Some(51_180_000));
        assert_eq!(size("237.6kB"), Some(237_600));
        assert_eq!(size("0B"), Some(0));
        assert_eq!(size("x"), None);
    }
}
