//! Feedback while the tool waits on the network: a `retrying (n/N) SERVER: REASON` line
//! for every retry (soon enough to see), errors that name the server, and the `-v` /
//! `--debug` trace of every request (no credential in it), for Kubernetes, Keystone +
//! Heat and the registry alike.

use crate::fake_kube::{Faults, kubeconfig};
use crate::support::cluster::{Cluster, ok};
use crate::support::fake_heat::{FakeCloud, PASSWORD, TOKEN};
use crate::support::{Project, stderr};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: b\n";

/// A port that refuses connections (bound, then closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_server_that_does_not_answer_gets_a_retry_line_within_two_seconds() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let p = Project::new();
    p.write(
        "kubeconfig",
        &kubeconfig(&format!("http://127.0.0.1:{port}")),
    )
    .write("kubernetes/web.yaml", CONFIG_MAP);
    let started = Instant::now();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("kube-openstack"))
        .current_dir(p.path(""))
        .args([
            "status",
            "--kubeconfig",
            "kubeconfig",
            "--request-timeout",
            "500ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let want = format!("retrying (2/8) http://127.0.0.1:{port}: no answer in time");
    let mut seen = Vec::new();
    let found = loop {
        let left = Duration::from_secs(2).saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(&want) => break Some(started.elapsed()),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(found.is_some(), "no `{want}` within 2 s; saw: {seen:?}");
}

#[test]
fn a_refused_connection_is_retried_aloud_and_the_error_names_the_server() {
    let port = closed_port();
    let p = Project::new();
    p.write(
        "kubeconfig",
        &kubeconfig(&format!("http://127.0.0.1:{port}")),
    )
    .write("kubernetes/web.yaml", CONFIG_MAP);
    let out = p
        .cmd()
        .args(["status", "--kubeconfig", "kubeconfig"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let server = format!("http://127.0.0.1:{port}");
    for n in 2..=8 {
        let line = format!("retrying ({n}/8) {server}: connection refused");
        assert!(err.contains(&line), "no `{line}` in:\n{err}");
    }
    assert!(
        err.contains(&format!("connection to {server} refused")),
        "{err}"
    );
}

#[test]
fn the_debug_trace_shows_every_kubernetes_request_and_no_credential() {
    let c = Cluster::new(Faults::default());
    c.manifest("web.yaml", CONFIG_MAP);
    ok(&c.deploy(&[]));
    let out = c.run("status", &["-v"]);
    ok(&out);
    let err = stderr(&out);
    let server = c.fake.url();
    let traced: Vec<&str> = err.lines().filter(|l| l.starts_with("debug: ")).collect();
    assert!(
        traced.iter().any(
            |l| l.starts_with(&format!("debug: GET {server}/api")) && l.contains(" 200 OK in ")
        ),
        "{err}"
    );
    assert!(traced.iter().any(|l| l.contains("/configmaps")), "{err}");
    assert!(!err.contains("fake-token"), "{err}");
    // Without `-v`, no trace.
    let quiet = stderr(&c.run("status", &[]));
    assert!(!quiet.contains("debug: "), "{quiet}");
}

#[test]
fn the_debug_trace_shows_keystone_and_heat_requests_without_secrets() {
    let fake = FakeCloud::start();
    fake.stack("probe-random", &["13-stack-show.json"], None);
    let p = Project::new();
    let out = crate::heat::cmd(
        &p,
        &fake,
        &["--debug", "stack", "show", "--stack", "probe-random"],
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "debug: POST {}/v3/auth/tokens 201 Created in ",
            fake.url
        )),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("debug: GET ") && l.contains("/stacks/probe-random")),
        "{err}"
    );
    assert!(!err.contains(PASSWORD) && !err.contains(TOKEN), "{err}");
}
