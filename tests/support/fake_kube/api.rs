//! Request handling: discovery, then create / get / list / delete / server-side apply on
//! the resource paths, with faults injected first.

use super::conn::Peer;
use super::discovery::{self, ResourceType};
use super::objects::{self, ApiError, Key, Stored, bad_request, not_found, status};
use super::writes::{apply, create, delete};
use super::{Fault, LogEntry, Shared};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

type Reply = Result<(u16, Value), ApiError>;

pub async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    if let Some(control) = path.strip_prefix("/fake/") {
        return super::control(&shared, &method, control, &body);
    }
    let started = shared.started.elapsed();
    let token = shared.faults.lock().unwrap().token.clone();
    if let Some(token) = token {
        let sent = headers.get("authorization").and_then(|v| v.to_str().ok());
        if sent != Some(format!("Bearer {token}").as_str()) {
            let e = status(401, "Unauthorized", "Unauthorized".into(), Value::Null);
            return api_response(Err(e), false);
        }
    }
    let faults = shared.faults.lock().unwrap().clone();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let roll = shared.roll();
    let mut fault = None;
    let mut reply: Option<Response> = None;
    if roll < faults.error_rate {
        fault = Some(Fault::Error500);
        let e = status(
            500,
            "InternalError",
            "Internal error occurred: injected fault".into(),
            json!({"causes": [{"message": "injected fault"}]}),
        );
        reply = Some(api_response(Err(e), false));
    } else if roll < faults.error_rate + faults.throttle_rate {
        fault = Some(Fault::Throttle429);
        let e = status(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.".into(),
            json!({"retryAfterSeconds": 1}),
        );
        let mut r = api_response(Err(e), false);
        r.headers_mut().insert("retry-after", "1".parse().unwrap());
        reply = Some(r);
    } else if roll < faults.error_rate + faults.throttle_rate + faults.drop_before_rate {
        fault = Some(Fault::DropBeforeCommit);
        peer.kill();
    }
    let mut code = reply.as_ref().map_or(0, |r| r.status().as_u16());
    if fault.is_none() {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let result = route(&shared, &method, &path, &query, &content_type, &body);
        let is_log = path.ends_with("/log") && result.is_ok();
        code = match &result {
            Ok((c, _)) => *c,
            Err(e) => e.code,
        };
        reply = Some(api_response(result, is_log));
        let mutating = method != Method::GET;
        if mutating && shared.roll() < faults.drop_after_rate {
            fault = Some(Fault::DropAfterCommit);
            peer.kill();
        } else if mutating && shared.roll() < faults.stall_after_rate {
            fault = Some(Fault::StallAfterCommit);
        }
    }
    shared.log.lock().unwrap().push(LogEntry {
        method: method.to_string(),
        path,
        query: uri.query().unwrap_or("").to_string(),
        code: if peer_killed(&fault) { 0 } else { code },
        fault,
        start_ms: started.as_secs_f64() * 1000.0,
        end_ms: shared.started.elapsed().as_secs_f64() * 1000.0,
    });
    if fault == Some(Fault::StallAfterCommit) {
        // Committed (and logged), then no answer for a long while: the client's timeout
        // fires and it drops the connection, which cancels this handler.
        tokio::time::sleep(faults.stall).await;
    }
    reply.unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn peer_killed(f: &Option<Fault>) -> bool {
    matches!(f, Some(Fault::DropBeforeCommit | Fault::DropAfterCommit))
}

fn api_response(result: Reply, text: bool) -> Response {
    let (code, body) = match result {
        Ok(ok) => ok,
        Err(e) => (e.code, e.body),
    };
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if text {
        let t = body.as_str().unwrap_or("").to_string();
        return (status, [("content-type", "text/plain")], t).into_response();
    }
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Parsed resource path.
pub(super) struct Target<'a> {
    pub(super) t: &'static ResourceType,
    pub(super) ns: String,
    pub(super) name: Option<&'a str>,
    pub(super) sub: Option<&'a str>,
}

fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    ct: &str,
    body: &[u8],
) -> Reply {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ok = |v: Value| Ok((200, v));
    match parts.as_slice() {
        ["version"] => return ok(discovery::version()),
        ["api"] => return ok(discovery::api_versions()),
        ["apis"] => return ok(discovery::group_list()),
        ["api", v] => {
            return discovery::resource_list("", v).map_or_else(|| Err(page_not_found(path)), ok);
        }
        ["apis", g] => {
            return discovery::api_group(g).map_or_else(|| Err(page_not_found(path)), ok);
        }
        ["apis", g, v] => {
            return discovery::resource_list(g, v).map_or_else(|| Err(page_not_found(path)), ok);
        }
        _ => {}
    }
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(page_not_found(path)),
    };
    let target = match rest {
        ["namespaces", ns, plural, tail @ ..] if tail.len() <= 2 => {
            let t = discovery::find(group, version, plural).ok_or_else(|| page_not_found(path))?;
            Target {
                t,
                ns: ns.to_string(),
                name: tail.first().copied(),
                sub: tail.get(1).copied(),
            }
        }
        [plural, tail @ ..] if tail.len() <= 2 => {
            let t = discovery::find(group, version, plural).ok_or_else(|| page_not_found(path))?;
            if t.namespaced && !tail.is_empty() {
                return Err(page_not_found(path));
            }
            Target {
                t,
                ns: String::new(),
                name: tail.first().copied(),
                sub: tail.get(1).copied(),
            }
        }
        _ => return Err(page_not_found(path)),
    };
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All");
    let mut store = shared.store.lock().unwrap();
    let now = Instant::now();
    match (method.as_str(), target.name, target.sub) {
        ("GET", None, None) => list(&store, &target, q),
        ("GET", Some(name), None) => get(&store, &target, name).map(|o| (200, o.object.clone())),
        ("GET", Some(name), Some("log")) if target.t.kind == "Pod" => {
            get(&store, &target, name)?;
            if let Some(node) = shared.node.get() {
                drop(store);
                let q = super::node::logs::LogQuery::from(q);
                return node
                    .log(&target.ns, name, &q)
                    .map(|t| (200, Value::String(t)));
            }
            let key = key(&target, name);
            // As a kubelet answers for a container that has not started (the log of an
            // earlier pod of the same name is not this pod's).
            let stored = &store.objects[&key].object;
            if stored
                .pointer("/status/phase")
                .is_none_or(|p| p == "Pending")
            {
                return Err(bad_request(format!(
                    "container \"main\" in pod \"{name}\" is waiting to start: ContainerCreating"
                )));
            }
            Ok((
                200,
                Value::String(store.logs.get(&key).cloned().unwrap_or_default()),
            ))
        }
        ("POST", None, None) => {
            let obj: Value = serde_json::from_slice(body)
                .map_err(|e| bad_request(format!("invalid JSON body: {e}")))?;
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            check_namespace(&store, &target)?;
            if store.objects.contains_key(&key(&target, &name)) {
                return Err(status(
                    409,
                    "AlreadyExists",
                    format!("{} \"{name}\" already exists", target.t.plural),
                    json!({"name": name, "kind": target.t.plural}),
                ));
            }
            objects::validate(target.t.kind, &obj)?;
            let created = create(
                &mut store,
                &target,
                &name,
                obj,
                q.get("fieldManager")
                    .map(String::as_str)
                    .unwrap_or("unknown"),
                None,
                dry_run,
                now,
            );
            Ok((201, created))
        }
        ("PATCH", Some(name), None) => apply(&mut store, &target, name, q, ct, body, dry_run, now),
        ("DELETE", Some(name), None) => {
            delete(shared, &mut store, &target, name, q, body, dry_run, now)
        }
        _ => Err(status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_string(),
            Value::Null,
        )),
    }
}

fn page_not_found(path: &str) -> ApiError {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
        json!({"causes": [{"reason": "UnexpectedServerResponse", "message": format!("404 page not found: {path}")}]}),
    )
}

pub(super) fn key(t: &Target, name: &str) -> Key {
    (t.t.plural.to_string(), t.ns.clone(), name.to_string())
}

fn get<'s>(store: &'s objects::Store, t: &Target, name: &str) -> Result<&'s Stored, ApiError> {
    store
        .objects
        .get(&key(t, name))
        .ok_or_else(|| not_found(t.t, name))
}

pub(super) fn check_namespace(store: &objects::Store, t: &Target) -> Result<(), ApiError> {
    if t.t.namespaced && !store.namespace_exists(&t.ns) {
        return Err(status(
            404,
            "NotFound",
            format!("namespaces \"{}\" not found", t.ns),
            json!({"name": t.ns, "kind": "namespaces"}),
        ));
    }
    Ok(())
}

/// Equality-based label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`.
pub fn matches_selector(labels: Option<&Value>, selector: &str) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    selector
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                get(k.trim()) != Some(v.trim())
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                get(k.trim()) == Some(v.trim())
            } else if let Some(k) = term.strip_prefix('!') {
                get(k).is_none()
            } else {
                get(term).is_some()
            }
        })
}

fn list(store: &objects::Store, t: &Target, q: &HashMap<String, String>) -> Reply {
    let selector = q.get("labelSelector").map(String::as_str).unwrap_or("");
    let items: Vec<Value> = store
        .objects
        .iter()
        .filter(|((plural, ns, _), _)| plural == t.t.plural && (t.ns.is_empty() || *ns == t.ns))
        .filter(|(_, s)| matches_selector(s.object.pointer("/metadata/labels"), selector))
        .map(|(_, s)| {
            // List items carry no kind/apiVersion, as from the real server.
            let mut o = s.object.clone();
            if let Some(m) = o.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            o
        })
        .collect();
    Ok((
        200,
        json!({"kind": format!("{}List", t.t.kind), "apiVersion": t.t.api_version(),
        "metadata": {"resourceVersion": store.resource_version.to_string()}, "items": items}),
    ))
}
