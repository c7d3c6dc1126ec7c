//! The HTTP client shared by Keystone and Heat calls: TLS (private CA, `--insecure`),
//! timeouts, no automatic redirects (Heat's by-name 302 is followed by hand), and bounded
//! retries with backoff for connection errors and 5xx — never for 4xx.
//!
//! One call (a token, a stack show) takes at most [`CALL_BUDGET`] in all: each attempt
//! at most [`REQUEST_TIMEOUT`] (and never past the budget), at most four attempts, each
//! retry announced on stderr (`retrying (2/4) SERVER: REASON`).

use super::{Cloud, OpenStackError};
use crate::net::{self, HttpError, HttpOptions, RetryPolicy, Trust};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use std::time::Duration;

/// Per-attempt timeout; Keystone and Heat answer in well under a second.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The most one call takes, retries and pauses included (a hung server: three attempts
/// of 20 s, then the error).
pub const CALL_BUDGET: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Four attempts a request, pauses from 250 ms.
const RETRY: RetryPolicy = RetryPolicy {
    attempts: 4,
    first: Duration::from_millis(250),
    max: Duration::from_secs(5),
};

#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new(cloud: &Cloud) -> Result<Http, OpenStackError> {
        let options = HttpOptions {
            timeout: Some(REQUEST_TIMEOUT),
            connect_timeout: CONNECT_TIMEOUT,
            trust: cloud.cacert.clone().map_or(Trust::System, Trust::Only),
            insecure: cloud.insecure,
            follow_redirects: false,
        };
        let client = net::http_client(&options).map_err(|e| match e {
            HttpError::ReadCa { path, source } => OpenStackError::ReadFile { path, source },
            HttpError::BadCa { path, source } => OpenStackError::InvalidSetting {
                what: "CA certificate file",
                value: path.display().to_string(),
                source: Some(Box::new(source)),
            },
            HttpError::Build(e) => OpenStackError::InvalidSetting {
                what: "TLS settings",
                value: cloud.auth_url.to_string(),
                source: Some(Box::new(e)),
            },
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
        let server = net::server_of(url);
        let started = std::time::Instant::now();
        let mut backoff = RETRY.start_for(&server).until(started + CALL_BUDGET);
        loop {
            let left = CALL_BUDGET.saturating_sub(started.elapsed());
            let (client, request) = build().build_split();
            let mut request = request.map_err(|e| connect_error(url, &server, e))?;
            *request.timeout_mut() = Some(REQUEST_TIMEOUT.min(left));
            let traced = net::trace(request.method().as_str(), request.url().as_str());
            let result = client.execute(request).await;
            traced.done(match &result {
                Ok(resp) => Ok(resp.status().as_u16()),
                Err(e) => Err(net::Failure::of(e).to_string()),
            });
            let (retry_after, reason) = match &result {
                Ok(resp) if resp.status().is_server_error() && retry_5xx => {
                    (net::retry_after(resp.headers()), resp.status().to_string())
                }
                Ok(_) => return Ok(result.expect("an answer")),
                Err(e) if !(e.is_connect() || e.is_timeout()) || is_tls(e) => {
                    return Err(connect_error(url, &server, result.expect_err("an error")));
                }
                Err(e) => (None, net::Failure::of(e).to_string()),
            };
            match (backoff.retry(retry_after, &reason), result) {
                (Some(pause), _) => tokio::time::sleep(pause).await,
                // The last answer is the error to report.
                (None, Ok(resp)) => return Ok(resp),
                (None, Err(e)) => return Err(connect_error(url, &server, e)),
            }
        }
    }
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

fn connect_error(url: &str, server: &str, e: reqwest::Error) -> OpenStackError {
    if e.is_timeout() {
        return OpenStackError::Timeout {
            url: url.into(),
            secs: REQUEST_TIMEOUT.as_secs(),
        };
    }
    OpenStackError::Connect {
        url: url.into(),
        reason: net::Failure::of(&e).naming(server),
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
