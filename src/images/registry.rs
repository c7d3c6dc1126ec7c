//! A client for the Docker Distribution HTTP API v2: ping, catalog, tags, manifests.
//!
//! Authentication follows the registry's challenge (`WWW-Authenticate`): Basic with the
//! credentials, or Bearer with a token fetched from the challenge's realm. Connection
//! errors and 502/503/504 are retried a bounded number of times with backoff.

use super::auth::Credentials;
use reqwest::{Method, StatusCode, header};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use url::Url;

/// Manifest types a GET or HEAD accepts. buildah pushes OCI manifests, which the registry
/// only returns when asked for them.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry `{url}` is unreachable (tried {attempts} times)")]
    Unreachable {
        url: String,
        attempts: usize,
        #[source]
        source: reqwest::Error,
    },
    #[error("registry `{url}` answered {status} {attempts} times in a row")]
    Unavailable {
        url: String,
        status: StatusCode,
        attempts: usize,
    },
    #[error("registry `{url}` refused the credentials{}", if *.had_credentials { "" } else { " (none were given)" })]
    AuthRefused { url: String, had_credentials: bool },
    #[error("registry `{url}` answered {status}: {body}")]
    Status {
        url: String,
        status: StatusCode,
        body: String,
    },
    #[error("registry `{url}`: {message}")]
    Protocol { url: String, message: String },
    #[error("cannot read the CA certificate `{}`", path.display())]
    Ca {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// `host:port` as in image references, or a full `http(s)://` URL.
    pub registry: String,
    /// Plain HTTP even though the host is not a loopback address.
    pub insecure: bool,
    /// A PEM file of extra CA certificates to trust.
    pub ca_file: Option<PathBuf>,
}

impl Endpoint {
    /// The base URL: the scheme given, else plain HTTP for loopback hosts or when asked,
    /// else HTTPS.
    pub fn base_url(&self) -> Url {
        let r = self.registry.trim_end_matches('/');
        if r.starts_with("http://") || r.starts_with("https://") {
            return Url::parse(&format!("{r}/"))
                .unwrap_or_else(|_| Url::parse("http://invalid/").expect("valid"));
        }
        let scheme = if self.insecure || self.plain_http_is_default() {
            "http"
        } else {
            "https"
        };
        Url::parse(&format!("{scheme}://{r}/"))
            .unwrap_or_else(|_| Url::parse("http://invalid/").expect("valid"))
    }

    /// Whether the registry is spoken to without TLS (builders need `--tls-verify=false`).
    pub fn is_plain_http(&self) -> bool {
        self.base_url().scheme() == "http"
    }

    fn plain_http_is_default(&self) -> bool {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(h, p)| {
                if p.chars().all(|c| c.is_ascii_digit()) {
                    h
                } else {
                    self.registry.as_str()
                }
            });
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// Bounded retries: how many attempts and the first pause (doubled each time).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: usize,
    pub first_pause: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            first_pause: Duration::from_millis(250),
        }
    }
}

pub struct RegistryClient {
    http: reqwest::Client,
    base: Url,
    credentials: Option<Credentials>,
    retry: Retry,
    /// Bearer tokens by scope.
    tokens: Mutex<HashMap<String, String>>,
    /// Whether the registry asked for Basic auth (then it is sent up front).
    basic: Mutex<bool>,
    requests: AtomicUsize,
}

/// What a manifest GET returns.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub media_type: String,
    pub digest: String,
    pub body: Vec<u8>,
}

impl RegistryClient {
    pub fn new(
        endpoint: &Endpoint,
        credentials: Option<Credentials>,
        retry: Retry,
    ) -> Result<RegistryClient, RegistryError> {
        crate::rt::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("kube-openstack/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &endpoint.ca_file {
            let pem = std::fs::read(path).map_err(|e| RegistryError::Ca {
                path: path.clone(),
                source: Box::new(e),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| RegistryError::Ca {
                    path: path.clone(),
                    source: Box::new(e),
                })?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(RegistryError::Client)?;
        Ok(RegistryClient {
            http,
            base: endpoint.base_url(),
            credentials,
            retry,
            tokens: Mutex::new(HashMap::new()),
            basic: Mutex::new(false),
            requests: AtomicUsize::new(0),
        })
    }

    /// How many HTTP requests this client has sent (for the summary and the benchmark).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /v2/`: the registry speaks API v2 and accepts us.
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let r = self.send(Method::GET, "v2/", None, None).await?;
        self.expect_ok(r, "v2/").await.map(|_| ())
    }

    /// Every repository (`GET /v2/_catalog`, following `Link` pages).
    pub async fn catalog(&self) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        self.paged("v2/_catalog?n=1000", |v: Catalog| {
            v.repositories.unwrap_or_default()
        })
        .await
    }

