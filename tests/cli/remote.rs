//! Template sources from URLs: a real HTTP server on loopback serving archives and
//! templates, with ETags, failures and hostile archives.

use crate::support::{Project, stderr};
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the server serves (path -> body) and what it was asked (method, path, If-None-Match).
#[derive(Default)]
struct Site {
    files: Mutex<HashMap<String, Vec<u8>>>,
    log: Mutex<Vec<(String, Option<String>, u16)>>,
}

struct Server {
    site: Arc<Site>,
    base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(files: &[(&str, Vec<u8>)]) -> Server {
        let site = Arc::new(Site::default());
        site.files
            .lock()
            .unwrap()
            .extend(files.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::get(serve))
            .with_state(site.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Server {
            site,
            base,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    fn log(&self) -> Vec<(String, Option<String>, u16)> {
        self.site.log.lock().unwrap().clone()
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
            self.thread.take().unwrap().join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves files with a content ETag; honours `If-None-Match`. `stream-huge` sends more
/// than the download limit without saying so in advance (no Content-Length).
async fn serve(
    State(site): State<Arc<Site>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = site.files.lock().unwrap().get(&path).cloned();
    let response = match (path.as_str(), body) {
        ("stream-huge.tar.gz", _) => {
            let chunks = (0..40).map(|_| Ok::<_, std::io::Error>(vec![0x1fu8; 1 << 20]));
            Body::from_stream(futures::stream::iter(chunks)).into_response()
        }
        (_, Some(body)) => {
            let etag = format!(
                "\"{:x}\"",
                body.len() * 31 + body.first().copied().unwrap_or(0) as usize
            );
            if inm.as_deref() == Some(etag.as_str()) {
                (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
            } else {
                ([(header::ETAG, etag)], body).into_response()
            }
        }
        (_, None) => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    };
    site.log
        .lock()
        .unwrap()
        .push((path, inm, response.status().as_u16()));
    response
}

/// A .tar.gz of `files` under a top-level `kubernetes-in/` directory.
fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(
                &mut header,
                format!("kubernetes-in/{path}"),
                text.as_bytes(),
            )
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// A .tar.gz whose one entry is named `name` verbatim (tar refuses to write `..`).
fn hostile_tarball(name: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(4);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append(&header, &b"evil"[..]).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{name}}\n  annotations:\n    motd: {{include \"_files/motd.txt\"}}\nspec:\n  ports:\n  - port: 80\n";

fn project() -> Project {
    let p = Project::new();
    p.write("params.yaml", "name: web\nuser: \"admin: #1\"\n");
    p
}

#[test]
fn a_tree_from_a_url_renders_and_is_revalidated_with_its_etag() {
    let tree = tarball(&[
        ("web-service.yaml", SERVICE),
        ("_files/motd.txt", "hello {{user}}\n"),
    ]);
    let server = Server::start(&[("tree.tar.gz", tree)]);
    let p = project();
    let url = server.url("tree.tar.gz");
    let out = p
        .with_params(&["render", "--input-dir", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rendered = p.read("kubernetes/web-service.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(&rendered).unwrap();
    assert_eq!(doc["metadata"]["name"], "web");
    // The included file was itself rendered, and its text placed as a safe string.
    assert_eq!(doc["metadata"]["annotations"]["motd"], "hello admin: #1\n");

    // Second render: a conditional request answered 304, same output.
    let out = p
        .with_params(&["render", "--input-dir", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(p.read("kubernetes/web-service.yaml"), rendered);
    let log = server.log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].1, None);
    assert!(log[1].1.is_some() && log[1].2 == 304, "{log:?}");
}

#[test]
fn the_cached_copy_stands_in_when_the_server_is_gone() {
    let tree = tarball(&[("web-service.yaml", SERVICE), ("_files/motd.txt", "hi\n")]);
    let mut server = Server::start(&[("tree.tar.gz", tree)]);
    let p = project();
    let url = server.url("tree.tar.gz");
    assert!(
        p.with_params(&["render", "--input-dir", &url])
            .output()
            .unwrap()
            .status
            .success()
    );
    server.stop();
    let out = p
        .with_params(&["render", "--input-dir", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("using the cached copy"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_single_template_url_includes_relative_to_itself() {
    let server = Server::start(&[
        (
            "t/web-service.yaml",
            SERVICE.replace("_files/motd.txt", "motd.txt").into_bytes(),
        ),
        ("t/motd.txt", b"from the server\n".to_vec()),
    ]);
    let p = project();
    let out = p
        .with_params(&["render", "--input-dir", &server.url("t/web-service.yaml")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&p.read("kubernetes/web-service.yaml")).unwrap();
    assert_eq!(doc["metadata"]["annotations"]["motd"], "from the server\n");
}

#[test]
fn failures_name_the_url_and_what_went_wrong() {
    let server = Server::start(&[
        ("evil.tar.gz", hostile_tarball("../../evil.yaml")),
        ("huge.tar.gz", vec![0x1f; 40 << 20]),
        (
            "bad-include.yaml",
            SERVICE
                .replace("_files/motd.txt", "missing.txt")
                .into_bytes(),
        ),
    ]);
    let p = project();
    p.write("kubernetes/keep.yaml", "kept: true\n")
        .write("kubernetes/.kube-openstack-render", "");
    let cases = [
        ("missing.tar.gz", "answered HTTP 404"),
        (
            "evil.tar.gz",
            "archive entry `../../evil.yaml` points outside the tree",
        ),
        (
            "huge.tar.gz",
            "is larger than the 33554432-byte download limit",
        ),
        (
            "stream-huge.tar.gz",
            "is larger than the 33554432-byte download limit",
        ),
        ("bad-include.yaml", "`include missing.txt`:"),
    ];
    for (path, expected) in cases {
        let url = server.url(path);
        let out = p
            .with_params(&["render", "--input-dir", &url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{path}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(expected),
            "{path}: wanted {expected:?} in {err}"
        );
        assert!(
            err.contains(&server.base),
            "{path}: the message names the URL: {err}"
        );
        assert!(!p.path("evil.yaml").exists() && !p.path("../evil.yaml").exists());
        assert_eq!(
            p.read("kubernetes/keep.yaml"),
            "kept: true\n",
            "nothing already written changed"
        );
    }
    let err = stderr(
        &p.with_params(&["render", "--input-dir", &server.url("bad-include.yaml")])
            .output()
            .unwrap(),
    );
    assert!(err.contains("answered HTTP 404"), "{err}");
}

#[test]
fn local_includes_cannot_leave_the_tree() {
    let p = project();
    p.write("secret.txt", "do not leak\n");
    p.write(
        "kubernetes-in/web-service.yaml",
        &SERVICE.replace("_files/motd.txt", "../secret.txt"),
    );
    let out = p.with_params(&["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`../secret.txt` is outside the template tree"),
        "{}",
        stderr(&out)
    );
}
