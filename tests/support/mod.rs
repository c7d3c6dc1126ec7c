//! Everything the command-line tests share: a temporary project and helpers to run the
//! binary in it (here), a project with a fake cluster ([`cluster`]), one with the real
//! registry and buildah ([`images`]), the fake Keystone + Heat ([`fake_heat`]) and the
//! fake Kubernetes API server ([`fake_kube`], also used by the example
//! `fake-kube-apiserver`).

pub mod cluster;
pub mod fake_heat;
pub mod fake_kube;
pub mod images;

use assert_cmd::Command;
use std::fs;
use std::path::PathBuf;

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub const SERVICE: &str =
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{name}}\nspec:\n  ports:\n  - port: 80\n";

impl Project {
    /// An empty project: a temporary directory holding an empty `kube-openstack.yaml`
    /// (every key is optional; the file marks the project's root).
    pub fn new() -> Project {
        let p = Project::outside();
        p.write("kube-openstack.yaml", "");
        p
    }

    /// A temporary directory that is no project (no `kube-openstack.yaml` in it, nor in
    /// its parents, the system's temporary directory and the root).
    pub fn outside() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating parents).
    pub fn write(&self, rel: &str, text: &str) -> &Project {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// The binary, run in the project, reading parameters from `params.yaml`.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("kube-openstack").unwrap();
        c.current_dir(self.dir.path()).env_remove("NO_COLOR");
        c
    }

    /// `kube-openstack ARGS --source file --params-file params.yaml`.
    pub fn with_params(&self, args: &[&str]) -> Command {
        let mut c = self.cmd();
        c.args(args)
            .args(["--source", "file", "--params-file", "params.yaml"]);
        c
    }

    /// Relative paths and contents of every file under `rel`, sorted.
    pub fn tree(&self, rel: &str) -> Vec<(String, Vec<u8>)> {
        let root = self.path(rel);
        walkdir::WalkDir::new(&root)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().strip_prefix(&root).unwrap().display().to_string(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What a failed run shows in a test's message: how it ended (an exit code, or the signal
/// that killed it, which a run cut off mid-output would otherwise hide) and both streams.
pub fn failure(o: &std::process::Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    let ended = match (o.status.code(), o.status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => o.status.to_string(),
    };
    format!(
        "{ended}\n--- stderr\n{}\n--- stdout\n{}",
        stderr(o),
        stdout(o)
    )
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether CI is running (said in the message of a test that cannot run).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Fails the test: something it needs is missing. A test that cannot run says so, CI or
/// not; it never passes by not running.
pub fn missing(what: &str, how: &str) -> ! {
    let ci = if in_ci() { " (CI is set)" } else { "" };
    panic!("this test needs {what}, which is missing{ci}; {how}");
}

/// The program's path; a test without it fails saying how to install it.
pub fn require_program(name: &str, package: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        missing(
            name,
            &format!("`apt-get install {package}` (scripts/test.sh installs it)"),
        )
    })
}

pub fn find_program(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A variable a test reads (set by `scripts/test.sh`); a test without it fails saying how
/// to set it.
pub fn require_var(name: &str, how: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| missing(&format!("`{name}`"), how))
}