    /// A repository's tags; none when the repository does not exist.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        match self
            .paged(&format!("v2/{repository}/tags/list?n=1000"), |v: Tags| {
                v.tags.unwrap_or_default()
            })
            .await
        {
            Err(RegistryError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            }) => Ok(Vec::new()),
            other => other,
        }
    }

    /// The digest of `repository:reference` (`HEAD` on the manifest), or `None` when absent.
    pub async fn manifest_digest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<String>, RegistryError> {
        let path = format!("v2/{repository}/manifests/{reference}");
        let r = self
            .send(Method::HEAD, &path, Some(MANIFEST_ACCEPT), None)
            .await?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let r = self.expect_ok(r, &path).await?;
        digest_header(&r)
            .map(Some)
            .ok_or_else(|| self.protocol(&path, "no Docker-Content-Digest header"))
    }

    /// The manifest itself (`GET`), or `None` when absent.
    pub async fn manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        let path = format!("v2/{repository}/manifests/{reference}");
        let r = self
            .send(Method::GET, &path, Some(MANIFEST_ACCEPT), None)
            .await?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let r = self.expect_ok(r, &path).await?;
        let media_type = r
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let digest = digest_header(&r).unwrap_or_default();
        let body = r
            .bytes()
            .await
            .map_err(|e| self.unreachable(&path, e))?
            .to_vec();
        Ok(Some(Manifest {
            media_type,
            digest,
            body,
        }))
    }

    /// Tags an existing manifest (`PUT`), returning its digest: how an unchanged image gets
    /// its configured tag back without a build or a push.
    pub async fn put_manifest(
        &self,
        repository: &str,
        tag: &str,
        manifest: &Manifest,
    ) -> Result<String, RegistryError> {
        let path = format!("v2/{repository}/manifests/{tag}");
        let body = (manifest.media_type.clone(), manifest.body.clone());
        let r = self.send(Method::PUT, &path, None, Some(body)).await?;
        let r = self.expect_ok(r, &path).await?;
        Ok(digest_header(&r).unwrap_or_else(|| manifest.digest.clone()))
    }

    async fn paged<T: serde::de::DeserializeOwned>(
        &self,
        first: &str,
        items: impl Fn(T) -> Vec<String>,
    ) -> Result<Vec<String>, RegistryError> {
        let mut all = Vec::new();
        let mut next = Some(first.to_string());
        while let Some(path) = next.take() {
            let r = self.send(Method::GET, &path, None, None).await?;
            let r = self.expect_ok(r, &path).await?;
            next = r
                .headers()
                .get(header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(link_next);
            let value: T = r
                .json()
                .await
                .map_err(|e| self.protocol(&path, &format!("unreadable answer: {e}")))?;
            all.extend(items(value));
        }
        Ok(all)
    }

    async fn expect_ok(
        &self,
        r: reqwest::Response,
        path: &str,
    ) -> Result<reqwest::Response, RegistryError> {
        if r.status().is_success() {
            return Ok(r);
        }
        let status = r.status();
        let body: String = r
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        Err(RegistryError::Status {
            url: self.url(path).to_string(),
            status,
            body: body.trim().to_string(),
        })
    }

    /// Sends one request: retries connection errors and 502/503/504, then answers one
    /// authentication challenge.
    async fn send(
        &self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        body: Option<(String, Vec<u8>)>,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut response = self
            .send_retrying(&method, path, accept, body.clone(), None)
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let auth = self.answer(path, challenge.as_deref()).await?;
            response = self
                .send_retrying(&method, path, accept, body, Some(auth))
                .await?;
            if response.status() == StatusCode::UNAUTHORIZED {
                return Err(RegistryError::AuthRefused {
                    url: self.url(path).to_string(),
                    had_credentials: self.credentials.is_some(),
                });
            }
        }
        Ok(response)
    }

    async fn send_retrying(
        &self,
        method: &Method,
        path: &str,
        accept: Option<&str>,
        body: Option<(String, Vec<u8>)>,
        auth: Option<String>,
    ) -> Result<reqwest::Response, RegistryError> {
        let url = self.url(path);
        let auth = auth.or_else(|| self.known_auth(path));
        let mut pause = self.retry.first_pause;
        for attempt in 1..=self.retry.attempts {
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some(a) = accept {
                req = req.header(header::ACCEPT, a);
            }
            if let Some(a) = &auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            if let Some((content_type, bytes)) = &body {
                req = req
                    .header(header::CONTENT_TYPE, content_type)
                    .body(bytes.clone());
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let last = attempt == self.retry.attempts;
            match req.send().await {
                Ok(r) if matches!(r.status().as_u16(), 502..=504) => {
                    if last {
                        return Err(RegistryError::Unavailable {
                            url: url.to_string(),
                            status: r.status(),
                            attempts: attempt,
                        });
                    }
                }
                Ok(r) => return Ok(r),
                Err(e) if last => {
                    return Err(RegistryError::Unreachable {
                        url: url.to_string(),
                        attempts: attempt,
                        source: e,
                    });
                }
                Err(_) => {}
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        unreachable!("at least one attempt")
    }

    /// Authorization known before asking: Basic once the registry asked for it, or a
    /// Bearer token already fetched for this path's repository.
    fn known_auth(&self, path: &str) -> Option<String> {
        if *self.basic.lock().expect("not poisoned") {
            return self.credentials.as_ref().map(Credentials::basic_header);
        }
        let tokens = self.tokens.lock().expect("not poisoned");
        tokens.get(&scope_key(path)).map(|t| format!("Bearer {t}"))
    }

    async fn answer(&self, path: &str, challenge: Option<&str>) -> Result<String, RegistryError> {
        let refused = || RegistryError::AuthRefused {
            url: self.url(path).to_string(),
            had_credentials: self.credentials.is_some(),
        };
        let challenge = challenge.ok_or_else(refused)?;
        let (scheme, params) = parse_challenge(challenge);
        if scheme.eq_ignore_ascii_case("basic") {
            let creds = self.credentials.as_ref().ok_or_else(refused)?;
            *self.basic.lock().expect("not poisoned") = true;
            return Ok(creds.basic_header());
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.protocol(path, &format!("unknown authentication scheme `{scheme}`")));
        }
        let realm = params
            .get("realm")
            .ok_or_else(|| self.protocol(path, "Bearer challenge without a realm"))?;
        let mut url =
            Url::parse(realm).map_err(|_| self.protocol(path, "Bearer realm is not a URL"))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = params.get("service") {
                q.append_pair("service", s);
            }
            if let Some(s) = params.get("scope") {
                q.append_pair("scope", s);
            }
        }
        let mut req = self.http.get(url.clone());
        if let Some(c) = &self.credentials {
            req = req.header(header::AUTHORIZATION, c.basic_header());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let r = req
            .send()
            .await
            .map_err(|e| self.unreachable(url.as_str(), e))?;
        if matches!(r.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(refused());
        }
        if !r.status().is_success() {
            return Err(self.protocol(
                path,
                &format!(
                    "token service `{}` answered {}",
                    url.as_str().split('?').next().unwrap_or(""),
                    r.status()
                ),
            ));
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = r
            .json()
            .await
            .map_err(|e| self.protocol(path, &format!("unreadable token: {e}")))?;
        let token = t
            .token
            .or(t.access_token)
            .ok_or_else(|| self.protocol(path, "token service gave no token"))?;
        self.tokens
            .lock()
            .expect("not poisoned")
            .insert(scope_key(path), token.clone());
        Ok(format!("Bearer {token}"))
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    fn unreachable(&self, path: &str, e: reqwest::Error) -> RegistryError {
        RegistryError::Unreachable {
            url: self.url(path).to_string(),
            attempts: 1,
            source: e,
        }
    }

    fn protocol(&self, path: &str, message: &str) -> RegistryError {
        RegistryError::Protocol {
            url: self.url(path).to_string(),
            message: message.to_string(),
        }
    }
}

fn digest_header(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Tokens are kept per repository (the part of the path between `v2/` and `/manifests`,
/// `/tags` or `/blobs`), or for the registry as a whole.
fn scope_key(path: &str) -> String {
    let rest = path.strip_prefix("v2/").unwrap_or(path);
    for marker in ["/manifests/", "/tags/", "/blobs/"] {
        if let Some(i) = rest.find(marker) {
            return rest[..i].to_string();
        }
    }
    String::new()
}

/// `Bearer realm="https://auth",service="reg",scope="repository:a:pull"` -> scheme + params.
pub fn parse_challenge(header: &str) -> (String, HashMap<String, String>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key, value.to_string());
        rest = remaining.trim_start_matches([',', ' ']);
    }
    (scheme.to_string(), params)
}

/// The `next` target of a `Link: </v2/_catalog?last=x&n=100>; rel="next"` header.
fn link_next(link: &str) -> Option<String> {
    let (target, rel) = link.split_once(';')?;
    if !rel.contains("next") {
        return None;
    }
    Some(
        target
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim_start_matches('/')
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_or_when_asked() {
        let e = |r: &str, insecure| {
            Endpoint {
                registry: r.into(),
                insecure,
                ca_file: None,
            }
            .base_url()
            .to_string()
        };
        assert_eq!(e("localhost:4999", false), "http://localhost:4999/");
        assert_eq!(e("127.0.0.1:4999", false), "http://127.0.0.1:4999/");
        assert_eq!(e("[::1]:4999", false), "http://[::1]:4999/");
        assert_eq!(
            e("registry.example:5000", false),
            "https://registry.example:5000/"
        );
        assert_eq!(
            e("registry.example:5000", true),
            "http://registry.example:5000/"
        );
        assert_eq!(
            e("https://localhost:4999", false),
            "https://localhost:4999/"
        );
    }

    #[test]
    fn challenges_and_links_are_parsed() {
        let (scheme, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#).0,
            "Basic"
        );
        assert_eq!(
            link_next(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("v2/_catalog?last=b&n=2")
        );
        assert_eq!(scope_key("v2/ko/keystone/manifests/latest"), "ko/keystone");
    }
}
