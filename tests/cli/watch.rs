//! `watch DIR` against the fake API server: dependency order across files dropped in any
//! order, malformed files set aside, the API server down then up, and a watcher killed
//! mid-apply losing nothing.

use crate::fake_kube::{FakeKube, Faults};
use crate::support::cluster::{Cluster, NS, one_shot_pod, rc};
use crate::support::{Project, failure, stderr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Writes `name` into `dir` the way a careful writer does: a dotfile renamed into place.
fn drop_file(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!(".{name}.partial"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_watch(project: &Project, dir: &Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("kube-openstack"))
        .current_dir(project.dir.path())
        .args(["watch", "--kubeconfig", "kubeconfig", "-n", NS])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The three files of a chain: mariadb <- keystone-db-sync <- keystone.
fn chain() -> [(&'static str, String); 3] {
    [
        ("keystone-rc.yaml", rc("keystone", "Pod/keystone-db-sync")),
        (
            "keystone-db-sync.yaml",
            one_shot_pod(
                "keystone-db-sync",
                "ReplicationController/mariadb",
                "example/keystone:1",
            ),
        ),
        ("mariadb-rc.yaml", rc("mariadb", "")),
    ]
}

fn assert_chain_order(c: &Cluster) {
    let (_, mariadb_done) = c.applied("replicationcontrollers/mariadb");
    let (sync_start, sync_done) = c.applied("pods/keystone-db-sync");
    let (keystone_start, _) = c.applied("replicationcontrollers/keystone");
    assert!(sync_start >= mariadb_done, "db-sync after mariadb");
    assert!(keystone_start >= sync_done, "keystone after its db-sync");
    assert_eq!(c.fake.max_creations(), 1, "no object created twice");
}

#[test]
fn once_applies_in_dependency_order_and_sets_malformed_files_aside() {
    let c = Cluster::new(Faults::default());
    let dir = c.project.path("incoming");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in chain() {
        drop_file(&dir, name, &text);
    }
    drop_file(&dir, "broken.yaml", "kind: [unclosed\n");
    std::fs::write(dir.join(".being-written.yaml"), "kind: Secret\n").unwrap();
    let out = c.run("watch", &["--once", "incoming"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("broken.yaml failed, moved to failed/"),
        "{err}"
    );
    assert_eq!(
        names(&dir.join("applied")),
        [
            "keystone-db-sync.yaml",
            "keystone-rc.yaml",
            "mariadb-rc.yaml"
        ]
    );
    assert_eq!(
        names(&dir.join("failed")),
        ["broken.yaml", "broken.yaml.error"]
    );
    assert!(
        std::fs::read_to_string(dir.join("failed/broken.yaml.error"))
            .unwrap()
            .contains("broken.yaml")
    );
    assert_eq!(
        names(&dir),
        [".being-written.yaml"],
        "hidden files are left alone"
    );
    assert_chain_order(&c);
}

#[test]
fn files_arriving_one_by_one_wait_for_their_dependencies_and_for_the_api_server() {
    // The watcher starts before the API server exists.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let project = Project::new();
    std::fs::write(
        project.path("kubeconfig"),
        crate::fake_kube::kubeconfig(&format!("http://{port}")),
    )
    .unwrap();
    let dir = project.path("incoming");
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = spawn_watch(&project, &dir);
    // Dependents first, each file on its own.
    for (name, text) in chain() {
        drop_file(&dir, name, &text);
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        names(&dir).len(),
        3,
        "nothing applied or lost while the API server is down"
    );
    let fake = FakeKube::start_on(port, Faults::default());
    let applied = dir.join("applied");
    wait_for("all three files applied", Duration::from_secs(60), || {
        names(&applied).len() == 3
    });
    child.kill().unwrap();
    let _ = child.wait();
    assert!(names(&dir).is_empty());
    let c = Cluster { fake, project };
    assert_chain_order(&c);
}

#[test]
fn a_watcher_killed_mid_apply_loses_nothing_and_a_restart_finishes() {
    let c = Cluster::new(Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    });
    let dir = c.project.path("incoming");
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = spawn_watch(&c.project, &dir);
    std::thread::sleep(Duration::from_millis(300));
    let files: Vec<(String, String)> = (0..6)
        .map(|i| {
            (
                format!("cm-{i}.yaml"),
                crate::support::cluster::config_map(&format!("cm-{i}")),
            )
        })
        .collect();
    for (name, text) in &files {
        drop_file(&dir, name, text);
    }
    // Killed once the first writes have reached the server, before all have.
    wait_for("the first apply", Duration::from_secs(30), || {
        c.fake.log().iter().any(|e| e.is_apply())
    });
    child.kill().unwrap();
    let _ = child.wait();
    let left = names(&dir);
    assert!(!left.is_empty(), "killed mid-stream: files remain");
    assert_eq!(
        left.len() + names(&dir.join("applied")).len(),
        files.len(),
        "no file lost"
    );

    let out = c.run("watch", &["--once", "incoming"]);
    assert!(out.status.success(), "{}", failure(&out));
    assert_eq!(names(&dir.join("applied")).len(), files.len());
    for i in 0..files.len() {
        assert!(
            c.fake
                .object("configmaps", NS, &format!("cm-{i}"))
                .is_some(),
            "cm-{i} exists"
        );
    }
    assert_eq!(c.fake.max_creations(), 1, "no object created twice");
}
