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
        let req = http::Request::get(&path)
            .body(Vec::new())
            .expect("valid path");
        match kube.send(req).await {
            Ok(reply) => Ok((v.to_string(), Some(reply.json()))),
            Err(e) if e.code() == Some(404) => Ok((v.to_string(), None)),
            Err(e) => Err(DiscoveryError::Client(v.to_string(), e)),
        }
    });
    let mut out = Discovered::default();
    for result in futures::future::join_all(fetches).await {
        let (version, doc) = result?;
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
