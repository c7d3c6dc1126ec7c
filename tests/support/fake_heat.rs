//! A fake Keystone + Heat on loopback that answers with the recorded real exchanges in
//! `tests/fixtures/heat/` (bodies, status codes, the token header, the by-name 302), with
//! the recorded URLs pointed at itself. It exists for the faults a real Heat cannot be
//! made to show on demand: a stack stuck in progress, failed, outputs with errors, 503s,
//! a catalog without Heat. Stacks are scripted as a list of recorded show bodies; each
//! show by id moves one step.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const PASSWORD: &str = "fake-cloud-password";
pub const TOKEN: &str = "gAAAAABrAOL7cXRxX-Lq0R3accSkpjv1qIc4kTd5wwpOrKRMBnHlI-rVip8RiWPAYhMKuojl5HLTL9WZaRcHEdbpji8v8VtijNbASuGnRNxuC_tgvh036EhrWhQt4ls2e1XkTgwXIJUCtQZzRWBA_4lLyLmEsOAoqVuUzIO4tcP4ox5rfXmHjkc";

/// A recorded body with the recorded host:ports replaced by the fake's.
pub fn fixture(name: &str, base: &str) -> Json {
    let path = format!("{}/tests/fixtures/heat/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text
        .replace("http://127.0.0.1:8004", base)
        .replace("http://127.0.0.1:5000", base)
        .replace("http://127.0.0.1:8080", &format!("{base}/swift"));
    serde_json::from_str(&text).unwrap()
}

#[derive(Default)]
pub struct Script {
    /// Show bodies (`{"stack": ...}`), one per show; the last one stays.
    pub steps: Vec<Json>,
    pub resources: Option<Json>,
    pub deleted: bool,
}

#[derive(Default)]
pub struct FakeState {
    pub base: String,
    pub stacks: Mutex<HashMap<String, Script>>,
    /// Answer this many next requests with 503.
    pub unavailable: AtomicUsize,
    pub without_heat: std::sync::atomic::AtomicBool,
    pub requests: Mutex<Vec<String>>,
    /// Stack create bodies received.
    pub created: Mutex<Vec<Json>>,
}

pub struct FakeCloud {
    pub state: Arc<FakeState>,
    pub url: String,
}

impl FakeCloud {
    pub fn start() -> FakeCloud {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(FakeState {
            base: url.clone(),
            ..FakeState::default()
        });
        let app = Router::new()
            .route("/v3/auth/tokens", post(token))
            .route("/v1/{project}/stacks", post(create))
            .route("/v1/{project}/stacks/{name}", get(by_name))
            .route("/v1/{project}/stacks/{name}/{id}", get(show).delete(delete))
            .route("/v1/{project}/stacks/{name}/{id}/resources", get(resources))
            .with_state(state.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        FakeCloud { state, url }
    }

    /// Adds a stack whose shows go through `steps` (fixture names).
    pub fn stack(&self, name: &str, steps: &[&str], resources: Option<&str>) -> &FakeCloud {
        let steps = steps.iter().map(|s| fixture(s, &self.url)).collect();
        let resources = resources.map(|r| fixture(r, &self.url));
        self.state.stacks.lock().unwrap().insert(
            name.into(),
            Script {
                steps,
                resources,
                deleted: false,
            },
        );
        self
    }

    /// Adds a stack from show bodies given in full.
    pub fn stack_body(&self, name: &str, steps: Vec<Json>) -> &FakeCloud {
        self.state.stacks.lock().unwrap().insert(
            name.into(),
            Script {
                steps,
                resources: None,
                deleted: false,
            },
        );
        self
    }

    /// A stack that does not exist yet; a create of that name follows `steps`.
    pub fn to_be_created(&self, name: &str, steps: &[&str], resources: Option<&str>) -> &FakeCloud {
        self.stack(name, steps, resources);
        self.state
            .stacks
            .lock()
            .unwrap()
            .get_mut(name)
            .unwrap()
            .deleted = true;
        self
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }
}

fn json_response(status: StatusCode, body: Json) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn not_found(state: &FakeState, name: &str) -> Response {
    let mut body = fixture("30-stack-unknown-name.json", &state.base);
    body["error"]["message"] = json!(format!("The Stack ({name}) could not be found."));
    json_response(StatusCode::NOT_FOUND, body)
}

/// Records the request; answers 503 or 401 (keystonemiddleware's body) when due.
fn gate(state: &FakeState, what: String, headers: Option<&HeaderMap>) -> Option<Response> {
    state.requests.lock().unwrap().push(what);
    if state.unavailable.load(Ordering::SeqCst) > 0 {
        state.unavailable.fetch_sub(1, Ordering::SeqCst);
        return Some((StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable").into_response());
    }
    if let Some(h) = headers
        && h.get("x-auth-token").and_then(|v| v.to_str().ok()) != Some(TOKEN)
    {
        return Some(json_response(
            StatusCode::UNAUTHORIZED,
            fixture("04-heat-bad-token.json", &state.base),
        ));
    }
    None
}

async fn token(State(state): State<Arc<FakeState>>, body: Bytes) -> Response {
    if let Some(r) = gate(&state, "POST /v3/auth/tokens".into(), None) {
        return r;
    }
    let req: Json = serde_json::from_slice(&body).unwrap_or_default();
    let identity = &req["auth"]["identity"];
    let ok = identity["password"]["user"]["password"] == PASSWORD
        || identity["application_credential"]["secret"] == PASSWORD
        || identity["token"]["id"] == TOKEN;
    if !ok {
        return json_response(
            StatusCode::UNAUTHORIZED,
            fixture("02-keystone-token-bad-password.json", &state.base),
        );
    }
    let mut body = fixture("01-keystone-token.json", &state.base);
    if state.without_heat.load(Ordering::SeqCst) {
        body["token"]["catalog"]
            .as_array_mut()
            .unwrap()
            .retain(|s| s["type"] != "orchestration");
    }
    (
        StatusCode::CREATED,
        [
            ("content-type", "application/json"),
            ("x-subject-token", TOKEN),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn by_name(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((p, name)): Path<(String, String)>,
) -> Response {
    if let Some(r) = gate(&state, format!("GET stacks/{name}"), Some(&headers)) {
        return r;
    }
    let stacks = state.stacks.lock().unwrap();
    let Some(script) = stacks.get(&name).filter(|s| !s.deleted) else {
        return not_found(&state, &name);
    };
    let id = script.steps[0]["stack"]["id"].as_str().unwrap().to_string();
    let location = format!("{}/v1/{p}/stacks/{name}/{id}", state.base);
    let mut body = fixture("12-stack-lookup-by-name-redirect.json", &state.base);
    body["message"] = json!(format!(
        "The resource was found at <a href=\"{location}\">{location}</a>;\nyou should be redirected automatically.\n\n"
    ));
    (
        StatusCode::FOUND,
        [
            ("content-type", "application/json"),
            ("location", location.as_str()),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn show(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((_, name, id)): Path<(String, String, String)>,
) -> Response {
    if let Some(r) = gate(&state, format!("GET stacks/{name}/{id}"), Some(&headers)) {
        return r;
    }
    let mut stacks = state.stacks.lock().unwrap();
    let Some(script) = stacks
        .get_mut(&name)
        .filter(|s| s.steps[0]["stack"]["id"] == id.as_str())
    else {
        let mut body = fixture("31-stack-unknown-id.json", &state.base);
        body["error"]["message"] = json!(format!("The Stack ({name}) could not be found."));
        return json_response(StatusCode::NOT_FOUND, body);
    };
    let body = if script.steps.len() > 1 {
        script.steps.remove(0)
    } else {
        script.steps[0].clone()
    };
    json_response(StatusCode::OK, body)
}

async fn resources(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((_, name, _)): Path<(String, String, String)>,
) -> Response {
    if let Some(r) = gate(
        &state,
        format!("GET stacks/{name}/resources"),
        Some(&headers),
    ) {
        return r;
    }
    let stacks = state.stacks.lock().unwrap();
    let body = stacks
        .get(&name)
        .and_then(|s| s.resources.clone())
        .unwrap_or(json!({"resources": []}));
    json_response(StatusCode::OK, body)
}

async fn create(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path(p): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&state, "POST stacks".into(), Some(&headers)) {
        return r;
    }
    let req: Json = serde_json::from_slice(&body).unwrap_or_default();
    let name = req["stack_name"].as_str().unwrap_or_default().to_string();
    state.created.lock().unwrap().push(req.clone());
    let mut stacks = state.stacks.lock().unwrap();
    if stacks.get(&name).is_some_and(|s| !s.deleted) {
        let mut body = fixture("24-stack-create-duplicate-name.json", &state.base);
        body["error"]["message"] = json!(format!("The Stack ({name}) already exists."));
        return json_response(StatusCode::CONFLICT, body);
    }
    if req["template"]
        .as_str()
        .is_some_and(|t| t.contains("length: -5"))
    {
        return json_response(
            StatusCode::BAD_REQUEST,
            fixture("34-stack-create-invalid-property.json", &state.base),
        );
    }
    // Scripted stacks named `probe-*` keep their recorded steps (created "again").
    let script = stacks.entry(name.clone()).or_insert_with(|| Script {
        steps: vec![
            renamed(
                fixture("41-stack-show-create-in-progress.json", &state.base),
                &name,
            ),
            renamed(fixture("13-stack-show.json", &state.base), &name),
        ],
        resources: None,
        deleted: false,
    });
    script.deleted = false;
    let id = script.steps[0]["stack"]["id"].as_str().unwrap().to_string();
    let href = format!("{}/v1/{p}/stacks/{name}/{id}", state.base);
    let body = json!({"stack": {"id": id, "links": [{"href": href, "rel": "self"}]}});
    (
        StatusCode::CREATED,
        [
            ("content-type", "application/json"),
            ("location", href.as_str()),
        ],
        body.to_string(),
    )
        .into_response()
}

/// A recorded show body for another stack: name and id replaced (an id shared by every
/// step of one stack).
fn renamed(mut body: Json, name: &str) -> Json {
    body["stack"]["stack_name"] = json!(name);
    body["stack"]["id"] = json!("5d1c2f0e-0000-4000-8000-00000000c0de");
    body
}

async fn delete(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    Path((_, name, _)): Path<(String, String, String)>,
) -> Response {
    if let Some(r) = gate(&state, format!("DELETE stacks/{name}"), Some(&headers)) {
        return r;
    }
    let mut stacks = state.stacks.lock().unwrap();
    let Some(script) = stacks.get_mut(&name) else {
        return not_found(&state, &name);
    };
    let mut in_progress = script.steps.last().unwrap().clone();
    in_progress["stack"]["stack_status"] = json!("DELETE_IN_PROGRESS");
    in_progress["stack"]["stack_status_reason"] = json!("Stack DELETE started");
    let mut done = in_progress.clone();
    done["stack"]["stack_status"] = json!("DELETE_COMPLETE");
    done["stack"]["stack_status_reason"] = json!("Stack DELETE completed successfully");
    script.steps = vec![in_progress, done];
    script.deleted = true;
    StatusCode::NO_CONTENT.into_response()
}

/// Counts how many requests matched `prefix`.
pub fn count(requests: &[String], prefix: &str) -> usize {
    requests.iter().filter(|r| r.starts_with(prefix)).count()
}
