//! What every network client shares: one way to build an HTTP client (user agent,
//! timeouts, the certificates it trusts), one retry policy (bounded exponential backoff
//! with jitter; a server's `Retry-After` wins), one way to say why a request failed
//! (naming the server), and one [`Observer`] that is told of every request and every
//! retry (the printer: `retrying (2/4) SERVER: REASON`, the `--debug` trace, a spinner
//! while a request is slow). Each client still decides what is worth retrying: only it
//! knows which of its requests are safe to send twice.

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What every request says it comes from.
pub const USER_AGENT: &str = concat!("kube-openstack/", env!("CARGO_PKG_VERSION"));

/// Which certificates a client trusts.
#[derive(Debug, Clone, Default)]
pub enum Trust {
    /// The system's roots.
    #[default]
    System,
    /// Only the CAs of this PEM file (a private cloud's own CA, `--os-cacert`).
    Only(PathBuf),
    /// The system's roots and the CAs of this PEM file (`--registry-ca`).
    Also(PathBuf),
}

#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// For the whole request; `None` for requests that may take long (downloads are
    /// bounded by their own limits).
    pub timeout: Option<Duration>,
    pub connect_timeout: Duration,
    pub trust: Trust,
    /// Accept any certificate (`--insecure`, for tests).
    pub insecure: bool,
    /// Follow redirects (off where a redirect is part of the protocol, as Heat's 302).
    pub follow_redirects: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Some(Duration::from_secs(60)),
            connect_timeout: Duration::from_secs(10),
            trust: Trust::System,
            insecure: false,
            follow_redirects: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot read the CA certificates in `{}`", path.display())]
    ReadCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` holds no usable PEM certificate", path.display())]
    BadCa {
        path: PathBuf,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot set up the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// An HTTP client as `options` say; every client of the tool is made here.
pub fn http_client(options: &HttpOptions) -> Result<reqwest::Client, HttpError> {
    crate::rt::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .user_agent(USER_AGENT);
    if let Some(timeout) = options.timeout {
        builder = builder.timeout(timeout);
    }
    if !options.follow_redirects {
        builder = builder.redirect(reqwest::redirect::Policy::none());
    }
    builder = match &options.trust {
        Trust::System => builder,
        Trust::Only(path) => builder.tls_certs_only(certificates(path)?),
        Trust::Also(path) => builder.tls_certs_merge(certificates(path)?),
    };
    if options.insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(HttpError::Build)
}

fn certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, HttpError> {
    let pem = crate::files::read(path).map_err(|source| HttpError::ReadCa {
        path: path.to_path_buf(),
        source,
    })?;
    reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| HttpError::BadCa {
        path: path.to_path_buf(),
        source,
    })
}

/// Bounded retries: the n-th pause lies between `first`·2ⁿ⁻¹ and twice that (jitter, so
/// clients that failed together do not retry together), never longer than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub first: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The retry state of one request to `server` (named in the retry notices).
    pub fn start_for(&self, server: &str) -> Backoff {
        Backoff {
            server: Some(server.to_string()),
            ..self.start()
        }
    }

    /// The retry state of one request.
    pub fn start(&self) -> Backoff {
        let pauses = ExponentialBuilder::default()
            .with_min_delay(self.first)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.attempts.saturating_sub(1) as usize)
            .build();
        Backoff {
            pauses,
            attempts: 1,
            of: self.attempts,
            max: self.max,
            server: None,
            deadline: None,
        }
    }
}

/// The retry state of one request: how many attempts so far, and the next pause.
pub struct Backoff {
    pauses: ExponentialBackoff,
    attempts: u32,
    of: u32,
    max: Duration,
    server: Option<String>,
    deadline: Option<Instant>,
}

impl Backoff {
    /// Attempts made so far (the first included).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The pause before the next attempt, or `None` when the attempts are used up. A
    /// `Retry-After` from the server wins over the computed pause (capped by `max`).
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        let computed = self.pauses.next()?;
        let pause = retry_after.unwrap_or(computed).min(self.max);
        if self
            .deadline
            .is_some_and(|end| Instant::now() + pause >= end)
        {
            return None;
        }
        self.attempts += 1;
        Some(pause)
    }

    /// No retry that would start at or after `deadline` (a budget for the whole call).
    pub fn until(mut self, deadline: Instant) -> Backoff {
        self.deadline = Some(deadline);
        self
    }

    /// As [`Backoff::next_delay`], telling the observer that attempt n of N comes after
    /// the pause, and why (a backoff made by [`RetryPolicy::start_for`] names its server).
    pub fn retry(&mut self, retry_after: Option<Duration>, reason: &str) -> Option<Duration> {
        let pause = self.next_delay(retry_after)?;
        if let (Some(o), Some(server)) = (observer(), &self.server) {
            o.retrying(&Retrying {
                server,
                attempt: self.attempts,
                of: self.of,
                reason,
                pause,
            });
        }
        Some(pause)
    }
}

/// A failed attempt that will be made again.
pub struct Retrying<'a> {
    pub server: &'a str,
    /// The attempt coming next (2 for the first retry), of `of` in all.
    pub attempt: u32,
    pub of: u32,
    pub reason: &'a str,
    pub pause: Duration,
}

/// One request, as the `--debug` trace shows it.
pub struct Exchange<'a> {
    pub method: &'a str,
    /// Without user info or fragment; secret-looking query values replaced.
    pub url: &'a str,
    /// The status code, or why there was none.
    pub outcome: Result<u16, String>,
    pub elapsed: Duration,
}

/// Told of every request and retry of every client (Kubernetes, Keystone, Heat, the
/// registry, template downloads). The printer is the one implementation; it is set once
/// per process, so stages need not carry it to every client they build.
pub trait Observer: Send + Sync {
    /// A request goes out (`id` is unique in the process).
    fn started(&self, id: u64, server: &str);
    /// It got an answer, or failed.
    fn finished(&self, id: u64, exchange: &Exchange);
    fn retrying(&self, retrying: &Retrying);
}

static OBSERVER: OnceLock<Box<dyn Observer>> = OnceLock::new();

/// Sets the process's observer; the first one set stays.
pub fn observe(observer: Box<dyn Observer>) {
    let _ = OBSERVER.set(observer);
}

fn observer() -> Option<&'static dyn Observer> {
    OBSERVER.get().map(|o| o.as_ref())
}

/// One request on its way: [`Traced::done`] reports it; dropped unfinished (cancelled),
/// it is reported as such.
pub struct Traced {
    id: u64,
    method: String,
    url: String,
    started: Instant,
    done: bool,
}

/// Starts tracing a request to `url`.
pub fn trace(method: &str, url: &str) -> Traced {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let url = shown_url(url);
    if let Some(o) = observer() {
        o.started(id, &server_of(&url));
    }
    Traced {
        id,
        method: method.to_string(),
        url,
        started: Instant::now(),
        done: false,
    }
}

impl Traced {
    /// The answer's status code, or why there was none.
    pub fn done(mut self, outcome: Result<u16, String>) {
        self.report(outcome);
    }

    fn report(&mut self, outcome: Result<u16, String>) {
        self.done = true;
        if let Some(o) = observer() {
            o.finished(
                self.id,
                &Exchange {
                    method: &self.method,
                    url: &self.url,
                    outcome,
                    elapsed: self.started.elapsed(),
                },
            );
        }
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        if !self.done {
            self.report(Err("cancelled".into()));
        }
    }
}

/// `url` as a message may show it: no user info, no fragment, and the values of query
/// parameters whose names look secret (`token`, `signature`, `temp_url_sig`, ...)
/// replaced by `***`.
pub fn shown_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.split(['?', '#']).next().unwrap_or("").to_string();
    };
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    parsed.set_fragment(None);
    if parsed.query().is_some() {
        const SECRET: &[&str] = &["sig", "token", "secret", "pass", "key", "auth", "cred"];
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let lower = k.to_lowercase();
                let v = match SECRET.iter().any(|w| lower.contains(w)) {
                    true => "***".to_string(),
                    false => v.into_owned(),
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// `scheme://host:port` of a URL (the whole text when it is none).
pub fn server_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) if u.has_host() => u.origin().ascii_serialization(),
        _ => url.to_string(),
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Refused,
    Dropped,
    Timeout,
    NoHost,
    Tls(String),
    Other(String),
}

