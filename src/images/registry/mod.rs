//! A client for the Docker Distribution HTTP API v2: ping, catalog, tags, manifests.
//!
//! Authentication follows the registry's challenge (`WWW-Authenticate`): Basic with the
//! credentials, or Bearer with a token fetched from the challenge's realm. Connection
//! errors and 502/503/504 are retried a bounded number of times with backoff.

use super::auth::Credentials;
use crate::net::{self, HttpError, HttpOptions, RetryPolicy, Trust};
use reqwest::{Method, StatusCode, header};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Four attempts a request, pauses from 250 ms: a registry restarting behind its load
/// balancer answers 502-504 for a moment.
pub const RETRY: RetryPolicy = RetryPolicy {
    attempts: 4,
    first: Duration::from_millis(250),
    max: Duration::from_secs(4),
};
use url::Url;

mod endpoint;
mod headers;
mod send;

pub use endpoint::Endpoint;
pub use headers::parse_challenge;
use headers::{digest_header, link_next};

/// Manifest types a GET or HEAD accepts. buildah pushes OCI manifests, which the registry
/// only returns when asked for them.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry `{url}` is unreachable (tried {attempts} times): {reason}")]
    Unreachable {
        url: String,
        attempts: usize,
        /// Why, naming the server (`connection to http://... refused`).
        reason: String,
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

impl crate::report::Hint for RegistryError {
    fn hint(&self) -> Option<String> {
        match self {
            RegistryError::Unreachable { .. } | RegistryError::Unavailable { .. } => Some(
                "start the registry (for development: `scripts/dev-registry.sh start`), or point `--registry` / the `registry` setting at a running one".into(),
            ),
            RegistryError::AuthRefused { .. } => Some(
                "log in with `buildah login HOST:PORT` (or `docker login`), or pass `--username USER --password-stdin`".into(),
            ),
            _ => None,
        }
    }
}

pub struct RegistryClient {
    http: reqwest::Client,
    base: Url,
    credentials: Option<Credentials>,
    retry: RetryPolicy,
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
        retry: RetryPolicy,
    ) -> Result<RegistryClient, RegistryError> {
        let options = HttpOptions {
            timeout: Some(Duration::from_secs(60)),
            connect_timeout: Duration::from_secs(5),
            trust: endpoint.ca_file.clone().map_or(Trust::System, Trust::Also),
            ..HttpOptions::default()
        };
        let http = net::http_client(&options).map_err(|e| match e {
            HttpError::ReadCa { path, source } => RegistryError::Ca {
                path,
                source: Box::new(source),
            },
            HttpError::BadCa { path, source } => RegistryError::Ca {
                path,
                source: Box::new(source),
            },
            HttpError::Build(e) => RegistryError::Client(e),
        })?;
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

    /// The repositories under `prefix/`, without reading the whole catalog: the catalog
    /// is in path order, so they follow `prefix` itself (`?last=PREFIX`), and pages are
    /// followed only while they stay under it. On a registry holding many other
    /// repositories that is a page or two, where the whole catalog can take minutes. An
    /// empty prefix is the whole catalog.
    pub async fn catalog_under(&self, prefix: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            return self.catalog().await;
        }
        let under = format!("{prefix}/");
        let mut all = Vec::new();
        let last =
            percent_encoding::utf8_percent_encode(prefix, percent_encoding::NON_ALPHANUMERIC);
        let mut next = Some(format!("v2/_catalog?n=100&last={last}"));
        while let Some(path) = next.take() {
            let r = self.send(Method::GET, &path, None, None).await?;
            let r = self.expect_ok(r, &path).await?;
            let link = r
                .headers()
                .get(header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(link_next);
            let page: Catalog = r
                .json()
                .await
                .map_err(|e| self.protocol(&path, &format!("unreadable answer: {e}")))?;
            let page = page.repositories.unwrap_or_default();
            let past = page.iter().any(|repo| !repo.starts_with(&under));
            all.extend(page.into_iter().filter(|repo| repo.starts_with(&under)));
            if !past {
                next = link;
            }
        }
        Ok(all)
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

    pub(super) fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    pub(super) fn unreachable(&self, path: &str, e: reqwest::Error) -> RegistryError {
        let url = self.url(path).to_string();
        RegistryError::Unreachable {
            reason: crate::net::Failure::of(&e).naming(&crate::net::server_of(&url)),
            url,
            attempts: 1,
            source: e,
        }
    }

    pub(super) fn protocol(&self, path: &str, message: &str) -> RegistryError {
        RegistryError::Protocol {
            url: self.url(path).to_string(),
            message: message.to_string(),
        }
    }
}
