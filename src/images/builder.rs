//! The image builder: buildah, podman or docker, found on `PATH` in that order (or named),
//! run as a child process whose whole output goes to the image's log file.

use super::interrupt::{self, Interrupt};
use super::storage::{self, Choice, Storage, StorageError};
use std::path::{Path, PathBuf};
use std::process::Stdio;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderKind {
    Buildah,
    Podman,
    Docker,
}

impl BuilderKind {
    pub const ALL: [BuilderKind; 3] = [
        BuilderKind::Buildah,
        BuilderKind::Podman,
        BuilderKind::Docker,
    ];

    pub fn program(self) -> &'static str {
        match self {
            BuilderKind::Buildah => "buildah",
            BuilderKind::Podman => "podman",
            BuilderKind::Docker => "docker",
        }
    }

    /// Daemonless builders keep images in a local store whose driver can be chosen.
    fn has_storage_driver(self) -> bool {
        self != BuilderKind::Docker
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("no image builder found (looked for {} on PATH)", .tried.join(", "))]
pub struct NoBuilder {
    pub tried: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    NoBuilder(#[from] NoBuilder),
    #[error("cannot start `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the log `{}`", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program} {step}` failed ({status}); last lines of `{}`:\n{tail}", log.display())]
    Failed {
        program: String,
        step: &'static str,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("`{program} {step}` stopped: kube-openstack received {signal}; last lines of `{}`:\n{tail}", log.display())]
    Interrupted {
        program: String,
        step: &'static str,
        signal: &'static str,
        log: PathBuf,
        tail: String,
    },
}

/// A builder found on this machine, with the options every call gets.
#[derive(Debug, Clone)]
pub struct Builder {
    pub kind: BuilderKind,
    pub program: PathBuf,
    /// The storage driver buildah/podman are told to use, if any (see [`storage`]).
    pub storage: Choice,
    /// Stops a running builder (see [`interrupt`]).
    pub interrupt: Interrupt,
}

/// Finds `choice`, or the first of buildah, podman, docker on `PATH`.
pub fn detect(choice: Option<BuilderKind>, storage: Choice) -> Result<Builder, NoBuilder> {
    let candidates: Vec<BuilderKind> = match choice {
        Some(k) => vec![k],
        None => BuilderKind::ALL.to_vec(),
    };
    for kind in &candidates {
        if let Some(program) = find_on_path(kind.program()) {
            return Ok(Builder {
                kind: *kind,
                program,
                storage,
                interrupt: Interrupt::never(),
            });
        }
    }
    Err(NoBuilder {
        tried: candidates.iter().map(|k| k.program().to_string()).collect(),
    })
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What one build needs.
pub struct BuildRequest<'a> {
    pub context: &'a Path,
    /// Every tag the image gets (the configured one and the content tag).
    pub tags: &'a [String],
    pub build_args: &'a [(String, String)],
    pub labels: &'a [(String, String)],
    /// Registry access for `FROM` images that have to be pulled.
    pub auth_file: Option<&'a Path>,
    pub plain_http: bool,
}

impl Builder {
    fn command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.program);
        if let (true, Some(driver)) = (self.kind.has_storage_driver(), &self.storage.flag) {
            c.arg("--storage-driver").arg(driver);
        }
        c.stdin(Stdio::null()).kill_on_drop(true);
        c
    }

    /// Points docker at a private config dir holding the credentials (it has no
    /// `--authfile`); buildah and podman get `--authfile` (a path, not a secret).
    fn auth(&self, c: &mut tokio::process::Command, auth_file: Option<&Path>) {
        match (self.kind, auth_file) {
            (BuilderKind::Docker, Some(f)) => {
                c.env("DOCKER_CONFIG", f.parent().unwrap_or(Path::new(".")));
            }
            (_, Some(f)) => {
                c.arg("--authfile").arg(f);
            }
            _ => {}
        }
    }

    pub async fn build(&self, req: &BuildRequest<'_>, log: &Path) -> Result<(), BuildError> {
        let mut c = self.command();
        match self.kind {
            // chroot isolation needs no user namespaces or daemon.
            BuilderKind::Buildah => c.args(["bud", "--isolation", "chroot"]),
            BuilderKind::Podman => c.args(["build", "--isolation", "chroot"]),
            BuilderKind::Docker => c.arg("build"),
        };
        if self.kind != BuilderKind::Docker {
            self.auth(&mut c, req.auth_file);
            if req.plain_http {
                c.arg("--tls-verify=false");
            }
        }
        for t in req.tags {
            c.arg("--tag").arg(t);
        }
        for (k, v) in req.build_args {
            c.arg("--build-arg").arg(format!("{k}={v}"));
        }
        for (k, v) in req.labels {
            c.arg("--label").arg(format!("{k}={v}"));
        }
        c.arg("--file")
            .arg(req.context.join("Dockerfile"))
            .arg(req.context);
        if self.kind == BuilderKind::Docker {
            self.auth(&mut c, req.auth_file);
        }
        self.run(c, "build", log).await
    }

    /// Pushes `reference` from local storage to `destination` (the same reference, or
    /// one naming another address of the same registry, such as a port-forward).
    pub async fn push(
        &self,
        reference: &str,
        destination: &str,
        auth_file: Option<&Path>,
        plain_http: bool,
        log: &Path,
    ) -> Result<(), BuildError> {
        if self.kind == BuilderKind::Docker && destination != reference {
            // `docker push` pushes a name: give the image the destination's name first.
            let mut tag = self.command();
            tag.arg("tag").arg(reference).arg(destination);
            self.run(tag, "tag", log).await?;
        }
        let mut c = self.command();
        c.arg("push");
        self.auth(&mut c, auth_file);
        match self.kind {
            BuilderKind::Docker => {
                c.arg(destination);
            }
            _ => {
                if plain_http {
                    c.arg("--tls-verify=false");
                }
                c.arg(reference).arg(format!("docker://{destination}"));
            }
        }
        self.run(c, "push", log).await
    }

