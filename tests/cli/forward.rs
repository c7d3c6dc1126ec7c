//! `deploy::forward` (a local port carried to a pod's port through the API server) against
//! the fake API server's `portforward` subresource, whose pod ports lead to echo servers
//! on 127.0.0.1 (or to the real registry of `scripts/dev-registry.sh`).
//!
//! These call the library directly: there is no subcommand of its own to run.

use crate::fake_kube::portforward::ANY_POD;
use crate::fake_kube::{FakeKube, Faults};
use crate::support::{missing, require_var};
use k8s_openapi::api::core::v1::Pod;
use kube_openstack::deploy::Context;
use kube_openstack::deploy::client::ClientOptions;
use kube_openstack::deploy::forward::{self, ForwardError};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The registry pod's port in the tests.
const PORT: u16 = 5000;
const WAIT: Duration = Duration::from_secs(10);

struct Cluster {
    fake: FakeKube,
    _dir: tempfile::TempDir,
    ctx: Context,
}

async fn cluster(faults: Faults) -> Cluster {
    cluster_with_timeout(faults, Duration::from_secs(10)).await
}

/// The same with a given per-request timeout.
async fn cluster_with_timeout(faults: Faults, request_timeout: Duration) -> Cluster {
    kube_openstack::rt::install_crypto_provider();
    let fake = FakeKube::start(faults);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig);
    let options = ClientOptions {
        kubeconfig: Some(kubeconfig),
        context: None,
        request_timeout,
    };
    let ctx = Context::connect(&options, "default".into()).await.unwrap();
    Cluster {
        fake,
        _dir: dir,
        ctx,
    }
}

/// A pod of the registry in `phase`, ready when running.
fn pod(name: &str, phase: &str) -> Value {
    let mut status = json!({"phase": phase});
    if phase == "Running" {
        status["conditions"] = json!([{"type": "Ready", "status": "True"}]);
    }
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "registry"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "registry", "image": "registry:2",
            "ports": [{"containerPort": PORT}]}]},
        "status": status})
}

/// An echo server on 127.0.0.1; a connection that sends `quit` is closed by the server.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0; 16 * 1024];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 || buf[..n].windows(4).any(|w| w == b"quit") {
                        break;
                    }
                    if conn.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Sends `data` and reads as many bytes back, both at once.
async fn round_trip(conn: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = conn.split();
    let mut back = vec![0; data.len()];
    let (wrote, read) = tokio::join!(w.write_all(data), r.read_exact(&mut back));
    wrote.unwrap();
    read.unwrap();
    back
}

