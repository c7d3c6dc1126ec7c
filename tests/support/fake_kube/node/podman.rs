//! podman, run as root with a `containers.conf` of the node's own (lowered resource limits
//! and runc, which refuses the defaults on this kind of machine; events in a file, cgroups
//! without systemd). Every object it creates carries the node's labels, so a node removes
//! exactly what it started, and a later run of the same test finds what a crashed one left.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// Label naming the test that owns a pod, container or network.
pub const TEST_LABEL: &str = "io.kube-openstack.fake-node";
/// Label naming the node instance (`TEST.PID.N`) that started it.
pub const INSTANCE_LABEL: &str = "io.kube-openstack.fake-node.instance";

const CONTAINERS_CONF: &str = "[containers]\n\
default_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n\
[engine]\n\
runtime = \"runc\"\n\
events_logger = \"file\"\n\
cgroup_manager = \"cgroupfs\"\n";

#[derive(Clone)]
pub struct Podman {
    conf: PathBuf,
    /// `--label` arguments every created object gets.
    labels: Vec<String>,
}

/// A failed podman call: its arguments (never a secret: those go through files) and
/// what it printed.
#[derive(Debug, Clone)]
pub struct PodmanError {
    pub command: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl std::fmt::Display for PodmanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.stderr.trim())
    }
}

pub type Result<T> = std::result::Result<T, PodmanError>;

/// Whether podman can be run at all.
pub fn installed() -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("podman").is_file())
}

impl Podman {
    /// Writes the node's `containers.conf` into `dir`.
    pub fn new(dir: &Path, test: &str, instance: &str) -> std::io::Result<Podman> {
        let conf = dir.join("containers.conf");
        std::fs::write(&conf, CONTAINERS_CONF)?;
        Ok(Podman {
            conf,
            labels: vec![
                format!("{TEST_LABEL}={test}"),
                format!("{INSTANCE_LABEL}={instance}"),
            ],
        })
    }

    /// The labels as `--label K=V` arguments.
    pub fn label_args(&self) -> Vec<String> {
        self.labels
            .iter()
            .flat_map(|l| ["--label".to_string(), l.clone()])
            .collect()
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &self.conf)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Runs podman with `args`; its standard output on success.
    pub async fn run(&self, args: &[String]) -> Result<String> {
        self.run_with(self.command(), args, None).await
    }

    /// The same with a time limit (a pull from an unreachable registry, a hung exec).
    pub async fn run_for(&self, args: &[String], limit: Duration) -> Result<String> {
        self.run_with(self.command(), args, Some(limit)).await
    }

    pub async fn run_with(
        &self,
        mut cmd: Command,
        args: &[String],
        limit: Option<Duration>,
    ) -> Result<String> {
        let command = format!("podman {}", args.join(" "));
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.output();
        let out = match limit {
            Some(limit) => match tokio::time::timeout(limit, child).await {
                Ok(out) => out,
                Err(_) => {
                    return Err(PodmanError {
                        command,
                        stderr: format!("no answer within {}s", limit.as_secs()),
                        code: None,
                    });
                }
            },
            None => child.await,
        };
        let out = out.map_err(|e| PodmanError {
            command: command.clone(),
            stderr: format!("cannot run podman: {e}"),
            code: None,
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(PodmanError {
                command,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                code: out.status.code(),
            })
        }
    }

    /// `podman inspect` of one object, as JSON.
    pub async fn inspect(&self, what: &str, name: &str) -> Result<Value> {
        let out = self
            .run(&strings(&[what, "inspect", name, "--format", "json"]))
            .await?;
        let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        Ok(match v {
            Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
            other => other,
        })
    }

    /// Whether the image is in local storage.
    pub async fn has_image(&self, image: &str) -> bool {
        self.run(&strings(&["image", "exists", image]))
            .await
            .is_ok()
    }

    /// IDs of the pods whose labels include `label` (`K=V`).
    pub async fn pods_labelled(&self, label: &str) -> Vec<Value> {
        let args = strings(&[
            "pod",
            "ps",
            "--filter",
            &format!("label={label}"),
            "--format",
            "json",
        ]);
        listing(self.run(&args).await)
    }

    /// Networks whose labels include `label`.
    pub async fn networks_labelled(&self, label: &str) -> Vec<Value> {
        let args = strings(&[
            "network",
            "ls",
            "--filter",
            &format!("label={label}"),
            "--format",
            "json",
        ]);
        listing(self.run(&args).await)
    }
}

fn listing(out: Result<String>) -> Vec<Value> {
    out.ok()
        .and_then(|o| serde_json::from_str::<Value>(&o).ok())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Blocking variant for cleanup from `Drop` (no runtime there).
pub fn run_blocking(conf_dir: &Path, args: &[&str]) -> std::result::Result<String, String> {
    let out = std::process::Command::new("podman")
        .env("CONTAINERS_CONF", conf_dir.join("containers.conf"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