impl Failure {
    /// Classifies a client's error by its chain of causes.
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Failure {
        let mut chain: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
        let mut next = Some(error);
        while let Some(e) = next {
            chain.push(e);
            next = e.source();
        }
        let innermost = chain.last().map(|e| e.to_string()).unwrap_or_default();
        let io_kind = chain
            .iter()
            .find_map(|e| e.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind);
        use std::io::ErrorKind::*;
        match io_kind {
            Some(ConnectionRefused) => return Failure::Refused,
            Some(ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) => {
                return Failure::Dropped;
            }
            Some(TimedOut) => return Failure::Timeout,
            _ => {}
        }
        let text = chain
            .iter()
            .map(|e| e.to_string().to_lowercase())
            .collect::<Vec<_>>()
            .join(": ");
        if text.contains("connection refused") {
            Failure::Refused
        } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake")
        {
            Failure::Tls(innermost)
        } else if text.contains("timed out") || text.contains("timeout") {
            Failure::Timeout
        } else if text.contains("dns error") || text.contains("failed to lookup") {
            Failure::NoHost
        } else if text.contains("connection closed") || text.contains("reset") {
            Failure::Dropped
        } else {
            Failure::Other(innermost)
        }
    }

    /// A sentence naming the server, as kubectl says it (`connection to
    /// https://127.0.0.1:6443 refused`).
    pub fn naming(&self, server: &str) -> String {
        match self {
            Failure::Refused => format!("connection to {server} refused"),
            Failure::Dropped => format!("connection to {server} dropped"),
            Failure::Timeout => format!("no answer from {server} in time"),
            Failure::NoHost => format!("cannot find the host of {server}"),
            Failure::Tls(why) => format!("TLS with {server} failed: {why}"),
            Failure::Other(why) => format!("cannot reach {server}: {why}"),
        }
    }
}

