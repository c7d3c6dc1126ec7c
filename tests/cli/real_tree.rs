//! The operator's end-to-end run, on the real-pod cluster (every pod a podman container):
//! `kube-openstack up` from a fresh copy of the repository on the shipped defaults ends
//! with every pod Ready, every db-sync pod Succeeded, and `verify` (up's last step)
//! passing. Then, as an operator would: a second `up` changes nothing (every step of
//! its `-o json` says `up to date`, and no pod was replaced); a regenerated database and
//! RabbitMQ password reach their servers through a third `up` (`real_tree_rotation.rs`);
//! `db-sync keystone` reruns
//! the real migration and prints its log; `status` exits 0; the real `openstack` client
//! uses the cloud from outside the cluster (`real_tree_outside.rs`); `teardown --yes`
//! leaves no container of the deployment running. The tree is deployed once per run.
//!
//! The registry, as in the 2014 design: stateless registry fronts on one Swift, the
//! provider cloud's. Here the provider Swift is the one `scripts/dev-registry.sh` runs,
//! whose container `docker-registry` is also the storage of the machine's registry at
//! `KO_REGISTRY` (127.0.0.1:4999), where CI built the images. It is given to `up` as the
//! stack parameters a Heat stack's outputs would carry (`swift_auth_url` tempauth v1,
//! `swift_user`, `swift_password`, `swift_storage_url`, `registry_container`), through a
//! relay the pods can reach (`real_tree_host.rs`). So:
//! - `up`'s registry step deploys the in-cluster registry (three replicas and the
//!   node-local DaemonSet), all storing in that container;
//! - its images step reaches the registry as a user's machine does, where nothing
//!   answers at the push address (`--registry-url` on a free port): through a
//!   port-forward to a registry pod, and finds every image there (CI built them), so
//!   it pushes nothing;
//! - the node pulls from the address the manifests name (`docker_registry`: the
//!   machine's registry, the one address whose images CI built; the defaults'
//!   `localhost:4999` would make every image's content hash new and rebuild the tree).
//!   The node's podman pulls in the machine's network namespace, so the machine's
//!   registry plays the part of the node-local registry: the DaemonSet's registry runs
//!   too, on the node's own loopback (the node's network namespace), not on the
//!   machine's 127.0.0.1:4999, which the machine's registry holds.
//!
//! The report of every pod and the checks that it is what podman saw
//! (`real_tree_checks.rs`) are kept from the deploy-based run. Figures (per-step times,
//! peak memory) go to `target/tmp/end-to-end-figures.txt`.

use crate::images_tree::{copy_dir, repo_root};
use crate::real_cluster::RealCluster;
use crate::real_tree_checks::{after_db_sync, check, check_db_sync, check_orphans, check_status};
use crate::real_tree_health::{
    db_sync_pods, pod_uids, second_up_changed_nothing, unhealthy, up_failures, up_rows,
};
use crate::real_tree_host::{MemorySampler, Relay, machine_swift};
use crate::real_tree_report::{Row, mask, print, report, secret_values};
use crate::support::{stderr, stdout};
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::time::Instant;

/// The shipped project settings with the images named on `registry` and the provider
/// Swift reached at `swift` (`host:port`): the stack parameters a Heat stack's outputs
/// would give. `KO_E2E_IMAGE_PREFIX` names the images under another prefix, one the
/// registry does not have, so that `up` builds and pushes every image
/// (`FROM_NOTHING=1 scripts/bench-up-real.sh`).
fn settings(registry: &str, swift: &str) -> String {
    let prefix = std::env::var("KO_E2E_IMAGE_PREFIX").ok();
    let shipped = std::fs::read_to_string(repo_root().join("kube-openstack.yaml")).unwrap();
    let container = std::env::var("KO_SWIFT_CONTAINER").unwrap_or("docker-registry".into());
    let mut replaced = 0;
    let text: String = shipped
        .lines()
        .map(|l| {
            let new = match l {
                l if l.starts_with("registry:") => format!("registry: \"{registry}\""),
                l if l.starts_with("image_prefix:") => match &prefix {
                    Some(p) => format!("image_prefix: \"{p}\""),
                    None => return format!("{l}\n"),
                },
                // tempauth's test account of scripts/dev-registry.sh.
                "stack_parameters: {}" => format!(
                    "stack_parameters:\n  docker_registry: \"{registry}\"\n  \
                     swift_auth_url: \"http://{swift}/auth/v1.0\"\n  \
                     swift_user: \"test:tester\"\n  swift_password: \"testing\"\n  \
                     swift_storage_url: \"http://{swift}/v1/AUTH_test\"\n  \
                     registry_container: \"{container}\""
                ),
                l => return format!("{l}\n"),
            };
            replaced += 1;
            format!("{new}\n")
        })
        .collect();
    assert_eq!(
        replaced,
        2 + usize::from(prefix.is_some()),
        "the shipped kube-openstack.yaml changed: {shipped}"
    );
    text
}

