//! Passwords rotated on the running cloud of the end-to-end run (`real_tree.rs`): a
//! regenerated database password and RabbitMQ password, then `up`, which must end with
//! `verify` passing; afterwards each server accepts only the new value, and MariaDB was
//! not restarted (its data, in an emptyDir, is still there: `verify`'s token checks read
//! Keystone's users from it).

use crate::real_cluster::RealCluster;
use crate::real_tree::Run;
use crate::real_tree_health::{up_failures, up_rows};
use crate::real_tree_report::api_pods;
use crate::support::stdout;

fn param(c: &RealCluster, key: &str) -> String {
    let out = c
        .project
        .cmd()
        .args(["params", "get", key])
        .output()
        .unwrap();
    assert!(out.status.success(), "params get {key}");
    stdout(&out).trim_end_matches('\n').to_string()
}

/// The uid of the one pod whose name starts with `prefix-`, and its name.
fn pod_of(c: &RealCluster, prefix: &str) -> Option<(String, String)> {
    api_pods(c).iter().find_map(|p| {
        let name = p["metadata"]["name"].as_str()?;
        let mine = name.strip_prefix(prefix).is_some_and(|rest| {
            rest.starts_with('-') && p["metadata"]["deletionTimestamp"].is_null()
        });
        mine.then(|| {
            (
                name.to_string(),
                p["metadata"]["uid"].as_str().unwrap_or("").to_string(),
            )
        })
    })
}

/// Whether `command` exits 0 in pod `pod` (see [`RealCluster::exec`]).
fn exec(c: &RealCluster, pod: &str, env: &[(&str, &str)], command: &[&str]) -> bool {
    c.exec(pod, env, command)
        .is_some_and(|o| o.status.success())
}

fn mariadb_accepts(c: &RealCluster, pod: &str, password: &str) -> bool {
    let login = [
        "mariadb",
        "--protocol=tcp",
        "--host=127.0.0.1",
        "--user=keystone_admin",
        "--execute=SELECT 1",
        "keystone",
    ];
    exec(c, pod, &[("MYSQL_PWD", password)], &login)
}

fn rabbitmq_accepts(c: &RealCluster, pod: &str, password: &str) -> bool {
    exec(
        c,
        pod,
        &[],
        &[
            "rabbitmqctl",
            "-q",
            "authenticate_user",
            "openstack",
            password,
        ],
    )
}

/// Regenerates `keystone_db_password` and `rabbitmq_password`, runs `up` again, and says
/// what went wrong (nothing: an empty list).
pub fn rotated(c: &RealCluster, run: &Run, up_args: &[&str]) -> Vec<String> {
    let keys = ["keystone_db_password", "rabbitmq_password"];
    let old: Vec<String> = keys.iter().map(|k| param(c, k)).collect();
    let (db_pod, db_uid) = pod_of(c, "mariadb").expect("a mariadb pod");
    let regenerate = c
        .project
        .cmd()
        .args(["params", "regenerate"])
        .args(keys)
        .output()
        .unwrap();
    assert!(regenerate.status.success(), "params regenerate");
    let new: Vec<String> = keys.iter().map(|k| param(c, k)).collect();
    assert!(old.iter().zip(&new).all(|(o, n)| o != n), "new values");

    let up = run(up_args);
    let mut problems: Vec<String> = up_failures(&up, &up_rows(&up))
        .into_iter()
        .map(|p| format!("up after the rotation: {p}"))
        .collect();
    match pod_of(c, "mariadb") {
        Some((_, uid)) if uid == db_uid => {}
        other => problems.push(format!(
            "the mariadb pod was replaced ({db_pod} -> {other:?}): its data is gone"
        )),
    }
    if !mariadb_accepts(c, &db_pod, &new[0]) {
        problems.push("MariaDB refuses keystone_admin's new password".into());
    }
    if mariadb_accepts(c, &db_pod, &old[0]) {
        problems.push("MariaDB still accepts keystone_admin's old password".into());
    }
    match pod_of(c, "rabbitmq") {
        None => problems.push("no rabbitmq pod after the rotation".into()),
        Some((rabbit, _)) => {
            if !rabbitmq_accepts(c, &rabbit, &new[1]) {
                problems.push("RabbitMQ refuses the new password".into());
            }
            if rabbitmq_accepts(c, &rabbit, &old[1]) {
                problems.push("RabbitMQ still accepts the old password".into());
            }
        }
    }
    problems
}
