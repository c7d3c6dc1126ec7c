//! The deployed cloud used from outside the cluster with the real `openstack` client
//! (Debian's python3-openstackclient), as a user on a node of this cluster uses it.
//!
//! How the machine reaches the cloud: the catalog names the in-cluster Services
//! (`http://keystone:5000/v3`, `http://glance-api:9292`, ...). On this cluster, as on a
//! node of a real one, every Service address answers on the machine (the node puts them
//! on the loopback and carries their ports to ready pods), and the cluster's name
//! server answers `NAME.NAMESPACE.svc.cluster.local`. So the client resolves names as
//! a pod does: name server the cluster's, search list the namespace's. The machine's
//! own `/etc/resolv.conf` is left alone: each client runs in a private mount namespace
//! (`unshare --mount`) where a resolv.conf of the cluster's is bound over it.

use crate::real_cluster::RealCluster;
use crate::real_tree_report::NS;
use crate::support::{stderr, stdout};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// A user of the cloud on this machine: the admin credentials, names resolved by the
/// cluster.
pub struct Client<'a> {
    c: &'a RealCluster,
    resolv: std::path::PathBuf,
    admin_password: String,
}

impl<'a> Client<'a> {
    pub fn new(c: &'a RealCluster) -> Client<'a> {
        let dns = c.fake.node().expect("a real-pod cluster").net.dns;
        let resolv = c.project.path("cluster-resolv.conf");
        std::fs::write(
            &resolv,
            format!(
                "nameserver {dns}\nsearch {NS}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
            ),
        )
        .unwrap();
        let out = c
            .project
            .cmd()
            .args(["params", "get", "admin_user_password"])
            .output()
            .unwrap();
        assert!(out.status.success(), "params get: {}", stderr(&out));
        Client {
            c,
            resolv,
            admin_password: stdout(&out).trim().to_string(),
        }
    }

    /// `openstack ARGS` as admin; the password in the environment, never the arguments.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("unshare")
            .args(["--mount", "sh", "-c"])
            .arg("mount --bind \"$0\" /etc/resolv.conf && exec openstack \"$@\"")
            .arg(&self.resolv)
            .args(args)
            .current_dir(self.c.project.path(""))
            .env("OS_AUTH_URL", "http://keystone:5000/v3")
            .env("OS_IDENTITY_API_VERSION", "3")
            .env("OS_REGION_NAME", "RegionOne")
            .env("OS_INTERFACE", "public")
            .env("OS_USERNAME", "admin")
            .env("OS_PASSWORD", &self.admin_password)
            .env("OS_PROJECT_NAME", "admin")
            .env("OS_USER_DOMAIN_ID", "default")
            .env("OS_PROJECT_DOMAIN_ID", "default")
            .env_remove("OS_CLOUD")
            .output()
            .unwrap()
    }

    /// `openstack ARGS -f json`, parsed; on failure, why (the password masked).
    fn json(&self, args: &[&str]) -> Result<Value, String> {
        let mut all = args.to_vec();
        all.extend(["-f", "json"]);
        let out = self.run(&all);
        let shown =
            |o: &Output| format!("{}{}", stdout(o), stderr(o)).replace(&self.admin_password, "***");
        if !out.status.success() {
            return Err(format!(
                "`openstack {}` exited {:?}: {}",
                args.join(" "),
                out.status.code(),
                shown(&out)
            ));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("`openstack {}`: {e}: {}", args.join(" "), shown(&out)))
    }
}

/// What a user does first with a new cloud, each step with the real client: a project
/// and a user in it, an image uploaded to Glance and downloaded byte for byte, a
/// network with a subnet, the compute services listed. One line per step that did
/// not work.
pub fn use_the_cloud(c: &RealCluster) -> Vec<String> {
    let client = Client::new(c);
    let mut failed = Vec::new();
    step(
        &mut failed,
        "create a project",
        client.json(&["project", "create", "e2e-project"]),
    );
    let user = step(
        &mut failed,
        "create a user",
        client.json(&["user", "create", "--project", "e2e-project", "e2e-user"]),
    );
    if let Some(user) = user
        && user["name"] != "e2e-user"
    {
        failed.push(format!("create a user: the client showed {user}"));
    }
    let dir = c.project.path("e2e-image");
    std::fs::create_dir_all(&dir).unwrap();
    let sent = image_bytes();
    std::fs::write(dir.join("sent.raw"), &sent).unwrap();
    let image = step(
        &mut failed,
        "upload an image",
        client.json(&[
            "image",
            "create",
            "--disk-format",
            "raw",
            "--container-format",
            "bare",
            "--file",
            "e2e-image/sent.raw",
            "e2e-image",
        ]),
    );
    if image.is_some() {
        failed.extend(download(&client, &dir, &sent));
    }
    step(
        &mut failed,
        "create a network",
        client.json(&["network", "create", "e2e-net"]),
    );
    step(
        &mut failed,
        "create a subnet",
        client.json(&[
            "subnet",
            "create",
            "--network",
            "e2e-net",
            "--subnet-range",
            "192.168.77.0/24",
            "e2e-subnet",
        ]),
    );
    let services = step(
        &mut failed,
        "list compute services",
        client.json(&["compute", "service", "list"]),
    );
    if let Some(services) = services {
        let up: Vec<&str> = services
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["State"] == "up")
            .filter_map(|s| s["Binary"].as_str())
            .collect();
        for binary in ["nova-conductor", "nova-scheduler"] {
            if !up.contains(&binary) {
                failed.push(format!(
                    "list compute services: no `{binary}` up in {services}"
                ));
            }
        }
    }
    failed
}

/// The value of a step that worked; a line in `failed` for one that did not.
fn step(failed: &mut Vec<String>, what: &str, r: Result<Value, String>) -> Option<Value> {
    r.map_err(|e| failed.push(format!("{what}: {e}"))).ok()
}

/// `openstack image save`, compared with what was uploaded.
fn download(client: &Client, dir: &Path, sent: &[u8]) -> Option<String> {
    let out = client.run(&["image", "save", "--file", "e2e-image/got.raw", "e2e-image"]);
    if !out.status.success() {
        return Some(format!(
            "download the image: exited {:?}: {}",
            out.status.code(),
            stderr(&out)
        ));
    }
    let got = std::fs::read(dir.join("got.raw")).unwrap_or_default();
    (got != sent).then(|| {
        format!(
            "download the image: {} bytes back, {} sent, not the same",
            got.len(),
            sent.len()
        )
    })
}

/// 1 MiB that no two runs share (so a stale copy cannot pass for it).
fn image_bytes() -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    let mut block = Sha256::digest(seed.as_bytes()).to_vec();
    let mut out = Vec::with_capacity(1 << 20);
    while out.len() < 1 << 20 {
        block = Sha256::digest(&block).to_vec();
        out.extend_from_slice(&block);
    }
    out
}