/// `status -o json`'s rows as the report reads `deploy`'s summary: object, state, why.
fn status_objects(out: &Output) -> Vec<Value> {
    let rows: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status -o json: {e}: {}", stderr(out)));
    rows.as_array()
        .into_iter()
        .flatten()
        // `-`: a live object no longer in the tree (verify's pod, being deleted).
        .filter(|r| r["ready"] != "-")
        .map(|r| json!({"object": r["object"], "state": r["ready"], "message": r["detail"]}))
        .collect()
}

/// A loopback port where nothing listens now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn up_on_the_shipped_tree_gives_a_working_cloud_used_from_outside_and_torn_down() {
    let c = RealCluster::new("end-to-end");
    let node = c.fake.node().expect("a real-pod cluster");
    let gateway = std::net::Ipv4Addr::from(u32::from(node.net.base) + 1);
    let relay = Relay::start(gateway, &machine_swift());
    let root = repo_root();
    for dir in ["heat", "kubernetes-in", "docker"] {
        copy_dir(&root.join(dir), &c.project.path(dir));
    }
    let swift = relay.addr.to_string();
    c.project
        .write("kube-openstack.yaml", &settings(&c.images.registry, &swift));
    let run = |args: &[&str]| {
        c.project
            .cmd()
            .args(args)
            .args(["--kubeconfig", "kubeconfig"])
            .output()
            .unwrap()
    };
    let base = Command::new(root.join("scripts/debian-base.sh"))
        .output()
        .unwrap();
    assert!(base.status.success(), "debian-base.sh: {}", stderr(&base));
    let label = format!(
        "{}={}",
        crate::fake_kube::node::podman::INSTANCE_LABEL,
        node.instance
    );
    let memory = MemorySampler::start(label);
    let push_to = format!("127.0.0.1:{}", free_port());
    let up_args = [
        "up",
        "-o",
        "json",
        "--timeout",
        "600s",
        "--registry-url",
        &push_to,
    ];

    let start = Instant::now();
    let up = run(&up_args);
    let (summary, secrets) = up_gave_a_working_cloud(&c, &up, start.elapsed(), &push_to, &run);

    // As an operator goes on.
    let uids = pod_uids(&c);
    let start = Instant::now();
    let again = run(&up_args);
    let again_took = start.elapsed();
    let mut later = second_up_changed_nothing(&c, &again, &uids);
    let start = Instant::now();
    later.extend(crate::real_tree_rotation::rotated(&c, &run, &up_args));
    let rotation_took = start.elapsed();
    later.extend(operator_commands(&c, &run));
    let start = Instant::now();
    later.extend(crate::real_tree_outside::use_the_cloud(&c));
    let client_took = start.elapsed();
    let peak = memory.finish();
    // What the pods said, while they still run.
    let mut said = Vec::new();
    if !later.is_empty() {
        let status = run(&["status", "-o", "json"]);
        for row in report(&c, &status_objects(&status)) {
            if let Some(error) = row.first_error {
                said.push(format!("  {} logged: {error}", row.pod));
            }
        }
        said.extend(crate::real_tree_dns::fallbacks(&c));
    }
    later.extend(torn_down(&c, &run));
    let figures = format!(
        "second up: {:.0}s; up after regenerating two passwords: {:.0}s; openstack client from outside: {:.0}s; peak memory of the deployment: {:.2} GiB in {} containers",
        again_took.as_secs_f64(),
        rotation_took.as_secs_f64(),
        client_took.as_secs_f64(),
        peak.bytes as f64 / (1u64 << 30) as f64,
        peak.containers
    );
    // The summary was printed once already; the figures file holds both.
    eprintln!("{figures}");
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("end-to-end-figures.txt");
    std::fs::write(file, format!("{summary}\n{figures}")).unwrap();
    drop(relay);
    // What failed comes last, where a log cut short in its middle still shows it.
    assert!(
        later.is_empty(),
        "after `up`; what the pods said first:\n{}\n\nwhat failed:\n{}",
        mask(&said.join("\n"), &secrets),
        mask(&later.join("\n"), &secrets)
    );
}

/// A `kube-openstack` command run in the end-to-end project.
pub type Run<'a> = dyn Fn(&[&str]) -> Output + 'a;

