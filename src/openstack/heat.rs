//! Heat's REST API (v1): find a stack by name (the 302 to `{name}/{id}`), show it with
//! its outputs, create, delete, list resources, and wait for a stack to settle.

use super::http::{Http, api_error};
use super::{OpenStackError, Secret};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct HeatClient {
    http: Http,
    token: Secret,
    /// `.../v1/{project_id}`, no trailing slash.
    base: String,
}

/// A stack located by name and id: `stacks/{name}/{id}` is the only form every
/// sub-resource (outputs, resources) accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRef {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    pub id: String,
    pub stack_name: String,
    pub stack_status: String,
    #[serde(default)]
    pub stack_status_reason: Option<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, Json>,
    #[serde(default)]
    pub outputs: Vec<StackOutput>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StackOutput {
    pub output_key: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub output_value: Json,
    #[serde(default)]
    pub output_error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Resource {
    pub resource_name: String,
    pub resource_type: String,
    pub resource_status: String,
    #[serde(default)]
    pub resource_status_reason: String,
}

/// What a stack's status says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    InProgress,
    Failed,
    Complete,
}

impl Stack {
    pub fn phase(&self) -> Phase {
        phase(&self.stack_status)
    }

    pub fn reason(&self) -> String {
        self.stack_status_reason.clone().unwrap_or_default()
    }

    pub fn reference(&self) -> StackRef {
        StackRef {
            name: self.stack_name.clone(),
            id: self.id.clone(),
        }
    }
}

pub fn phase(status: &str) -> Phase {
    if status.ends_with("_IN_PROGRESS") {
        Phase::InProgress
    } else if status.ends_with("_FAILED") {
        Phase::Failed
    } else {
        Phase::Complete
    }
}

/// How to wait for a stack: poll interval, give-up time, and a progress callback.
pub struct Wait<'a> {
    pub interval: Duration,
    pub timeout: Duration,
    pub progress: &'a (dyn Fn(&str, Duration) + Sync),
}

impl HeatClient {
    pub fn new(http: Http, token: Secret, base: String) -> HeatClient {
        HeatClient { http, token, base }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
        retry_5xx: bool,
    ) -> Result<reqwest::Response, OpenStackError> {
        let url = format!("{}/{path}", self.base);
        self.http
            .send(&url, retry_5xx, || {
                let r = self
                    .http
                    .request(method.clone(), &url)
                    .header("X-Auth-Token", self.token.expose());
                match body {
                    Some(b) => r.json(b),
                    None => r,
                }
            })
            .await
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
    ) -> Result<T, OpenStackError> {
        let url = format!("{}/{path}", self.base);
        let resp = self.call(method.clone(), path, None, true).await?;
        if !resp.status().is_success() {
            return Err(api_error(&method, &url, resp).await);
        }
        resp.json().await.map_err(|e| OpenStackError::Protocol {
            url,
            message: e.to_string(),
        })
    }

    /// Finds a stack by name (or `name/id`): Heat answers the name with a 302 to
    /// `stacks/{name}/{id}`.
    pub async fn find(&self, name: &str) -> Result<StackRef, OpenStackError> {
        let path = format!("stacks/{}", encode(name));
        let url = format!("{}/{path}", self.base);
        let resp = self
            .call(
                Method::GET,
                &format!("{path}?resolve_outputs=false"),
                None,
                true,
            )
            .await?;
        match resp.status() {
            StatusCode::FOUND | StatusCode::MOVED_PERMANENTLY | StatusCode::SEE_OTHER => {
                let location = resp
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let id = location
                    .split(['?', '#'])
                    .next()
                    .unwrap_or("")
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("");
                if id.is_empty() {
                    return Err(OpenStackError::Protocol {
                        url,
                        message: "a redirect without a stack id".into(),
                    });
                }
                Ok(StackRef {
                    name: name.into(),
                    id: id.into(),
                })
            }
            StatusCode::NOT_FOUND => Err(OpenStackError::StackNotFound(name.into())),
            s if s.is_success() => {
                let body: StackBody = resp.json().await.map_err(|e| OpenStackError::Protocol {
                    url,
                    message: e.to_string(),
                })?;
                Ok(body.stack.reference())
            }
            _ => Err(api_error(&Method::GET, &url, resp).await),
        }
    }

