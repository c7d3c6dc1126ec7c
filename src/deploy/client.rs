//! The Kubernetes API client: configuration (kubeconfig, context, in-cluster) through
//! kube-rs, and one request function that retries what is transient.
//!
//! Requests are built with kube-core's URL builders and sent with `Client::send`, so the
//! status code and headers (`Retry-After`) stay visible to the retry policy; kube's own
//! retry layer is turned off so that there is exactly one, bounded, policy.

use super::api_status::ApiStatus;
use crate::net::{RetryPolicy, retry_after};
use kube::client::Body;
use std::path::PathBuf;
use std::time::Duration;

/// Up to 8 attempts a request; pauses from 50 ms, doubling, at most 10 s (or what the
/// server's `Retry-After` asks).
const RETRY: RetryPolicy = RetryPolicy {
    attempts: 8,
    first: Duration::from_millis(50),
    max: Duration::from_secs(10),
};

/// Where the cluster configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `--kubeconfig`; else `KUBECONFIG`, `~/.kube/config`, then in-cluster.
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// Give up on one request after this long (a hung connection is a transient failure).
    pub request_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("kubeconfig `{}` does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read kubeconfig `{}`", path.display())]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("no cluster configuration: {looked}, and no in-cluster service account")]
    NoConfig {
        looked: String,
        #[source]
        source: kube::config::InClusterError,
    },
    #[error("cannot load the kubeconfig context")]
    Context(#[source] kube::config::KubeconfigError),
    #[error("cannot build the Kubernetes client")]
    Build(#[source] kube::Error),
    #[error("{method} {path}: {status}")]
    Api {
        method: String,
        path: String,
        status: Box<ApiStatus>,
    },
    #[error("{method} {path}: gave up after {attempts} attempts")]
    Exhausted {
        method: String,
        path: String,
        attempts: u32,
        #[source]
        last: Box<ClientError>,
    },
    #[error("{method} {path}: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
        /// The short reason, for the retry line that names the server itself.
        reason: crate::net::Failure,
    },
    #[error("cannot build request for {0}")]
    Request(String),
}

impl crate::report::Hint for ClientError {
    fn hint(&self) -> Option<String> {
        matches!(self.code(), Some(401 | 403)).then(|| {
            "the kubeconfig user was refused: check its credentials (`--context`), and that it may manage the namespace's objects".into()
        })
    }
}

