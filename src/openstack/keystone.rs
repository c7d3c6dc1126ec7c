//! Keystone v3: one token per run (`POST /v3/auth/tokens`, token in `X-Subject-Token`)
//! and the service catalog that comes with it.

use super::config::{AuthMethod, Interface, Scope, UserRef};
use super::http::{Http, api_error};
use super::{Cloud, OpenStackError, Secret};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value as Json, json};

/// An authenticated session: the token and where the services are.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: Secret,
    pub project_id: Option<String>,
    pub catalog: Vec<CatalogEntry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogEntry {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    pub interface: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub region_id: Option<String>,
    pub url: String,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    #[serde(default)]
    project: Option<Json>,
    #[serde(default)]
    catalog: Vec<CatalogEntry>,
}

fn user_json(user: &UserRef) -> Json {
    match user {
        UserRef::Id(id) => json!({"id": id}),
        UserRef::Name { name, domain } => json!({"name": name, "domain": {"name": domain}}),
    }
}

/// The request body; application credentials carry their own scope.
fn auth_body(cloud: &Cloud) -> Json {
    let identity = match &cloud.auth {
        AuthMethod::Password { user, password } => {
            let mut u = user_json(user);
            u["password"] = json!(password.expose());
            json!({"methods": ["password"], "password": {"user": u}})
        }
        AuthMethod::ApplicationCredential {
            id,
            name,
            user,
            secret,
        } => {
            let mut c = json!({"secret": secret.expose()});
            match (id, name, user) {
                (Some(id), _, _) => c["id"] = json!(id),
                (None, Some(name), Some(user)) => {
                    c["name"] = json!(name);
                    c["user"] = user_json(user);
                }
                _ => {}
            }
            return json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": c}}});
        }
        AuthMethod::Token(token) => json!({"methods": ["token"], "token": {"id": token.expose()}}),
    };
    let mut auth = json!({"identity": identity});
    match &cloud.scope {
        Some(Scope::ProjectId(id)) => auth["scope"] = json!({"project": {"id": id}}),
        Some(Scope::ProjectName { name, domain }) => {
            auth["scope"] = json!({"project": {"name": name, "domain": {"name": domain}}})
        }
        None => {}
    }
    json!({"auth": auth})
}

pub async fn authenticate(http: &Http, cloud: &Cloud) -> Result<Session, OpenStackError> {
    let url = format!(
        "{}/auth/tokens",
        cloud.auth_url.as_str().trim_end_matches('/')
    );
    let body = auth_body(cloud);
    let resp = http
        .send(&url, true, || http.request(Method::POST, &url).json(&body))
        .await?;
    let status = resp.status();
    if status == StatusCode::UNAUTHORIZED {
        let OpenStackError::Api { message, .. } = api_error(&Method::POST, &url, resp).await else {
            unreachable!()
        };
        return Err(OpenStackError::Unauthorized { url, message });
    }
    if !status.is_success() {
        return Err(api_error(&Method::POST, &url, resp).await);
    }
    let token = resp
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(Secret::new)
        .ok_or_else(|| OpenStackError::Protocol {
            url: url.clone(),
            message: "no X-Subject-Token header in the answer".into(),
        })?;
    let body: TokenBody = resp.json().await.map_err(|e| OpenStackError::Protocol {
        url: url.clone(),
        message: format!("the token body is not as expected: {e}"),
    })?;
    let project_id = body
        .token
        .project
        .as_ref()
        .and_then(|p| p["id"].as_str())
        .map(String::from);
    Ok(Session {
        token,
        project_id,
        catalog: body.token.catalog,
    })
}

impl Session {
    /// The URL of `service_type` for the region (any, when none is asked for) and interface.
    pub fn endpoint(
        &self,
        service_type: &str,
        region: Option<&str>,
        interface: Interface,
    ) -> Result<String, OpenStackError> {
        let in_region = |e: &&Endpoint| {
            region
                .is_none_or(|r| e.region_id.as_deref() == Some(r) || e.region.as_deref() == Some(r))
        };
        let found = self
            .catalog
            .iter()
            .filter(|s| s.service_type == service_type)
            .flat_map(|s| s.endpoints.iter())
            .filter(in_region)
            .find(|e| e.interface == interface.as_str());
        match found {
            Some(e) => Ok(self.fill_project(&e.url)),
            None => Err(OpenStackError::NoEndpoint {
                service: service_type.into(),
                region: region.map(String::from),
                interface: interface.as_str().into(),
                available: self.available(),
            }),
        }
    }

    /// `service_type (interface region)` for every endpoint, for error messages.
    fn available(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .catalog
            .iter()
            .flat_map(|s| {
                s.endpoints.iter().map(move |e| {
                    format!(
                        "{} ({} {})",
                        s.service_type,
                        e.interface,
                        e.region_id
                            .as_deref()
                            .or(e.region.as_deref())
                            .unwrap_or("-")
                    )
                })
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Fills `%(tenant_id)s` / `%(project_id)s` in a URL the user or catalog gave.
    pub fn fill_project(&self, url: &str) -> String {
        let id = self.project_id.as_deref().unwrap_or("");
        url.replace("%(tenant_id)s", id)
            .replace("%(project_id)s", id)
            .trim_end_matches('/')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::config::Interface;

    fn session() -> Session {
        let body: Json = serde_json::from_str(include_str!(
            "../../tests/fixtures/heat/01-keystone-token.json"
        ))
        .unwrap();
        let info: TokenBody = serde_json::from_value(body).unwrap();
        Session {
            token: Secret::new("t"),
            project_id: info.token.project.unwrap()["id"].as_str().map(String::from),
            catalog: info.token.catalog,
        }
    }

    #[test]
    fn heat_comes_from_the_recorded_catalog_with_the_project_filled_in() {
        let s = session();
        let url = s
            .endpoint("orchestration", Some("RegionOne"), Interface::Public)
            .unwrap();
        assert_eq!(
            url,
            "http://127.0.0.1:8004/v1/99991b4607304d0baeaf0831dc178c21"
        );
    }

    #[test]
    fn a_missing_region_lists_what_the_catalog_has() {
        let err = session()
            .endpoint("orchestration", Some("RegionTwo"), Interface::Public)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("region RegionTwo") && text.contains("orchestration (public RegionOne)"),
            "{text}"
        );
    }
}
