//! Probes as the kubelet runs them: `httpGet` (any status from 200 to 399 succeeds) and
//! `tcpSocket` from the node's network namespace (so `host: 127.0.0.1` is the node's
//! loopback) against the pod's address unless `host` says otherwise, `exec` inside the
//! container (exit 0 succeeds); each within `timeoutSeconds`, every `periodSeconds`
//! after `initialDelaySeconds`, `failureThreshold` failures in a row to fail and
//! `successThreshold` successes to pass.

use super::podman::{Podman, strings};
use super::spec::port_number;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection from the node's network namespace (`node`: a process in it). A host name
/// other than `localhost` is looked up by the machine's resolver.
async fn connect(node: u32, host: &str, port: u16, limit: Duration) -> std::io::Result<TcpStream> {
    let ip: std::net::IpAddr = match host {
        "localhost" => std::net::Ipv4Addr::LOCALHOST.into(),
        h => match h.parse() {
            Ok(ip) => ip,
            Err(_) => tokio::net::lookup_host((h, port))
                .await?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("no address for {h}")))?
                .ip(),
        },
    };
    super::netns::connect(node, std::net::SocketAddr::new(ip, port), limit).await
}

/// What `podman exec` may add to an `exec` probe's time limit.
pub const EXEC_ALLOWANCE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Probe {
    kind: Kind,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub success_threshold: u32,
}

#[derive(Clone)]
enum Kind {
    Http {
        host: String,
        port: u16,
        path: String,
        headers: Vec<(String, String)>,
    },
    Tcp {
        host: String,
        port: u16,
    },
    Exec(Vec<String>),
}

impl Probe {
    /// The probe `v` of a container of `pod` (whose address is `pod_ip`); an error names
    /// a port that does not exist.
    pub fn parse(v: &Value, pod: &Value, pod_ip: &str) -> Result<Probe, String> {
        let secs = |k: &str, default: u64| {
            Duration::from_secs(v.get(k).and_then(Value::as_u64).unwrap_or(default))
        };
        let count =
            |k: &str, default: u64| v.get(k).and_then(Value::as_u64).unwrap_or(default) as u32;
        let host = |h: &Value| {
            h.get("host")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(pod_ip)
                .to_string()
        };
        let port = |h: &Value| {
            let p = h.get("port").cloned().unwrap_or(Value::Null);
            port_number(pod, &p).ok_or_else(|| format!("port {p} is not a port of the pod"))
        };
        let kind = if let Some(h) = v.get("httpGet") {
            Kind::Http {
                host: host(h),
                port: port(h)?,
                path: h
                    .get("path")
                    .and_then(Value::as_str)
                    .unwrap_or("/")
                    .to_string(),
                headers: h
                    .get("httpHeaders")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|x| {
                        let s =
                            |k: &str| x.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                        (s("name"), s("value"))
                    })
                    .collect(),
            }
        } else if let Some(t) = v.get("tcpSocket") {
            Kind::Tcp {
                host: host(t),
                port: port(t)?,
            }
        } else if let Some(e) = v.get("exec") {
            Kind::Exec(
                e.get("command")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect(),
            )
        } else {
            return Err("a probe needs httpGet, tcpSocket or exec".into());
        };
        Ok(Probe {
            kind,
            initial_delay: secs("initialDelaySeconds", 0),
            period: secs("periodSeconds", 10),
            timeout: secs("timeoutSeconds", 1),
            failure_threshold: count("failureThreshold", 3),
            success_threshold: count("successThreshold", 1),
        })
    }

    /// One try: `Err` with the kubelet's kind of message. An `exec` probe gets
    /// [`EXEC_ALLOWANCE`] more than its `timeoutSeconds`: `podman exec` itself takes that
    /// long on a busy machine, where a kubelet's exec through the runtime does not.
    pub async fn check(&self, podman: &Podman, container: &str, node: u32) -> Result<(), String> {
        let limit = match self.kind {
            Kind::Exec(_) => self.timeout + EXEC_ALLOWANCE,
            _ => self.timeout,
        };
        match tokio::time::timeout(limit, self.try_once(podman, container, node)).await {
            Ok(r) => r,
            Err(_) => Err(match &self.kind {
                Kind::Exec(cmd) => format!("command {cmd:?} timed out"),
                Kind::Http {
                    host, port, path, ..
                } => format!(
                    "Get \"http://{host}:{port}{path}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                ),
                Kind::Tcp { host, port } => format!("dial tcp {host}:{port}: i/o timeout"),
            }),
        }
    }

    async fn try_once(&self, podman: &Podman, container: &str, node: u32) -> Result<(), String> {
        match &self.kind {
            Kind::Tcp { host, port } => connect(node, host, *port, self.timeout)
                .await
                .map(|_| ())
                .map_err(|e| format!("dial tcp {host}:{port}: connect: {e}")),
            Kind::Http {
                host,
                port,
                path,
                headers,
            } => {
                let url = format!("http://{host}:{port}{path}");
                let mut tcp = connect(node, host, *port, self.timeout)
                    .await
                    .map_err(|e| format!("Get \"{url}\": dial tcp {host}:{port}: connect: {e}"))?;
                let mut req = format!(
                    "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.34\r\nAccept: */*\r\nConnection: close\r\n"
                );
                for (k, v) in headers {
                    req.push_str(&format!("{k}: {v}\r\n"));
                }
                req.push_str("\r\n");
                tcp.write_all(req.as_bytes())
                    .await
                    .map_err(|e| format!("Get \"{url}\": {e}"))?;
                let mut head = Vec::new();
                let mut buf = [0u8; 512];
                while !head.contains(&b'\n') && head.len() < 4096 {
                    let n = tcp
                        .read(&mut buf)
                        .await
                        .map_err(|e| format!("Get \"{url}\": {e}"))?;
                    if n == 0 {
                        break;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                let line = String::from_utf8_lossy(&head);
                let code: u16 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| format!("Get \"{url}\": malformed HTTP response"))?;
                if (200..400).contains(&code) {
                    Ok(())
                } else {
                    Err(format!("HTTP probe failed with statuscode: {code}"))
                }
            }
            Kind::Exec(cmd) => {
                let mut args = strings(&["exec", container]);
                args.extend(cmd.iter().cloned());
                match podman.run(&args).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(match e.code {
                        Some(code) => {
                            format!("command {cmd:?} exited with {code}: {}", e.stderr.trim())
                        }
                        None => e.stderr,
                    }),
                }
            }
        }
    }
}