    /// Settles which storage driver this builder's calls use, and says why; `None` for
    /// docker, whose daemon owns its storage. Also proves the store opens (an explicit
    /// `overlay` where the kernel cannot mount it fails here, not in the middle of a build).
    ///
    /// With nothing configured, buildah's own choice stands when it is overlay. Otherwise
    /// vfs is named on every later call: buildah falls back to vfs by itself only once,
    /// since its failed overlay attempt leaves a directory that it takes for an overlay
    /// store from then on (and fails on).
    pub async fn settle_storage(&mut self) -> Result<Option<Storage>, StorageError> {
        if self.kind == BuilderKind::Docker {
            return Ok(None);
        }
        let automatic = self.storage.origin == storage::Origin::Automatic;
        let overlay_error = match self.info().await {
            Ok((driver, graph_root)) if !automatic || driver == "overlay" => {
                return Ok(Some(Storage {
                    driver,
                    graph_root,
                    origin: self.storage.origin.clone(),
                    overlay_error: None,
                }));
            }
            Ok(_) => None,
            Err(e) if automatic => Some(e.to_string()),
            Err(e) => return Err(e),
        };
        self.storage.flag = Some("vfs".into());
        let (driver, graph_root) = self.info().await?;
        Ok(Some(Storage {
            driver,
            graph_root,
            origin: storage::Origin::Automatic,
            overlay_error,
        }))
    }

    /// The storage driver and graph root the builder reports with the current options.
    async fn info(&self) -> Result<(String, PathBuf), StorageError> {
        let format = match self.kind {
            BuilderKind::Podman => "{{.Store.GraphDriverName}}\t{{.Store.GraphRoot}}",
            _ => "{{.store.GraphDriverName}}\t{{.store.GraphRoot}}",
        };
        let mut c = self.command();
        c.args(["info", "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let unusable = |message: String| StorageError::Unusable {
            program: self.kind.program().into(),
            message,
        };
        let out = c.output().await.map_err(|e| unusable(e.to_string()))?;
        match storage::parse_info(&String::from_utf8_lossy(&out.stdout)) {
            Some(info) if out.status.success() => Ok(info),
            _ => Err(unusable(last_error_line(&out.stderr))),
        }
    }

    /// Whether local storage holds `reference`.
    pub async fn has_image(&self, reference: &str) -> bool {
        let mut c = self.command();
        match self.kind {
            BuilderKind::Buildah => {
                c.args(["inspect", "--type", "image", "--format", "{{.FromImageID}}"])
            }
            _ => c.args(["image", "inspect", "--format", "{{.Id}}"]),
        };
        c.arg(reference).stdout(Stdio::null()).stderr(Stdio::null());
        c.status().await.is_ok_and(|s| s.success())
    }

    async fn run(
        &self,
        mut c: tokio::process::Command,
        step: &'static str,
        log: &Path,
    ) -> Result<(), BuildError> {
        let log_err = |source| BuildError::Log {
            path: log.to_path_buf(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(log_err)?;
        {
            use std::io::Write;
            let args: Vec<String> = c
                .as_std()
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            writeln!(file, "$ {} {}", self.kind.program(), args.join(" ")).map_err(log_err)?;
        }
        let err_file = file.try_clone().map_err(log_err)?;
        c.stdout(Stdio::from(file)).stderr(Stdio::from(err_file));
        let program = self.program.display().to_string();
        let mut child = c.spawn().map_err(|source| BuildError::Spawn {
            program: program.clone(),
            source,
        })?;
        let status = tokio::select! {
            status = child.wait() => status.map_err(|source| BuildError::Spawn { program, source })?,
            signal = self.interrupt.wait() => {
                stop(&mut child).await;
                note(log, &format!("stopped: kube-openstack received {signal}"));
                return Err(BuildError::Interrupted {
                    program: self.kind.program().into(),
                    step,
                    signal,
                    log: log.to_path_buf(),
                    tail: tail(log, 30),
                });
            }
        };
        if status.success() {
            return Ok(());
        }
        let status = match (
            status.code(),
            std::os::unix::process::ExitStatusExt::signal(&status),
        ) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by {}", interrupt::describe(signal)),
            (None, None) => status.to_string(),
        };
        // The log then says it too, for whoever reads it later.
        note(log, &format!("{} {step}: {status}", self.kind.program()));
        Err(BuildError::Failed {
            program: self.kind.program().into(),
            step,
            status,
            log: log.to_path_buf(),
            tail: tail(log, 30),
        })
    }
}

/// Asks a builder to stop (SIGTERM lets buildah remove its working container), then
/// kills it if it has not within 10 seconds.
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own child, which has not been reaped (no pid reuse).
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        let waited = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait()).await;
        if waited.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

/// Appends a line of ours to a builder log (best effort: the log is for reading).
fn note(log: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(log) {
        let _ = writeln!(f, "# kube-openstack: {line}");
    }
}

/// The builder's own error, without its log decoration (`time=... level=error msg="..."`).
fn last_error_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("Error:"))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output");
    line.trim_start_matches("Error:").trim().to_string()
}

/// The last `n` lines of a file, indented, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_lines() {
        let t = tempfile::NamedTempFile::new().unwrap();
        let text: String = (1..=40).map(|i| format!("line {i}\n")).collect();
        std::fs::write(t.path(), text).unwrap();
        let tail = tail(t.path(), 30);
        assert!(
            tail.starts_with("  | line 11\n") && tail.ends_with("  | line 40"),
            "{tail}"
        );
    }
}