/// Waits for the end of stream (or a reset) on a connection, failing after [`WAIT`].
async fn closed(conn: &mut TcpStream) {
    let mut buf = [0; 64];
    loop {
        match tokio::time::timeout(WAIT, conn.read(&mut buf)).await {
            Err(_) => panic!("the connection stayed open"),
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_carries_concurrent_connections_to_the_pod_port() {
    let c = cluster(Faults::default()).await;
    c.fake
        .insert("pods", "default", pod("registry-0", "Running"));
    c.fake.forward_port("registry-0", PORT, echo_server().await);
    let fwd = forward::start(&c.ctx, "app=registry", PORT, 0)
        .await
        .unwrap();
    assert_eq!(fwd.pod, "registry-0");
    assert!(fwd.local.ip().is_loopback());
    let conns = (0..4u8).map(|i| {
        let local = fwd.local;
        async move {
            let data: Vec<u8> = (0..200_000u32).map(|n| (n as u8) ^ i).collect();
            let mut conn = TcpStream::connect(local).await.unwrap();
            let back = round_trip(&mut conn, &data).await;
            assert!(back == data, "connection {i} got other bytes back");
            // A second exchange on the same connection.
            assert_eq!(round_trip(&mut conn, b"again").await, b"again");
        }
    });
    tokio::time::timeout(WAIT * 3, futures::future::join_all(conns))
        .await
        .expect("the round trips finish");
    let tunnels = c
        .fake
        .log()
        .iter()
        .filter(|e| e.path.ends_with("/pods/registry-0/portforward") && e.code == 101)
        .count();
    // One per connection, and the check that `start` makes.
    assert_eq!(tunnels, 5);
    assert!(fwd.take_errors().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_without_a_ready_pod_names_the_selector_and_namespace() {
    let c = cluster(Faults::default()).await;
    let err = forward::start(&c.ctx, "app=registry", PORT, 0)
        .await
        .err()
        .expect("no pod, no forward");
    assert!(matches!(err, ForwardError::NoReadyPod { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "no running and ready pod matches `app=registry` in namespace `default` (no pod matches at all)"
    );

    // A pod that runs but is not ready (the fake's controllers leave it so).
    let mut unready = pod("registry-0", "Running");
    unready["status"]["conditions"][0]["status"] = json!("False");
    c.fake.insert("pods", "default", unready);
    let err = forward::start(&c.ctx, "app=registry", PORT, 0)
        .await
        .err()
        .expect("an unready pod, no forward");
    assert_eq!(
        err.to_string(),
        "no running and ready pod matches `app=registry` in namespace `default` (found: `registry-0` is not ready)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_closes_only_the_connection_whose_upstream_closed() {
    let c = cluster(Faults::default()).await;
    c.fake
        .insert("pods", "default", pod("registry-0", "Running"));
    c.fake.forward_port(ANY_POD, PORT, echo_server().await);
    let fwd = forward::start(&c.ctx, "app=registry", PORT, 0)
        .await
        .unwrap();
    let mut a = TcpStream::connect(fwd.local).await.unwrap();
    let mut b = TcpStream::connect(fwd.local).await.unwrap();
    assert_eq!(round_trip(&mut a, b"one").await, b"one");
    assert_eq!(round_trip(&mut b, b"two").await, b"two");
    a.write_all(b"quit").await.unwrap();
    closed(&mut a).await;
    assert_eq!(round_trip(&mut b, b"still").await, b"still");
    let mut c2 = TcpStream::connect(fwd.local).await.unwrap();
    assert_eq!(round_trip(&mut c2, b"new").await, b"new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_to_a_deleted_pod_closes_its_connections_and_keeps_listening() {
    let c = cluster(Faults {
        deletion_delay: Duration::from_millis(50),
        ..Faults::default()
    })
    .await;
    c.fake
        .insert("pods", "default", pod("registry-0", "Running"));
    c.fake.forward_port("registry-0", PORT, echo_server().await);
    let fwd = forward::start(&c.ctx, "app=registry", PORT, 0)
        .await
        .unwrap();
    let mut a = TcpStream::connect(fwd.local).await.unwrap();
    assert_eq!(round_trip(&mut a, b"hello").await, b"hello");

    let pods: kube::Api<Pod> = kube::Api::namespaced(c.ctx.kube.client().clone(), "default");
    pods.delete("registry-0", &Default::default())
        .await
        .unwrap();
    closed(&mut a).await;

    // The listener is still there; a new connection reaches the API server, which no
    // longer has the pod, and is closed with the refusal kept for the caller.
    let mut b = TcpStream::connect(fwd.local).await.unwrap();
    closed(&mut b).await;
    let errors: Vec<String> = fwd.take_errors().iter().map(|e| e.to_string()).collect();
    assert!(
        errors.contains(
            &"the API server refused to forward port 5000 of pod `registry-0`: 404 pods \"registry-0\" not found"
                .to_string()
        ),
        "{errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_connections_outlive_the_request_timeout() {
    // A push writes a large layer for minutes before the registry answers; an idle
    // keep-alive connection waits for the next request. Neither is a hung request.
    let c = cluster_with_timeout(Faults::default(), Duration::from_millis(500)).await;
    c.fake
        .insert("pods", "default", pod("registry-0", "Running"));
    c.fake.forward_port("registry-0", PORT, echo_server().await);
    let fwd = forward::start(&c.ctx, "app=registry", PORT, 0)
        .await
        .unwrap();
    let mut a = TcpStream::connect(fwd.local).await.unwrap();
    assert_eq!(round_trip(&mut a, b"before").await, b"before");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(round_trip(&mut a, b"after").await, b"after");
    assert!(fwd.take_errors().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_dropped_stops_listening() {
    let c = cluster(Faults::default()).await;
    c.fake
        .insert("pods", "default", pod("registry-0", "Running"));
    c.fake.forward_port("registry-0", PORT, echo_server().await);
    let fwd = forward::start(&c.ctx, "app=registry", PORT, 0)
        .await
        .unwrap();
    let local = fwd.local;
    let mut a = TcpStream::connect(local).await.unwrap();
    assert_eq!(round_trip(&mut a, b"hello").await, b"hello");
    drop(fwd);
    closed(&mut a).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(local).await.is_err());
}

// The fake's `portforward` subresource, as kube-apiserver and the kubelet answer.

/// Opens a port-forward with kube-rs and returns the error channel's message, if any.
async fn tunnel_error(c: &Cluster, pod: &str) -> Result<Option<String>, kube::Error> {
    let pods: kube::Api<Pod> = kube::Api::namespaced(c.ctx.kube.client().clone(), "default");
    let mut pf = pods.portforward(pod, &[PORT]).await?;
    let error = pf.take_error(PORT).unwrap();
    Ok(tokio::time::timeout(WAIT, error)
        .await
        .expect("the server answers"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_portforward_refuses_like_the_api_server() {
    let c = cluster(Faults {
        // Keep the Pending pod Pending.
        pod_run_time: Duration::from_secs(3600),
        ..Faults::default()
    })
    .await;
    let status = |r: Result<Option<String>, kube::Error>| match r {
        Err(kube::Error::Api(s)) => (s.code, s.message),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        status(tunnel_error(&c, "nope").await),
        (404, "pods \"nope\" not found".to_string())
    );
    let mut unscheduled = pod("pending-0", "Pending");
    unscheduled["spec"]
        .as_object_mut()
        .unwrap()
        .remove("nodeName");
    c.fake.insert("pods", "default", unscheduled);
    assert_eq!(
        status(tunnel_error(&c, "pending-0").await),
        (
            400,
            "pod pending-0 does not have a host assigned".to_string()
        )
    );

    c.fake
        .insert("pods", "default", pod("registry-0", "Running"));
    let url = format!(
        "{}/api/v1/namespaces/default/pods/registry-0/portforward",
        c.fake.url()
    );
    let reply = reqwest::get(&url).await.unwrap();
    assert_eq!(reply.status().as_u16(), 400);
    assert_eq!(
        reply.text().await.unwrap(),
        "query parameter \"port\" is required"
    );
    let reply = reqwest::get(format!("{url}?ports={PORT}")).await.unwrap();
    assert_eq!(reply.status().as_u16(), 400, "not a WebSocket request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_portforward_reports_runtime_errors_on_the_error_channel() {
    let c = cluster(Faults::default()).await;
    c.fake.insert("pods", "default", pod("done-0", "Succeeded"));
    let message = tunnel_error(&c, "done-0").await.unwrap().unwrap();
    assert!(
        message.starts_with("error forwarding port 5000 to pod "),
        "{message}"
    );
    assert!(message.contains("failed to find sandbox"), "{message}");

    // Running, but nothing listens where the pod's port leads.
    c.fake
        .insert("pods", "default", pod("registry-0", "Running"));
    let message = tunnel_error(&c, "registry-0").await.unwrap().unwrap();
    assert!(message.contains("connect: connection refused"), "{message}");
}

/// The registry of `scripts/dev-registry.sh` (`KO_REGISTRY`); without it the test fails.
async fn real_registry() -> SocketAddr {
    let how = "run `scripts/dev-registry.sh start` and export what `scripts/dev-registry.sh env` prints (scripts/test.sh does both)";
    let address = require_var("KO_REGISTRY", how);
    let addr: SocketAddr = address
        .parse()
        .unwrap_or_else(|_| panic!("KO_REGISTRY `{address}` is not HOST:PORT"));
    if let Err(e) = TcpStream::connect(addr).await {
        missing(&format!("the registry at `{address}` ({e})"), how);
    }
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_to_the_real_registry_answers_as_directly_and_takes_a_blob() {
    let registry = real_registry().await;
    let c = cluster(Faults::default()).await;
    c.fake
        .insert("pods", "default", pod("registry-0", "Running"));
    c.fake.forward_port("registry-0", PORT, registry);
    let fwd = forward::start(&c.ctx, "app=registry", PORT, 0)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let direct = http
        .get(format!("http://{registry}/v2/"))
        .send()
        .await
        .unwrap();
    let through = http
        .get(format!("http://{}/v2/", fwd.local))
        .send()
        .await
        .unwrap();
    assert_eq!(
        direct.status(),
        200,
        "the registry of scripts/dev-registry.sh takes no login"
    );
    assert_eq!(through.status(), direct.status());
    // A blob upload through the forward: a session (POST), then the blob in one PUT.
    use sha2::Digest as _;
    let blob: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(&blob));
    let repo = format!("forward-test-{}", std::process::id());
    let base = url::Url::parse(&format!("http://{}/", fwd.local)).unwrap();
    let session = http
        .post(base.join(&format!("v2/{repo}/blobs/uploads/")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(session.status().as_u16(), 202);
    let location = session.headers()["location"].to_str().unwrap();
    let mut put = base.join(location).unwrap();
    assert_eq!(put.port(), Some(fwd.local.port()), "{put}");
    put.query_pairs_mut().append_pair("digest", &digest);
    let upload = http
        .put(put)
        .header("content-type", "application/octet-stream")
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status().as_u16(), 201, "{:?}", upload.text().await);
    let back = http
        .get(format!("http://{registry}/v2/{repo}/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status().as_u16(), 200);
    assert!(back.bytes().await.unwrap() == blob);
    assert!(fwd.take_errors().is_empty());
}
