//! What every network client shares: one way to build an HTTP client (user agent,
//! timeouts, the certificates it trusts) and one retry policy (bounded exponential
//! backoff with jitter; a server's `Retry-After` wins). Each client still decides what is
//! worth retrying: only it knows which of its requests are safe to send twice.

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
            max: self.max,
        }
    }
}

/// The retry state of one request: how many attempts so far, and the next pause.
pub struct Backoff {
    pauses: ExponentialBackoff,
    attempts: u32,
    max: Duration,
}

impl Backoff {
    /// Attempts made so far (the first included).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The pause before the next attempt, or `None` when the attempts are used up. A
    /// `Retry-After` from the server wins over the computed pause (capped by `max`).
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        let pause = self.pauses.next()?;
        self.attempts += 1;
        Some(retry_after.unwrap_or(pause).min(self.max))
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