impl ClientError {
    /// The server's `Status`, when the server answered with one.
    pub fn status(&self) -> Option<&ApiStatus> {
        match self {
            ClientError::Api { status, .. } => Some(status),
            ClientError::Exhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<u16> {
        self.status().map(|s| s.code)
    }
}

/// A response read in full.
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub body: Vec<u8>,
    /// An earlier attempt failed in a way that may have reached the server (a dropped
    /// connection, a timeout, a 5xx): its change may be what this answer reports.
    pub maybe_committed_before: bool,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The client every deploy stage receives.
#[derive(Clone)]
pub struct Kube {
    client: kube::Client,
    /// The same configuration without read and write timeouts, for long-lived streams.
    streams: kube::Client,
    pub retry: RetryPolicy,
    /// The server's address, for messages.
    pub server: String,
}

impl Kube {
    /// The underlying kube-rs client, for what [`Kube::send`] cannot carry.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// A kube-rs client of the same cluster without read and write timeouts, for streams
    /// that may be quiet for long (port-forward websockets): through an upgraded
    /// connection, a read timeout would cut a tunnel whose server says nothing while a
    /// large upload goes the other way.
    pub fn stream_client(&self) -> &kube::Client {
        &self.streams
    }

    /// Loads the configuration the way kubectl does (see [`super::kubeconfig`]) and
    /// builds a client.
    pub async fn connect(options: &ClientOptions) -> Result<(Kube, String), ClientError> {
        use kube::config::KubeConfigOptions;
        let kc_options = KubeConfigOptions {
            context: options.context.clone(),
            ..Default::default()
        };
        let mut config = match super::kubeconfig::load(options.kubeconfig.as_deref())? {
            Some(loaded) => kube::Config::from_custom_kubeconfig(loaded.config, &kc_options)
                .await
                .map_err(|source| match &options.kubeconfig {
                    Some(path) => ClientError::Kubeconfig {
                        path: path.clone(),
                        source,
                    },
                    None => ClientError::Context(source),
                })?,
            None => kube::Config::incluster().map_err(|source| ClientError::NoConfig {
                looked: super::kubeconfig::looked_at(),
                source,
            })?,
        };
        config.default_retry = false;
        config.read_timeout = Some(options.request_timeout);
        config.connect_timeout = Some(options.request_timeout.min(Duration::from_secs(10)));
        let server = config.cluster_url.to_string();
        let default_ns = config.default_namespace.clone();
        let mut stream_config = config.clone();
        stream_config.read_timeout = None;
        stream_config.write_timeout = None;
        let client = kube::Client::try_from(config).map_err(ClientError::Build)?;
        let streams = kube::Client::try_from(stream_config).map_err(ClientError::Build)?;
        Ok((
            Kube {
                client,
                streams,
                retry: RETRY,
                server,
            },
            default_ns,
        ))
    }

    /// Sends one request, retrying transient failures (5xx, 429 with `Retry-After`,
    /// timeouts, dropped connections) with backoff and jitter. Every request this tool
    /// makes is idempotent (server-side apply, get, list, delete by name), so a retry of
    /// a request that was committed before its connection dropped is safe.
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> Result<Reply, ClientError> {
        let method = request.method().to_string();
        let path = request.uri().path().to_string();
        let server = crate::net::server_of(&self.server);
        let shown = match request.uri().path_and_query() {
            Some(pq) => format!("{server}{pq}"),
            None => format!("{server}{path}"),
        };
        let mut backoff = self.retry.start_for(&server);
        let mut maybe_committed_before = false;
        loop {
            let attempt = clone_request(&request);
            let traced = crate::net::trace(&method, &shown);
            let sent = self.client.send(attempt.map(Body::from)).await;
            traced.done(match &sent {
                Ok(resp) => Ok(resp.status().as_u16()),
                Err(e) => Err(crate::net::Failure::of(e).to_string()),
            });
            let transport =
                |e: &(dyn std::error::Error + 'static)| transport(&server, &method, &path, e);
            let err = match sent {
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    let retry_after = retry_after(resp.headers());
                    match resp.into_body().collect_bytes().await {
                        Ok(body) if code < 400 => {
                            return Ok(Reply {
                                code,
                                body: body.to_vec(),
                                maybe_committed_before,
                            });
                        }
                        Ok(body) => {
                            let status = Box::new(ApiStatus::from_body(code, &body));
                            let err = ClientError::Api {
                                method: method.clone(),
                                path: path.clone(),
                                status,
                            };
                            if !is_transient_code(code) {
                                return Err(err);
                            }
                            (err, retry_after)
                        }
                        Err(e) => (transport(&e), None),
                    }
                }
                Err(e) => (transport(&e), None),
            };
            let (err, retry_after) = err;
            if let ClientError::Transport { message, .. } = &err
                && is_tls_refusal(message)
            {
                // The server's certificate will not become valid on a retry.
                return Err(err);
            }
            // A 429 was refused before any work; anything else may have been committed.
            maybe_committed_before |= err.code() != Some(429);
            let reason = match &err {
                ClientError::Api { status, .. } => http::StatusCode::from_u16(status.code)
                    .map_or_else(|_| status.code.to_string(), |c| c.to_string()),
                ClientError::Transport { reason, .. } => reason.to_string(),
                other => other.to_string(),
            };
            match backoff.retry(retry_after, &reason) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => {
                    return Err(ClientError::Exhausted {
                        method,
                        path,
                        attempts: backoff.attempts(),
                        last: Box::new(err),
                    });
                }
            }
        }
    }
}

/// A request that got no answer: why, naming the server (`connection to
/// https://127.0.0.1:6443 refused`); a TLS refusal keeps the whole chain of causes.
fn transport(
    server: &str,
    method: &str,
    path: &str,
    e: &(dyn std::error::Error + 'static),
) -> ClientError {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let reason = crate::net::Failure::of(e);
    let message = match is_tls_refusal(&chain) {
        true => format!("TLS with {server} failed: {chain}"),
        false => reason.naming(server),
    };
    ClientError::Transport {
        method: method.to_string(),
        path: path.to_string(),
        message,
        reason,
    }
}

fn is_tls_refusal(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("certificate") || m.contains("unknownissuer") || m.contains("tls handshake")
}

fn is_transient_code(code: u16) -> bool {
    code == 429 || code >= 500
}

fn clone_request(r: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut out = http::Request::new(r.body().clone());
    *out.method_mut() = r.method().clone();
    *out.uri_mut() = r.uri().clone();
    *out.headers_mut() = r.headers().clone();
    out
}
