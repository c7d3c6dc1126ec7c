//! The HTTP client shared by Keystone and Heat calls: TLS (private CA, `--insecure`),
//! timeouts, no automatic redirects (Heat's by-name 302 is followed by hand), and bounded
//! retries with backoff for connection errors and 5xx — never for 4xx.

use super::{Cloud, OpenStackError};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use std::time::Duration;

/// Per-request timeout; Heat answers a show in well under a second.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts for one request, and the first wait (doubled each time, with jitter).
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new(cloud: &Cloud) -> Result<Http, OpenStackError> {
        crate::rt::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("kube-openstack/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &cloud.cacert {
            let pem = std::fs::read(path).map_err(|source| OpenStackError::ReadFile {
                path: path.clone(),
                source,
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                OpenStackError::InvalidSetting {
                    what: "CA certificate file",
                    value: path.display().to_string(),
                    source: Some(Box::new(e)),
                }
            })?;
            builder = builder.tls_certs_only(certs);
        }
        if cloud.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .map_err(|e| OpenStackError::InvalidSetting {
                what: "TLS settings",
                value: cloud.auth_url.to_string(),
                source: Some(Box::new(e)),
            })?;
        Ok(Http { client })
    }

    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.client
            .request(method, url)
            .header("Accept", "application/json")
    }

    /// Sends what `build` makes, retrying connection failures, timeouts and 5xx answers
    /// (bounded, with backoff). `retry_5xx` is off for requests that are not safe to
    /// repeat once the server may have acted on them (stack create).
    pub async fn send(
        &self,
        url: &str,
        retry_5xx: bool,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, OpenStackError> {
        let mut wait = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let last = attempt == ATTEMPTS;
            match build().send().await {
                Ok(resp) if resp.status().is_server_error() && retry_5xx && !last => {}
                Ok(resp) => return Ok(resp),
                Err(e) if last || !(e.is_connect() || e.is_timeout()) || is_tls(&e) => {
                    return Err(connect_error(url, e));
                }
                Err(_) => {}
            }
            tokio::time::sleep(wait + jitter(wait)).await;
            wait *= 2;
        }
        unreachable!("the last attempt returns")
    }
}

fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::random::<f64>() * 0.5)
}

fn is_tls(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        let text = s.to_string().to_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return true;
        }
        source = s.source();
    }
    false
}

fn connect_error(url: &str, e: reqwest::Error) -> OpenStackError {
    if e.is_timeout() {
        return OpenStackError::Timeout {
            url: url.into(),
            secs: REQUEST_TIMEOUT.as_secs(),
        };
    }
    OpenStackError::Connect {
        url: url.into(),
        tls: is_tls(&e),
        source: e,
    }
}

/// Turns a non-success answer into an error, reading the message from either body shape
/// OpenStack uses: Heat's `{"code", "title", "explanation", "error": {"type", "message"}}`
/// or Keystone's (and keystonemiddleware's) `{"error": {"code", "title", "message"}}`.
pub async fn api_error(method: &Method, url: &str, resp: Response) -> OpenStackError {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let error = &body["error"];
    let kind = error["type"].as_str().map(String::from);
    let message = error["message"]
        .as_str()
        .or_else(|| body["explanation"].as_str())
        .or_else(|| body["message"].as_str())
        .map(String::from)
        .unwrap_or_else(|| {
            let t = text.trim();
            if t.is_empty() || t.len() > 300 {
                status.canonical_reason().unwrap_or("").to_string()
            } else {
                t.to_string()
            }
        });
    OpenStackError::Api {
        method: method.to_string(),
        url: url.into(),
        status: status.as_u16(),
        kind,
        message,
    }
}

pub fn is_not_found(status: StatusCode) -> bool {
    status == StatusCode::NOT_FOUND
}
