//! Bearer-token authentication, which the Debian registry cannot show (it ships no token
//! server): a fake registry following Distribution's token-auth specification answers
//! 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`, and its token
//! endpoint hands out a token only for the right Basic credentials.

use crate::support::{Project, failure, stderr, stdout};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "tok-123";

fn start_fake() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let realm = format!("http://{address}/token");
    let log = seen.clone();
    let guarded = move |path: &'static str, body: &'static str| {
        let realm = realm.clone();
        let log = log.clone();
        move |headers: HeaderMap| async move {
            let auth = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push(format!("{path} {auth}"));
            if auth != format!("Bearer {TOKEN}") {
                let challenge = format!(
                    "Bearer realm=\"{realm}\",service=\"fake\",scope=\"registry:catalog:*\""
                );
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, challenge)],
                    "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
                )
                    .into_response();
            }
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    };
    let token_log = seen.clone();
    let token = move |headers: HeaderMap, uri: axum::http::Uri| async move {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        token_log
            .lock()
            .unwrap()
            .push(format!("token {}", uri.query().unwrap_or("")));
        // builder:right
        if auth != "Basic YnVpbGRlcjpyaWdodA==" {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .body(axum::body::Body::empty())
                .unwrap();
        }
        (
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"token\":\"{TOKEN}\",\"expires_in\":300}}"),
        )
            .into_response()
    };
    let app = axum::Router::new()
        .route("/v2/", get(guarded("/v2/", "{}")))
        .route(
            "/v2/_catalog",
            get(guarded(
                "/v2/_catalog",
                "{\"repositories\":[\"ko/elsewhere\"]}",
            )),
        )
        .route("/token", get(token));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (address, seen)
}

#[test]
fn a_bearer_challenge_is_answered_with_a_token_from_the_realm() {
    let (address, seen) = start_fake();
    let p = Project::new();
    p.write("docker/a/Dockerfile", "FROM scratch\n");
    p.write("kube-openstack.yaml", "image_prefix: ko\n");
    let list = |password: &str| {
        p.cmd()
            .args([
                "images",
                "list",
                "-o",
                "json",
                "--registry",
                &address,
                "--username",
                "builder",
                "--password-stdin",
            ])
            .write_stdin(format!("{password}\n"))
            .output()
            .unwrap()
    };
    let out = list("wrong");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("refused the credentials"),
        "{}",
        stderr(&out)
    );

    let out = list("right");
    assert!(out.status.success(), "{}", failure(&out));
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|s| s.starts_with("token ")
            && s.contains("service=fake")
            && s.contains("scope=registry%3Acatalog%3A*")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s == &format!("/v2/_catalog Bearer {TOKEN}")),
        "the token is reused: {seen:?}"
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["name"], "a");
    assert_eq!(rows[0]["status"], "missing");
    assert_eq!(rows[1]["name"], "elsewhere", "{}", stdout(&out));
    assert_eq!(rows[1]["status"], "not in docker/");
}

#[test]
fn a_catalog_that_does_not_answer_in_time_leaves_the_rows_of_docker_with_a_warning() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    // A registry whose catalog walk takes a minute, as a Swift-backed one holding
    // thousands of repositories does; everything else answers at once.
    let app = axum::Router::new()
        .route("/v2/", get(|| async { "{}" }))
        .route(
            "/v2/_catalog",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                "{\"repositories\":[]}"
            }),
        );
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let p = Project::new();
    p.write("docker/a/Dockerfile", "FROM scratch\n");
    p.write("kube-openstack.yaml", "image_prefix: ko\n");
    let started = std::time::Instant::now();
    let out = p
        .cmd()
        .args(["images", "list", "-o", "json", "--registry", &address])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(50),
        "gave up on the catalog, not on the listing"
    );
    assert!(
        stderr(&out).contains(
            "warning: the registry's catalog did not answer within 15s: repositories under `ko/`"
        ),
        "{}",
        stderr(&out)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["name"], "a");
    assert_eq!(rows[0]["status"], "missing");
}
