//! Services as a cluster gives them: a name server on the node network that answers
//! `NAME`, `NAME.NS`, `NAME.NS.svc` and `NAME.NS.svc.cluster.local` with the Service's
//! address (with the ready pods' addresses for a headless Service), and for every TCP
//! port of a Service a small proxy on `SERVICE_IP:PORT` that carries each connection to
//! a ready pod the Service selects, at its `targetPort` (kube-proxy's old userspace
//! mode). Endpoints are chosen per connection, round robin, from the store, so a pod
//! that stops being ready stops receiving connections at once. A port listens only while
//! the Service has a ready pod: with none, connections are refused, as kube-proxy
//! rejects them.

use super::super::Shared;
use super::super::api::matches_selector;
use super::Node;
use super::spec::port_number;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use serde_json::Value;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A Service the node carries: its address and a proxy per port (while it has ready
/// pods).
struct Carried {
    uid: String,
    ip: Ipv4Addr,
    ports: Vec<u16>,
    proxies: Vec<Option<JoinHandle<()>>>,
}

#[derive(Default)]
pub struct Services {
    carried: Mutex<HashMap<(String, String), Carried>>,
}

impl Services {
    pub fn close_all(&self) {
        for (_, c) in self.carried.lock().unwrap().drain() {
            for p in c.proxies.into_iter().flatten() {
                p.abort();
            }
        }
    }
}

/// A Service as the proxies need it.
struct Svc {
    uid: String,
    ip: Option<Ipv4Addr>,
    ports: Vec<(u16, Value)>,
}

fn services(shared: &Shared) -> HashMap<(String, String), Svc> {
    let store = shared.store.lock().unwrap();
    store
        .objects
        .iter()
        .filter(|((plural, _, _), s)| plural == "services" && s.delete_at.is_none())
        .map(|((_, ns, name), s)| {
            let o = &s.object;
            let ip = o
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .and_then(|ip| ip.parse().ok());
            let ports = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|p| p["protocol"].as_str().unwrap_or("TCP") == "TCP")
                .filter_map(|p| {
                    let port = p["port"].as_u64().and_then(|n| u16::try_from(n).ok())?;
                    let target = p.get("targetPort").cloned().unwrap_or(Value::from(port));
                    Some((port, target))
                })
                .collect();
            let uid = o["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            ((ns.clone(), name.clone()), Svc { uid, ip, ports })
        })
        .collect()
}

/// Starts proxies for new Services and stops those of deleted ones; a freed address
/// goes back to the pool the API server assigns cluster addresses from.
pub async fn sync(shared: &Arc<Shared>, node: &Arc<Node>) {
    let wanted = services(shared);
    let mut gone = Vec::new();
    {
        let mut carried = node.services.carried.lock().unwrap();
        carried.retain(|key, c| {
            let keep = wanted.get(key).is_some_and(|s| {
                s.uid == c.uid
                    && s.ip == Some(c.ip)
                    && s.ports.iter().map(|p| p.0).collect::<Vec<_>>() == c.ports
            });
            if !keep {
                for p in c.proxies.drain(..).flatten() {
                    p.abort();
                }
                gone.push(c.ip);
            }
            keep
        });
    }
    for ip in gone {
        if !wanted.values().any(|s| s.ip == Some(ip)) {
            node.net.remove_address(ip);
            shared
                .store
                .lock()
                .unwrap()
                .cluster_ips
                .push(ip.to_string());
        }
    }
    for (key, svc) in wanted {
        let Some(ip) = svc.ip.filter(|ip| node.net.is_service_ip(*ip)) else {
            continue;
        };
        let known = node.services.carried.lock().unwrap().contains_key(&key);
        if !known {
            if let Err(e) = node.net.add_address(ip) {
                eprintln!("fake node: Service {}/{}: {e}", key.0, key.1);
                continue;
            }
            let ports = svc.ports.iter().map(|p| p.0).collect();
            let proxies = svc.ports.iter().map(|_| None).collect();
            node.services.carried.lock().unwrap().insert(
                key.clone(),
                Carried {
                    uid: svc.uid.clone(),
                    ip,
                    ports,
                    proxies,
                },
            );
        }
        for (i, (port, target)) in svc.ports.iter().enumerate() {
            let ready = !endpoints(shared, &key.0, &key.1, target).is_empty();
            let listening = node.services.carried.lock().unwrap()[&key].proxies[i].is_some();
            if ready == listening {
                continue;
            }
            let proxy_task = match ready {
                false => None,
                true => match TcpListener::bind((ip, *port)).await {
                    Ok(listener) => {
                        let (shared, key, target) = (shared.clone(), key.clone(), target.clone());
                        Some(tokio::spawn(proxy(shared, listener, key, target)))
                    }
                    Err(e) => {
                        eprintln!("fake node: Service {}/{} port {port}: {e}", key.0, key.1);
                        None
                    }
                },
            };
            let mut carried = node.services.carried.lock().unwrap();
            let slot = &mut carried.get_mut(&key).expect("inserted above").proxies[i];
            if let Some(old) = std::mem::replace(slot, proxy_task) {
                old.abort();
            }
        }
    }
}

/// The ready pods a Service selects, with the port `target` names on each.
fn endpoints(shared: &Shared, ns: &str, name: &str, target: &Value) -> Vec<SocketAddr> {
    let store = shared.store.lock().unwrap();
    let key = ("services".to_string(), ns.to_string(), name.to_string());
    let Some(selector) = store
        .objects
        .get(&key)
        .and_then(|s| s.object.pointer("/spec/selector"))
        .and_then(Value::as_object)
        .cloned()
    else {
        return Vec::new();
    };
    let selector: String = selector
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",");
    store
        .objects
        .iter()
        .filter(|((plural, pns, _), s)| {
            plural == "pods"
                && pns == ns
                && s.object.pointer("/metadata/deletionTimestamp").is_none()
                && matches_selector(s.object.pointer("/metadata/labels"), &selector)
                && ready(&s.object)
        })
        .filter_map(|(_, s)| {
            let ip: Ipv4Addr = s.object.pointer("/status/podIP")?.as_str()?.parse().ok()?;
            let port = port_number(&s.object, target)?;
            Some(SocketAddr::from((ip, port)))
        })
        .collect()
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

async fn proxy(shared: Arc<Shared>, listener: TcpListener, key: (String, String), target: Value) {
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let (shared, key, target, next) =
            (shared.clone(), key.clone(), target.clone(), next.clone());
        tokio::spawn(async move {
            let ends = endpoints(&shared, &key.0, &key.1, &target);
            let start = next.fetch_add(1, Ordering::Relaxed);
            for k in 0..ends.len() {
                let addr = ends[(start + k) % ends.len()];
                let conn =
                    tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await;
                if let Ok(Ok(mut upstream)) = conn {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    return;
                }
            }
            // No ready endpoint: the connection closes at once.
            drop(client);
        });
    }
}

