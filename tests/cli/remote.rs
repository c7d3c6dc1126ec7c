//! Template sources from URLs: a real HTTP server on loopback serving archives and
//! templates, with ETags, failures and hostile archives.

use crate::support::{Project, failure, stderr};
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
    assert!(out.status.success(), "{}", failure(&out));
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
    assert!(out.status.success(), "{}", failure(&out));
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
    assert!(out.status.success(), "{}", failure(&out));
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
    assert!(out.status.success(), "{}", failure(&out));
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

/// One raw archive entry: name, body, link target.
type Entry<'a> = (&'a str, &'a str, Option<&'a str>);

/// A .tar.gz of raw entries: links as written, however hostile.
fn linked_tarball(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, body, link) in entries {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_mode(0o644);
        match link {
            Some(to) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.as_old_mut().linkname[..to.len()].copy_from_slice(to.as_bytes());
                header.set_size(0);
            }
            None if name.ends_with('/') => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
            }
            None => header.set_size(body.len() as u64),
        }
        header.set_cksum();
        builder.append(&header, body.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// Link chains whose every text looks inside but which, followed, lead to a local file:
/// refused before anything is rendered, whatever their shape or order.
#[test]
fn archives_whose_links_lead_out_once_followed_are_refused() {
    let p = project();
    p.write(
        "outside/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\n",
    );
    let depth = p.dir.path().components().count();
    let climb = "../".repeat(depth + 2);
    let shapes: Vec<(&str, Vec<Entry>)> = vec![
        (
            "the reported chain",
            vec![
                ("kubernetes-in/", "", None),
                ("kubernetes-in/web-service.yaml", SERVICE, None),
                ("kubernetes-in/_y", "", Some(".")),
                ("kubernetes-in/_z1", "", Some("_y/..")),
                ("kubernetes-in/_z2", "", Some("_z1/..")),
                ("kubernetes-in/x.yaml", "", Some("_z2/secret.yaml")),
            ],
        ),
        (
            "the chain in reverse order",
            vec![
                ("kubernetes-in/x.yaml", "", Some("_z1/../etc/passwd")),
                ("kubernetes-in/_z1", "", Some("_y/..")),
                ("kubernetes-in/_y", "", Some(".")),
            ],
        ),
        (
            "a link to a parent link inside a subdirectory",
            vec![
                ("t/sub/", "", None),
                ("t/sub/up", "", Some("..")),
                ("t/x.yaml", "", Some("sub/up/../../outside/secret.yaml")),
            ],
        ),
        (
            "many levels, each one link",
            vec![
                ("a/", "", None),
                ("a/b/", "", None),
                ("a/b/c/", "", None),
                ("a/b/c/l1", "", Some("..")),
                ("a/b/l2", "", Some("c/l1/..")),
                ("a/l3", "", Some("b/l2/..")),
                ("a/x.yaml", "", Some("l3/../..")),
            ],
        ),
        (
            "a plain climb",
            vec![(
                "x.yaml",
                "",
                Some(Box::leak(climb.clone().into_boxed_str())),
            )],
        ),
        (
            "a loop",
            vec![("l1", "", Some("l2")), ("l2", "", Some("l1"))],
        ),
    ];
    let files: Vec<(String, Vec<u8>)> = shapes
        .iter()
        .enumerate()
        .map(|(i, (_, entries))| (format!("evil{i}.tar.gz"), linked_tarball(entries)))
        .collect();
    let server = Server::start(
        &files
            .iter()
            .map(|(n, b)| (n.as_str(), b.clone()))
            .collect::<Vec<_>>(),
    );
    for (i, (what, _)) in shapes.iter().enumerate() {
        let url = server.url(&format!("evil{i}.tar.gz"));
        let out = p
            .with_params(&["render", "--input-dir", &url])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains("leads outside the tree once the links on its way are followed")
                || err.contains("is a link to") && err.contains("outside the tree")
                || err.contains("link in a loop"),
            "{what}: {err}"
        );
        assert!(!p.path("kubernetes").exists(), "{what}: nothing rendered");
        let cached: Vec<_> = walkdir::WalkDir::new(p.path(".kube-openstack/cache"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("tree-"))
            .collect();
        assert!(cached.is_empty(), "{what}: nothing kept in the cache");
    }
}

/// A downloaded template reads only its own tree and the network: no `file:` URL (in
/// any spelling), not through a single template's base URL, not from a text it fetched.
#[test]
fn downloaded_templates_cannot_include_local_files() {
    let p = project();
    p.write(
        ".kube-openstack/params.json",
        "{\"db_password\": \"s3cr3t-local\"}\n",
    );
    let params_json = p.path(".kube-openstack/params.json").display().to_string();
    let with_include = |name: &str| SERVICE.replace("_files/motd.txt", name);
    let server = Server::start(&[
        (
            "file-url.tar.gz",
            tarball(&[(
                "web-service.yaml",
                &with_include(&format!("file://{params_json}")),
            )]),
        ),
        (
            "file-upper.tar.gz",
            tarball(&[(
                "web-service.yaml",
                &with_include(&format!("FILE://{params_json}")),
            )]),
        ),
        (
            "t/single.yaml",
            with_include(&format!("file:{params_json}")).into_bytes(),
        ),
        (
            "nested.tar.gz",
            tarball(&[("web-service.yaml", &with_include("PLACEHOLDER"))]),
        ),
        (
            "fetched.txt",
            format!("{{{{include \"file://{params_json}\"}}}}").into_bytes(),
        ),
    ]);
    // The archive's include names the server's own text, which names a local file.
    let nested = tarball(&[(
        "web-service.yaml",
        &with_include(&server.url("fetched.txt")),
    )]);
    server
        .site
        .files
        .lock()
        .unwrap()
        .insert("nested.tar.gz".into(), nested);
    for path in [
        "file-url.tar.gz",
        "file-upper.tar.gz",
        "t/single.yaml",
        "nested.tar.gz",
    ] {
        let out = p
            .with_params(&["render", "--input-dir", &server.url(path)])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{path}: {err}");
        assert!(
            err.contains("a downloaded template may include only from its own tree or the network"),
            "{path}: {err}"
        );
        assert!(!err.contains("s3cr3t-local"), "{path}: {err}");
        assert!(!p.path("kubernetes").exists());
    }
    // The same text fetched by a local template may not read local files either.
    p.write(
        "kubernetes-in/web-service.yaml",
        &with_include(&server.url("fetched.txt")),
    );
    let out = p.with_params(&["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a downloaded template may include only"),
        "{}",
        stderr(&out)
    );
    // A local template itself may.
    p.write(
        "kubernetes-in/web-service.yaml",
        &with_include(&format!("file://{}", p.path("motd.txt").display())),
    );
    p.write("motd.txt", "local motd\n");
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
}

/// `source.json` edited to name another directory (relative, absolute, or a link planted
/// in the cache) never makes that directory the template tree.
#[test]
fn a_hand_edited_cache_record_cannot_choose_the_template_tree() {
    let p = project();
    p.write(
        "elsewhere/stolen.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\n",
    );
    let elsewhere = p.path("elsewhere").display().to_string();
    let tree = tarball(&[("web-service.yaml", SERVICE), ("_files/motd.txt", "hi\n")]);
    let mut server = Server::start(&[("tree.tar.gz", tree)]);
    let url = server.url("tree.tar.gz");
    let out = p
        .with_params(&["render", "--input-dir", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    server.stop();
    let record = walkdir::WalkDir::new(p.path(".kube-openstack/cache"))
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "source.json")
        .unwrap()
        .into_path();
    let entry = record.parent().unwrap().to_path_buf();
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let planted = "tree-0123456789abcdef";
    std::os::unix::fs::symlink(&elsewhere, entry.join(planted)).unwrap();
    for tree in [
        "../../../../elsewhere".to_string(),
        elsewhere.clone(),
        format!(
            "{}/../../../../../elsewhere",
            original["tree"].as_str().unwrap()
        ),
        planted.to_string(),
    ] {
        let mut edited = original.clone();
        edited["tree"] = tree.clone().into();
        std::fs::write(&record, serde_json::to_vec(&edited).unwrap()).unwrap();
        let out = p
            .with_params(&["render", "--input-dir", &url])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{tree}: {err}");
        assert!(err.contains("cannot download"), "{tree}: {err}");
        assert!(!p.read("kubernetes/web-service.yaml").is_empty());
        assert!(!p.path("kubernetes/stolen.yaml").exists(), "{tree}");
    }
}

/// A link planted in a cached tree after it was unpacked is refused when rendering: a
/// downloaded tree is never read outside itself, whatever happened to the cache.
#[test]
fn a_link_planted_in_a_cached_tree_is_refused() {
    let p = project();
    p.write(
        "elsewhere/stolen.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\n",
    );
    let tree = tarball(&[("web-service.yaml", SERVICE), ("_files/motd.txt", "hi\n")]);
    let server = Server::start(&[("tree.tar.gz", tree)]);
    let url = server.url("tree.tar.gz");
    let out = p
        .with_params(&["render", "--input-dir", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let cached = walkdir::WalkDir::new(p.path(".kube-openstack/cache"))
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "web-service.yaml")
        .unwrap()
        .into_path();
    let dir = cached.parent().unwrap();
    std::os::unix::fs::symlink(p.path("elsewhere/stolen.yaml"), dir.join("x.yaml")).unwrap();
    std::os::unix::fs::symlink(p.path("elsewhere/stolen.yaml"), dir.join("_files/y.txt")).unwrap();
    std::fs::write(
        dir.join("web-service.yaml"),
        SERVICE.replace("_files/motd.txt", "_files/y.txt"),
    )
    .unwrap();
    let out = p
        .with_params(&["render", "--input-dir", &url])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is a link leading outside the downloaded tree"),
        "{err}"
    );
    std::fs::remove_file(dir.join("x.yaml")).unwrap();
    let out = p
        .with_params(&["render", "--input-dir", &url])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`_files/y.txt` is a link leading outside the template tree"),
        "{err}"
    );
    assert!(!p.read("kubernetes/web-service.yaml").contains("stolen"));
}

/// Credentials in a template URL (user info, a token in the query or fragment) never
/// appear in download or include errors, nor in the offline warning.
#[test]
fn urls_with_credentials_are_redacted_in_every_message() {
    let mut server = Server::start(&[
        (
            "tree.tar.gz",
            tarball(&[("web-service.yaml", SERVICE), ("_files/motd.txt", "hi\n")]),
        ),
        (
            "inc.yaml",
            SERVICE
                .replace(
                    "_files/motd.txt",
                    "http://incuser:incPa55@127.0.0.1:9/x?token=incTok3n",
                )
                .into_bytes(),
        ),
    ]);
    let p = project();
    let with_creds = |path: &str| {
        server
            .url(path)
            .replace("http://", "http://tokuser:Pa55w0rd@")
            + "?token=T0k3nValue#frag"
    };
    let closed = "http://tokuser:Pa55w0rd@127.0.0.1:9/t.tar.gz?token=T0k3nValue".to_string();
    let secrets = [
        "Pa55w0rd",
        "T0k3nValue",
        "tokuser",
        "incPa55",
        "incTok3n",
        "incuser",
    ];
    let check = |what: &str, args: &[&str], ok: bool| {
        let out = p.with_params(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.success(), ok, "{what}: {err}");
        for s in secrets {
            assert!(!err.contains(s), "{what} shows `{s}`: {err}");
        }
        err
    };
    let err = check(
        "404",
        &["render", "--input-dir", &with_creds("missing.tar.gz")],
        false,
    );
    assert!(err.contains("answered HTTP 404"), "{err}");
    let err = check("closed port", &["render", "--input-dir", &closed], false);
    assert!(
        err.contains("cannot download http://127.0.0.1:9/t.tar.gz"),
        "{err}"
    );
    check(
        "not a URL",
        &[
            "render",
            "--input-dir",
            "http://tokuser:Pa55w0rd@[bad/x?token=T0k3nValue",
        ],
        false,
    );
    let err = check(
        "an include",
        &["render", "--input-dir", &with_creds("inc.yaml")],
        false,
    );
    assert!(err.contains("`include http://127.0.0.1:9/x`"), "{err}");
    // Cached, then the server goes: the warning names the URL without its secrets.
    check(
        "cached",
        &["render", "--input-dir", &with_creds("tree.tar.gz")],
        true,
    );
    let url = with_creds("tree.tar.gz");
    server.stop();
    let err = check("offline", &["render", "--input-dir", &url], true);
    assert!(err.contains("using the cached copy"), "{err}");
}