/// Checks what `up` left: the report of every pod agrees with podman, every step ended
/// well, every pod is healthy, every db-sync pod Succeeded with its log, and the images
/// step reached the registry through a port-forward. The summary and the secrets to
/// mask.
fn up_gave_a_working_cloud(
    c: &RealCluster,
    up: &Output,
    took: std::time::Duration,
    push_to: &str,
    run: &Run,
) -> (String, Vec<String>) {
    let steps = up_rows(up);
    let status = run(&["status", "-o", "json"]);
    let rows = report(c, &status_objects(&status));
    let secrets = secret_values(c);
    let summary = summary(up, took, &steps, &rows, &secrets);
    eprintln!("{summary}");
    let mut problems = Vec::new();
    for row in rows.iter().filter(|r| r.not_created.is_none()) {
        check(c, row, &mut problems);
    }
    check_orphans(c, &rows, &mut problems);
    let said: Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    check_status(&said, &rows, &mut problems);
    // The summary is printed above; what failed comes last (see the test).
    assert!(
        problems.is_empty(),
        "--- up\n{}\n\nthe report disagrees with podman:\n{}",
        mask(&stderr(up), &secrets),
        mask(&problems.join("\n"), &secrets),
    );
    let mut sick = up_failures(up, &steps);
    sick.extend(unhealthy(&rows, &[("up", up)]));
    sick.extend(db_sync_pods(c, &rows));
    let forwarded = format!("Forwarding {push_to} to port 5000 of pod `docker-registry-");
    if !stderr(up).contains(&forwarded) {
        sick.push(format!(
            "up did not reach the registry through a port-forward on {push_to}"
        ));
    }
    let fallbacks = match sick.is_empty() {
        true => Vec::new(),
        false => crate::real_tree_dns::fallbacks(c),
    };
    assert!(
        sick.is_empty(),
        "--- up\n{}\n{}\n\n`up` did not give a working cloud:\n{}",
        mask(&stderr(up), &secrets),
        fallbacks.join("\n"),
        sick.join("\n"),
    );
    (summary, secrets)
}

/// `db-sync keystone` reruns the migration and prints its log (what podman saw), and
/// `status` exits 0.
fn operator_commands(c: &RealCluster, run: &Run) -> Vec<String> {
    let mut out = Vec::new();
    let db_sync = run(&["db-sync", "keystone", "--timeout", "600s"]);
    let after = after_db_sync(c, &db_sync);
    if !db_sync.status.success() || !stdout(&db_sync).contains("keystone-db-sync | ") {
        out.push(format!(
            "db-sync keystone exited {:?}, its log:\n{}{}",
            db_sync.status.code(),
            stdout(&db_sync),
            stderr(&db_sync)
        ));
    }
    let rows = report(c, &status_objects(&run(&["status", "-o", "json"])));
    check_db_sync(&db_sync, &after, &rows, &mut out);
    let status = run(&["status"]);
    if !status.status.success() {
        out.push(format!(
            "status exited {:?}: {}",
            status.status.code(),
            stdout(&status)
        ));
    }
    out
}

/// `teardown --yes` exits 0 and leaves no container of a pod running.
fn torn_down(c: &RealCluster, run: &Run) -> Option<String> {
    let teardown = run(&["teardown", "--yes"]);
    let running: Vec<String> = c
        .containers()
        .iter()
        .filter(|k| k["State"] == "running")
        .filter(|k| k["Labels"].get("io.kubernetes.pod.name").is_some())
        .map(|k| k["Names"][0].to_string())
        .collect();
    (!teardown.status.success() || !running.is_empty()).then(|| {
        format!(
            "teardown --yes exited {:?}; still running: {running:?}\n{}",
            teardown.status.code(),
            stderr(&teardown)
        )
    })
}

/// What the run gave: up's exit and time, each step's result and time, and the pods.
fn summary(
    up: &Output,
    took: std::time::Duration,
    steps: &[Value],
    rows: &[Row],
    secrets: &[String],
) -> String {
    let count = |f: &dyn Fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count();
    let per_step: Vec<String> = steps
        .iter()
        .map(|s| {
            format!(
                "  {:<10} {:<10} {:>6}  {}",
                s["step"].as_str().unwrap_or("?"),
                s["result"].as_str().unwrap_or("?"),
                s["seconds"]
                    .as_f64()
                    .map_or("-".into(), |t| format!("{t:.1}s")),
                s["detail"].as_str().unwrap_or_default()
            )
        })
        .collect();
    format!(
        "up on the shipped tree, real pods: exit {:?} after {:.0}s\n{}\n{} pods: {} started, {} ready, {} finished with exit 0; {} workloads without a pod\n{}",
        up.status.code(),
        took.as_secs_f64(),
        mask(&per_step.join("\n"), secrets),
        count(&|r| r.not_created.is_none()),
        count(&|r| r.started),
        count(&|r| r.ready),
        count(&|r| r.finished_ok()),
        count(&|r| r.not_created.is_some()),
        print(rows, secrets)
    )
}