/// The name server on the node network's DNS address, on a thread of its own, as a
/// cluster's DNS runs apart from its control plane: a query never waits behind the API
/// server's or the node's work. (A resolver whose query for `NAME.NS.svc.cluster.local`
/// goes unanswered for its timeout tries the bare `NAME` next, whose NXDOMAIN then
/// reports the name as unknown: a busy name server looks like a missing Service.) Every
/// query and its answer go to `dns.log` in the node's directory (milliseconds since the
/// epoch, client, type, name, response code), for a test to show when a lookup failed.
/// Ends once the node is stopping.
pub fn serve_dns(
    shared: Arc<Shared>,
    node: Arc<Node>,
) -> Result<std::thread::JoinHandle<()>, String> {
    let socket = std::net::UdpSocket::bind((node.net.dns, 53))
        .map_err(|e| format!("cannot serve DNS on {}:53: {e}", node.net.dns))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| format!("cannot serve DNS on {}:53: {e}", node.net.dns))?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(node.dir.join(DNS_LOG))
        .map_err(|e| format!("cannot open the name server's log: {e}"))?;
    std::thread::Builder::new()
        .name("fake-node-dns".into())
        .spawn(move || {
            use std::io::Write;
            let mut buf = vec![0u8; 1500];
            while !node.is_stopping() {
                // A timeout only lets the loop look at `stopping`.
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some((reply, said)) = answer(&shared, &buf[..n]) {
                    let _ = socket.send_to(&reply, from);
                    let ms = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis());
                    let _ = writeln!(log, "{ms} {} {said}", from.ip());
                }
            }
        })
        .map_err(|e| format!("cannot start the name server's thread: {e}"))
}

/// The name server's log in the node's directory (see [`serve_dns`]).
pub const DNS_LOG: &str = "dns.log";

/// The reply to one query, and what it said (`TYPE NAME RCODE`): authoritative for `cluster.local`, `NXDOMAIN` for every other
/// name (there is no upstream resolver for pods here).
fn answer(shared: &Shared, query: &[u8]) -> Option<(Vec<u8>, String)> {
    let request = Message::from_vec(query).ok()?;
    let mut reply = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.authoritative = true;
    let Some(q) = request.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return Some((reply.to_vec().ok()?, "- - FormErr".into()));
    };
    reply.add_query(q.clone());
    let name = q.name().to_lowercase().to_ascii();
    let name = name.trim_end_matches('.');
    match lookup(shared, name) {
        None => reply.metadata.response_code = ResponseCode::NXDomain,
        Some(ips) => {
            if q.query_type() == RecordType::A {
                for ip in ips {
                    reply.add_answer(Record::from_rdata(q.name().clone(), 5, RData::A(A(ip))));
                }
            }
        }
    }
    let said = format!(
        "{} {name} {:?}",
        q.query_type(),
        reply.metadata.response_code
    );
    Some((reply.to_vec().ok()?, said))
}

/// The addresses of `SERVICE.NS.svc.cluster.local`: the cluster address, or for a
/// headless Service its ready pods'.
fn lookup(shared: &Shared, name: &str) -> Option<Vec<Ipv4Addr>> {
    let rest = name.strip_suffix(&format!(".svc.{}", super::DOMAIN))?;
    let (svc, ns) = rest.split_once('.')?;
    if ns.contains('.') {
        return None;
    }
    let ip = {
        let store = shared.store.lock().unwrap();
        let key = ("services".to_string(), ns.to_string(), svc.to_string());
        let s = store.objects.get(&key)?;
        s.object
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("None")
            .to_string()
    };
    if ip == "None" {
        let ends = endpoints(shared, ns, svc, &Value::from(0));
        return Some(
            ends.iter()
                .filter_map(|a| match a.ip() {
                    std::net::IpAddr::V4(v4) => Some(v4),
                    _ => None,
                })
                .collect(),
        );
    }
    Some(ip.parse().ok().into_iter().collect())
}
