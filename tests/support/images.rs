//! What the image tests need from the machine: buildah, and the Swift-backed registry that
//! `scripts/dev-registry.sh start` runs (its address and log exported by `scripts/test.sh`
//! as `KO_REGISTRY`, `KO_REGISTRY_LOG`, `KO_SWIFT_AUTH_URL`, `KO_SWIFT_CONTAINER`).
//! A missing piece fails the test with what to do (CI or not): these tests never pass by
//! not running.

use crate::support::{Project, require_var};
pub use crate::support::{missing, require_program};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct RealRegistry {
    /// `127.0.0.1:4999`
    pub address: String,
    pub log: PathBuf,
    pub swift_auth_url: String,
    pub swift_container: String,
}

/// The running registry and buildah; a test without them fails saying how to get them.
/// Every variable is required: a check that runs only when one happens to be set would
/// pass without checking anything.
pub fn registry_and_buildah() -> RealRegistry {
    require_program("buildah", "buildah");
    let var = |k: &str| {
        require_var(
            k,
            "run `scripts/dev-registry.sh start` and export what `scripts/dev-registry.sh env` prints (scripts/test.sh does both)",
        )
    };
    RealRegistry {
        address: var("KO_REGISTRY"),
        log: PathBuf::from(var("KO_REGISTRY_LOG")),
        swift_auth_url: var("KO_SWIFT_AUTH_URL"),
        swift_container: var("KO_SWIFT_CONTAINER"),
    }
}

/// Asserts that a `kube-openstack images` run succeeded; otherwise fails with everything
/// needed to tell why: the exit status (a signal shows as one), the whole stderr, and the
/// end of every image log the run left.
pub fn assert_images_ok(out: &Output, state_dir: &Path) {
    if out.status.success() {
        return;
    }
    let mut logs = String::new();
    let dir = state_dir.join("logs/images");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    for log in entries {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n    ");
        logs.push_str(&format!("\n--- {} (last lines)\n    {tail}", log.display()));
    }
    panic!("kube-openstack failed: {}{logs}", super::failure(out));
}

/// A prefix no other test (or earlier run) uses, so tests share the registry safely.
pub fn unique_prefix(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "t{}-{}-{}-{test}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

/// A project whose builds use their own buildah storage (driver left to buildah: overlay
/// here) and a `buildah` wrapper that records every invocation in `buildah-calls.log` and
/// every process id in `buildah-pids.log` (the wrapper becomes buildah, so the id is
/// buildah's).
pub struct ImageProject {
    pub project: Project,
    pub prefix: String,
}

impl ImageProject {
    pub fn new(reg: &RealRegistry, test: &str) -> ImageProject {
        let project = Project::new();
        let root = project.path("");
        let storage = format!(
            "[storage]\ngraphroot = \"{0}/storage/graph\"\nrunroot = \"{0}/storage/run\"\n",
            root.display()
        );
        project.write("storage.conf", &storage);
        let real = require_program("buildah", "buildah");
        let shim = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\necho \"$$ $*\" >> '{}'\nexec '{}' \"$@\"\n",
            root.join("buildah-calls.log").display(),
            root.join("buildah-pids.log").display(),
            real.display()
        );
        project.write("bin/buildah", &shim);
        set_mode(&project.path("bin/buildah"), 0o755);
        let prefix = unique_prefix(test);
        project.write(
            "kube-openstack.yaml",
            &format!("registry: {}\nimage_prefix: {prefix}\n", reg.address),
        );
        ImageProject { project, prefix }
    }

    /// `kube-openstack ARGS` with this project's storage and the recording buildah first on PATH.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = self.project.cmd();
        c.args(args).envs(self.env());
        c
    }

    /// The same as [`ImageProject::cmd`], as a process to spawn and signal.
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kube-openstack"));
        c.current_dir(self.project.path(""))
            .env_remove("NO_COLOR")
            .args(args)
            .envs(self.env());
        c
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        let path = format!(
            "{}:{}",
            self.project.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        vec![
            ("CONTAINERS_STORAGE_CONF", self.project.path("storage.conf")),
            ("PATH", PathBuf::from(path)),
            ("HOME", self.project.path("")),
        ]
    }

    /// The state directory of this project (logs, digest lock).
    pub fn state_dir(&self) -> PathBuf {
        self.project.path(".kube-openstack")
    }

    /// Process ids of the builder calls so far, with their arguments.
    pub fn builder_pids(&self) -> Vec<(i32, String)> {
        std::fs::read_to_string(self.project.path("buildah-pids.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (pid, args) = l.split_once(' ')?;
                Some((pid.parse().ok()?, args.to_string()))
            })
            .collect()
    }

    /// Builder invocations recorded so far (one line each: the arguments; see [`is_call`]).
    pub fn builder_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.project.path("buildah-calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// `FROM scratch` + busybox with its applets installed by a `RUN` step: a base made
    /// locally, since nothing can be pulled.
    pub fn busybox_context(&self, name: &str) {
        let busybox = std::fs::read("/bin/busybox")
            .or_else(|_| std::fs::read("/usr/bin/busybox"))
            .expect("busybox-static is installed");
        let dir = self.project.path(&format!("docker/{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("busybox"), busybox).unwrap();
        set_mode(&dir.join("busybox"), 0o755);
        self.project.write(&format!("docker/{name}/Dockerfile"), "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n");
    }

    /// A context built on another context of the tree.
    pub fn derived_context(&self, name: &str, base: &str, run: &str) {
        self.project.write(
            &format!("docker/{name}/Dockerfile"),
            &format!("ARG IMAGE_PREFIX\nARG IMAGE_TAG\nFROM ${{IMAGE_PREFIX}}/{base}:${{IMAGE_TAG}}\nRUN {run}\n"),
        );
    }

    /// `FROM scratch` and one file.
    pub fn file_context(&self, name: &str, content: &str) {
        self.project.write(
            &format!("docker/{name}/Dockerfile"),
            "FROM scratch\nCOPY data.txt /data.txt\n",
        );
        self.project
            .write(&format!("docker/{name}/data.txt"), content);
    }

    pub fn repository(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }
}

/// Whether a recorded builder call runs `verb` (`bud`, `push`, `info`), with or without
/// global options before it.
pub fn is_call(call: &str, verb: &str) -> bool {
    call.split_whitespace().any(|w| w == verb)
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The registry's access-log lines written after `offset` bytes (method and path).
pub fn registry_requests_since(log: &Path, offset: u64) -> Vec<String> {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[(offset as usize).min(text.len())..]).into_owned();
    text.lines()
        .filter_map(|l| {
            let start = l.find("\"")? + 1;
            let rest = &l[start..];
            let end = rest.find(" HTTP/")?;
            Some(rest[..end].to_string())
        })
        .filter(|r| r.starts_with(['G', 'H', 'P', 'D']))
        .collect()
}

pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// A plain HTTP GET/HEAD against the registry (the test's own client, not the one under test).
pub fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let mut c = std::process::Command::new("curl");
    match method {
        "HEAD" => c.args(["-s", "-I", url]),
        _ => c.args(["-s", "-i", "-X", method, url]),
    };
    for (k, v) in headers {
        c.arg("-H").arg(format!("{k}: {v}"));
    }
    let out = c.output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}
