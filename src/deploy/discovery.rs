//! Which kinds the server knows: the API discovery documents, read once per group
//! version. Any kind the server serves works; an unknown one fails before any write.

use super::client::{ClientError, Kube};
use std::collections::HashMap;
use std::path::PathBuf;

/// A resource type as the server serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub api_version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl Resource {
    /// `/api/v1/namespaces/NS/pods` or `/apis/apps/v1/deployments`.
    pub fn collection(&self, namespace: &str) -> String {
        let root = if self.api_version.contains('/') {
            format!("/apis/{}", self.api_version)
        } else {
            format!("/api/{}", self.api_version)
        };
        if self.namespaced {
            let namespace = super::names::path_segment(namespace);
            format!("{root}/namespaces/{namespace}/{}", self.plural)
        } else {
            format!("{root}/{}", self.plural)
        }
    }

    pub fn request(&self, namespace: &str) -> kube::core::Request {
        kube::core::Request::new(self.collection(namespace))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("`{}`: kind `{kind}` ({api_version}) is not served by the cluster", file.display())]
    UnknownKind {
        file: PathBuf,
        kind: String,
        api_version: String,
    },
    #[error("cannot read the API discovery document for `{0}`")]
    Client(String, #[source] ClientError),
    #[error("`{0}` is not a valid API version")]
    BadApiVersion(String),
    #[error("{server} does not look like a Kubernetes API server: GET /api answered {answer}")]
    NotKubernetes { server: String, answer: String },
}

/// The resources of the group versions the caller asked for.
#[derive(Debug, Default)]
pub struct Discovered {
    by_kind: HashMap<(String, String), Resource>,
}

impl Discovered {
    pub fn get(&self, api_version: &str, kind: &str) -> Option<&Resource> {
        self.by_kind
            .get(&(api_version.to_string(), kind.to_string()))
    }
}

/// Whether the server answers `GET /api` with an `APIVersions` document, as every
/// Kubernetes API server does.
async fn check_is_kubernetes(kube: &Kube) -> Result<(), DiscoveryError> {
    let not = |answer: String| DiscoveryError::NotKubernetes {
        server: kube.server.trim_end_matches('/').to_string(),
        answer,
    };
    let req = http::Request::get("/api")
        .body(Vec::new())
        .map_err(|e| not(e.to_string()))?;
    match kube.send(req).await {
        Ok(reply) => {
            let doc = reply.json();
            let versions = doc.get("versions").and_then(|v| v.as_array());
            if versions.is_some() || doc.get("kind").and_then(|k| k.as_str()) == Some("APIVersions")
            {
                Ok(())
            } else {
                Err(not(format!(
                    "HTTP {} with {}, not an `APIVersions` document",
                    reply.code,
                    describe_body(&reply.body)
                )))
            }
        }
        Err(ClientError::Api { status, .. }) => {
            let said = status.message.lines().next().unwrap_or_default();
            let plain = !said.is_empty() && !said.starts_with('<') && said.len() <= 100;
            Err(not(if plain {
                format!("HTTP {}: {said}", status.code)
            } else {
                format!("HTTP {}", status.code)
            }))
        }
        Err(e @ (ClientError::Transport { .. } | ClientError::Exhausted { .. })) => {
            Err(DiscoveryError::Client("/api".into(), e))
        }
        Err(e) => Err(not(crate::report::one_line(&e))),
    }
}

/// A few words on what a body is, for a message (no content: it may be anything).
fn describe_body(body: &[u8]) -> String {
    if body.is_empty() {
        return "an empty body".into();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(_) => format!("a JSON body of {} bytes", body.len()),
        Err(_) if body.trim_ascii_start().starts_with(b"<") => {
            format!("an HTML or XML body of {} bytes", body.len())
        }
        Err(_) => format!("a body of {} bytes that is not JSON", body.len()),
    }
}

/// Reads the discovery documents for `api_versions` (in parallel).
pub async fn discover(kube: &Kube, api_versions: &[&str]) -> Result<Discovered, DiscoveryError> {
    let mut versions: Vec<&str> = api_versions.to_vec();
    versions.sort();
    versions.dedup();
    let fetches = versions.iter().map(|v| async move {
        let path = if v.contains('/') {
            format!("/apis/{v}")
        } else {
            format!("/api/{v}")
        };
        if super::names::api_version(v).is_err() {
            return Err(DiscoveryError::BadApiVersion(v.to_string()));
        }
        let req = http::Request::get(&path)
            .body(Vec::new())
            .map_err(|_| DiscoveryError::BadApiVersion(v.to_string()))?;
        match kube.send(req).await {
            Ok(reply) => Ok((v.to_string(), Some(reply.json()))),
            Err(e) if e.code() == Some(404) => Ok((v.to_string(), None)),
            Err(e) => Err(DiscoveryError::Client(v.to_string(), e)),
        }
    });
    let mut out = Discovered::default();
    let mut checked = false;
    for result in futures::future::join_all(fetches).await {
        let (version, doc) = result?;
        // A group version that is missing, or a document that is not one: either the
        // cluster does not serve it, or the server is no Kubernetes API at all (a web
        // server, a proxy's error page). Only the second deserves its own message.
        let is_list = doc
            .as_ref()
            .is_some_and(|d| d.get("resources").is_some_and(|r| r.is_array()));
        if !is_list && !checked {
            check_is_kubernetes(kube).await?;
            checked = true;
        }
        let Some(doc) = doc else { continue };
        for r in doc
            .get("resources")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
        {
            let (Some(name), Some(kind)) = (
                r.get("name").and_then(|v| v.as_str()),
                r.get("kind").and_then(|v| v.as_str()),
            ) else {
                continue;
            };
            if name.contains('/') {
                continue; // a subresource (`pods/log`)
            }
            let namespaced = r
                .get("namespaced")
                .and_then(|v| v.as_bool())
                .unwrap_or(true);
            let res = Resource {
                api_version: version.clone(),
                kind: kind.to_string(),
                plural: name.to_string(),
                namespaced,
            };
            out.by_kind.insert((version.clone(), kind.to_string()), res);
        }
    }
    Ok(out)
}