    /// The stack, with its outputs resolved when `outputs` is set.
    pub async fn show(&self, stack: &StackRef, outputs: bool) -> Result<Stack, OpenStackError> {
        let mut path = format!("stacks/{}/{}", encode(&stack.name), encode(&stack.id));
        if !outputs {
            path.push_str("?resolve_outputs=false");
        }
        match self.json::<StackBody>(Method::GET, &path).await {
            Err(OpenStackError::Api { status: 404, .. }) => {
                Err(OpenStackError::StackNotFound(stack.name.clone()))
            }
            other => other.map(|b| b.stack),
        }
    }

    pub async fn resources(&self, stack: &StackRef) -> Result<Vec<Resource>, OpenStackError> {
        #[derive(Deserialize)]
        struct Body {
            resources: Vec<Resource>,
        }
        let path = format!(
            "stacks/{}/{}/resources",
            encode(&stack.name),
            encode(&stack.id)
        );
        Ok(self.json::<Body>(Method::GET, &path).await?.resources)
    }

    /// Creates a stack; `files` are the templates' `get_file` contents by path.
    pub async fn create(
        &self,
        name: &str,
        template: &str,
        parameters: &BTreeMap<String, String>,
        files: &BTreeMap<String, String>,
        timeout_mins: Option<u64>,
    ) -> Result<StackRef, OpenStackError> {
        let mut body = json!({
            "stack_name": name,
            "template": template,
            "parameters": parameters,
            "files": files,
            "disable_rollback": true,
        });
        if let Some(t) = timeout_mins {
            body["timeout_mins"] = json!(t);
        }
        let url = format!("{}/stacks", self.base);
        // Not retried on 5xx: the engine may have started the create.
        let resp = self
            .call(Method::POST, "stacks", Some(&body), false)
            .await?;
        if resp.status() == StatusCode::CONFLICT {
            return Err(OpenStackError::StackExists { name: name.into() });
        }
        if !resp.status().is_success() {
            return Err(api_error(&Method::POST, &url, resp).await);
        }
        let created: CreatedBody = resp.json().await.map_err(|e| OpenStackError::Protocol {
            url,
            message: e.to_string(),
        })?;
        Ok(StackRef {
            name: name.into(),
            id: created.stack.id,
        })
    }

    pub async fn delete(&self, stack: &StackRef) -> Result<(), OpenStackError> {
        let path = format!("stacks/{}/{}", encode(&stack.name), encode(&stack.id));
        let url = format!("{}/{path}", self.base);
        let resp = self.call(Method::DELETE, &path, None, true).await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(OpenStackError::StackNotFound(stack.name.clone())),
            _ => Err(api_error(&Method::DELETE, &url, resp).await),
        }
    }

    /// Polls until the stack is no longer `*_IN_PROGRESS`; returns it with outputs.
    /// A stack that disappears while deleting is reported as `StackNotFound`.
    pub async fn wait(&self, stack: &StackRef, wait: &Wait<'_>) -> Result<Stack, OpenStackError> {
        let start = Instant::now();
        loop {
            let s = self.show(stack, false).await?;
            (wait.progress)(&s.stack_status, start.elapsed());
            if s.phase() != Phase::InProgress {
                return self.show(stack, true).await;
            }
            if start.elapsed() >= wait.timeout {
                return Err(OpenStackError::WaitTimeout {
                    name: stack.name.clone(),
                    status: s.stack_status,
                    secs: wait.timeout.as_secs(),
                });
            }
            tokio::time::sleep(wait.interval).await;
        }
    }

    /// The failed resources and their reasons, for error messages.
    pub async fn failed_resources(&self, stack: &StackRef) -> Vec<(String, String)> {
        match self.resources(stack).await {
            Ok(rs) => rs
                .into_iter()
                .filter(|r| phase(&r.resource_status) == Phase::Failed)
                .map(|r| {
                    (
                        format!("{} ({})", r.resource_name, r.resource_type),
                        r.resource_status_reason,
                    )
                })
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct StackBody {
    stack: Stack,
}

#[derive(Deserialize)]
struct CreatedBody {
    stack: Created,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// What must be escaped in a path segment (stack names are letters, digits, `-_.`).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'/')
    .add(b'?')
    .add(b'#')
    .add(b'%')
    .add(b'"')
    .add(b'<')
    .add(b'>');

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

/// The error for a stack that is not complete.
pub fn not_ready(stack: &Stack, failed_resources: Vec<(String, String)>) -> OpenStackError {
    let (name, status, reason) = (
        stack.stack_name.clone(),
        stack.stack_status.clone(),
        stack.reason(),
    );
    match stack.phase() {
        Phase::InProgress => OpenStackError::StackInProgress {
            name,
            status,
            reason,
        },
        _ => OpenStackError::StackFailed {
            name,
            status,
            reason,
            failed_resources,
        },
    }
}