/// The short reason, for a line that already names the server.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused => f.write_str("connection refused"),
            Failure::Dropped => f.write_str("connection dropped"),
            Failure::Timeout => f.write_str("no answer in time"),
            Failure::NoHost => f.write_str("host not found"),
            Failure::Tls(why) => write!(f, "TLS failed: {why}"),
            Failure::Other(why) => f.write_str(why),
        }
    }
}

/// A `Retry-After` header given in seconds (the form API servers and registries use).
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_stay_bounded_and_stop() {
        let policy = RetryPolicy {
            attempts: 5,
            first: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        let mut b = policy.start();
        let pauses: Vec<_> = std::iter::from_fn(|| b.next_delay(None)).collect();
        assert_eq!(pauses.len(), 4, "four retries after the first attempt");
        assert_eq!(b.attempts(), 5);
        assert!(pauses.iter().all(|d| *d <= Duration::from_millis(300)));
        assert!(
            pauses[0] >= Duration::from_millis(100) && pauses[0] < Duration::from_millis(200),
            "{pauses:?}"
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy {
            attempts: 3,
            first: Duration::from_millis(100),
            max: Duration::from_secs(10),
        };
        let mut b = policy.start();
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(60))),
            Some(Duration::from_secs(10))
        );
        assert_eq!(b.next_delay(None), None);
    }

    #[test]
    fn retry_after_in_seconds() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, " 3 ".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn urls_shown_lose_credentials_and_secret_query_values() {
        assert_eq!(
            shown_url("https://u:p@swift:8080/v1/a/c/o?temp_url_sig=abc&temp_url_expires=9#f"),
            "https://swift:8080/v1/a/c/o?temp_url_sig=***&temp_url_expires=9"
        );
        assert_eq!(
            shown_url("https://k:6443/api/v1/namespaces/x/pods?fieldManager=ko"),
            "https://k:6443/api/v1/namespaces/x/pods?fieldManager=ko"
        );
        assert_eq!(server_of("https://k:6443/api/v1"), "https://k:6443");
    }

    #[test]
    fn a_refused_connection_names_the_server() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            Failure::of(&refused).naming("https://127.0.0.1:6443"),
            "connection to https://127.0.0.1:6443 refused"
        );
        assert_eq!(Failure::of(&refused).to_string(), "connection refused");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let options = HttpOptions {
            trust: Trust::Only("/nonexistent/ca.pem".into()),
            ..HttpOptions::default()
        };
        let err = http_client(&options).unwrap_err();
        assert!(matches!(err, HttpError::ReadCa { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/ca.pem"));
    }
}
