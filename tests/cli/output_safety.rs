//! Nothing written is lost, and no copy of the secrets is left lying around: `render
//! --force` over files it did not write, state and output directories inside one another,
//! renders stopped by real signals (SIGINT, SIGTERM, SIGHUP, SIGKILL) at different moments
//! and by `ulimit -f`, an old output tree made read-only, an interrupted `images build`.

use crate::support::{Project, failure, stderr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "sig-s3cret-value";

fn secret_template(i: usize) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\nstringData:\n  password: {{{{password}}}}\n  again: {{{{password}}}}-{i}\n"
    )
}

/// A project rendering `n` Secrets that all hold the password.
fn project(n: usize) -> Project {
    let p = Project::new();
    p.write("params.yaml", &format!("password: {SECRET}\n"));
    for i in 0..n {
        p.write(&format!("kubernetes-in/s{i}.yaml"), &secret_template(i));
    }
    p
}

/// Everything beside the output that looks like a render's staging directory.
fn staging_dirs(p: &Project) -> Vec<PathBuf> {
    std::fs::read_dir(p.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".kubernetes.render-")
        })
        .collect()
}

/// The binary, run in the project (a plain `Command`, to spawn and signal).
fn spawn_cmd(p: &Project, args: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("kube-openstack"));
    c.current_dir(p.dir.path()).args(args);
    c
}

/// `render` with the project's parameters, as a plain `Command`.
fn render_cmd(p: &Project) -> Command {
    spawn_cmd(
        p,
        &["render", "--source", "file", "--params-file", "params.yaml"],
    )
}

/// Every file under `dir` holding the secret (the output excepted, by the caller).
fn files_with_secret(dir: &Path) -> Vec<PathBuf> {
    files_with(dir, SECRET)
}

fn files_with(dir: &Path, needle: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            std::fs::read(e.path())
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
        })
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn force_moves_aside_what_no_render_wrote_and_says_where() {
    let p = project(3);
    // A directory that was never a render: nested files, a hidden one, a link.
    p.write("kubernetes/notes.txt", "my notes\n")
        .write("kubernetes/deep/er/plan.md", "plan\n")
        .write("kubernetes/.hidden", "hidden\n");
    std::os::unix::fs::symlink("notes.txt", p.path("kubernetes/link")).unwrap();
    let out = p.with_params(&["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not look like a previous render"),
        "{}",
        stderr(&out)
    );
    let out = p.with_params(&["render", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let err = stderr(&out);
    assert!(
        err.contains("moved 4 files the previous render did not write"),
        "{err}"
    );
    let kept = kept_dir(&p);
    assert!(
        err.contains(&kept.display().to_string()),
        "names where: {err}"
    );
    for (rel, text) in [
        ("notes.txt", "my notes\n"),
        ("deep/er/plan.md", "plan\n"),
        (".hidden", "hidden\n"),
    ] {
        assert_eq!(
            std::fs::read_to_string(kept.join(rel)).unwrap(),
            text,
            "{rel}"
        );
    }
    assert!(
        std::fs::symlink_metadata(kept.join("link"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(
        p.tree("kubernetes").len(),
        4,
        "only the render's files (and its marker)"
    );

    // A render's own output, then a file added and one edited by hand.
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(
        out.status.success(),
        "a render replaces its own output: {}",
        stderr(&out)
    );
    p.write("kubernetes/added.yaml", "mine: true\n");
    let edited = p
        .read("kubernetes/s1.yaml")
        .replace("name: s1", "name: hand-edited");
    p.write("kubernetes/s1.yaml", &edited);
    let out = p.with_params(&["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("2 files were not written by the last render (or changed since): `added.yaml`, `s1.yaml`"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        p.read("kubernetes/added.yaml"),
        "mine: true\n",
        "refused: nothing changed"
    );
    let out = p.with_params(&["render", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let kept = newest_kept_dir(&p);
    assert_eq!(
        std::fs::read_to_string(kept.join("added.yaml")).unwrap(),
        "mine: true\n"
    );
    assert_eq!(
        std::fs::read_to_string(kept.join("s1.yaml")).unwrap(),
        edited
    );
    assert!(!p.read("kubernetes/s1.yaml").contains("hand-edited"));
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o700,
        "what was moved aside may be secret too"
    );
    assert!(staging_dirs(&p).is_empty());
}

fn kept_dirs(p: &Project) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(p.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| {
            d.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("kubernetes.kept-")
        })
        .collect();
    dirs.sort();
    dirs
}

fn kept_dir(p: &Project) -> PathBuf {
    let dirs = kept_dirs(p);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn newest_kept_dir(p: &Project) -> PathBuf {
    kept_dirs(p)
        .into_iter()
        .max_by_key(|d| std::fs::metadata(d).unwrap().modified().unwrap())
        .unwrap()
}

/// State inside output, output inside state, the same directory, through flags or the
/// config file, for `render` and `up`: refused before anything is replaced, and the
/// generated values survive.
#[test]
fn overlapping_state_and_output_directories_are_refused_either_way() {
    let cases: [(&[&str], &str, bool); 5] = [
        (&["--state-dir", "kubernetes/state"], "is inside it", false),
        (
            &["--output-dir", ".kube-openstack/out"],
            "contains it",
            false,
        ),
        (
            &["--output-dir", "out", "--state-dir", "out"],
            "is inside it",
            false,
        ),
        (
            &["--state-dir", "./kubernetes/../kubernetes/s"],
            "is inside it",
            false,
        ),
        (&[], "is inside it", true),
    ];
    for (flags, how, via_config) in cases {
        let p = Project::new();
        p.write("kubernetes-in/web.yaml", &secret_template(0));
        // Local parameters: a generated password kept in the state directory.
        p.write(
            "heat/heat-setup.yaml",
            "heat_template_version: 2016-10-14\nresources:\n  pw:\n    type: OS::Heat::RandomString\n    properties:\n      length: 24\noutputs:\n  password:\n    value: {get_attr: [pw, value]}\n",
        );
        if via_config {
            p.write(
                "kube-openstack.yaml",
                "output: kubernetes\nstate_dir: kubernetes/.state\n",
            );
        }
        // `params show` takes the state directory only.
        let state_flags: Vec<&str> = flags
            .windows(2)
            .filter(|w| w[0] == "--state-dir")
            .flatten()
            .copied()
            .collect();
        let first = p
            .cmd()
            .args(["params", "show", "--show-secrets"])
            .args(&state_flags)
            .output()
            .unwrap();
        assert!(first.status.success(), "{flags:?}: {}", stderr(&first));
        for command in ["render", "up"] {
            let mut args = vec![command];
            if command == "up" {
                args.extend(["--to", "render"]);
            }
            // `up` names its output `--manifests`.
            args.extend(flags.iter().map(|f| match (*f, command) {
                ("--output-dir", "up") => "--manifests",
                (f, _) => f,
            }));
            let out = p.cmd().args(&args).output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{command} {flags:?}: {err}");
            assert!(
                err.contains("the state directory") && err.contains(how),
                "{command} {flags:?}: {err}"
            );
        }
        let again = p
            .cmd()
            .args(["params", "show", "--show-secrets"])
            .args(&state_flags)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&first.stdout),
            String::from_utf8_lossy(&again.stdout),
            "{flags:?}: the generated password did not change"
        );
    }
}

/// A state directory that does not exist yet, named inside the output (also through a
/// link, or many levels down), or an output named inside the state directory through a
/// link: the refusal comes before the parameters are read, so no generated value is
/// written into a tree the next render would replace, and the output is left as it was.
#[test]
fn a_refused_render_writes_no_state_into_the_output() {
    let cases: [(&[&str], &str); 5] = [
        (&["--state-dir", "kubernetes/new-state"], "is inside it"),
        (&["--state-dir", "outlink/st"], "is inside it"),
        (&["--state-dir", "kubernetes/a/b/c/d"], "is inside it"),
        (&["--state-dir", "kubernetes"], "is inside it"),
        (&["--output-dir", "statelink/out"], "contains it"),
    ];
    for (flags, how) in cases {
        let p = Project::new();
        p.write("kubernetes-in/web.yaml", &secret_template(0));
        p.write(
            "heat/heat-setup.yaml",
            "heat_template_version: 2016-10-14\nresources:\n  pw:\n    type: OS::Heat::RandomString\noutputs:\n  password:\n    value: {get_attr: [pw, value]}\n",
        );
        let out = p.cmd().arg("render").output().unwrap();
        assert!(out.status.success(), "{}", failure(&out));
        std::os::unix::fs::symlink("kubernetes", p.path("outlink")).unwrap();
        std::os::unix::fs::symlink(".kube-openstack", p.path("statelink")).unwrap();
        let output_before = p.tree("kubernetes");
        let state_before = p.tree(".kube-openstack");
        for command in ["render", "up"] {
            let mut args = vec![command];
            if command == "up" {
                args.extend(["--to", "render"]);
            }
            args.extend(flags.iter().map(|f| match (*f, command) {
                ("--output-dir", "up") => "--manifests",
                (f, _) => f,
            }));
            let out = p.cmd().args(&args).output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{command} {flags:?}: {err}");
            assert!(
                err.contains("the state directory") && err.contains(how),
                "{command} {flags:?}: {err}"
            );
            assert_eq!(
                p.tree("kubernetes"),
                output_before,
                "{command} {flags:?}: nothing written into the output"
            );
            assert_eq!(
                p.tree(".kube-openstack"),
                state_before,
                "{command} {flags:?}"
            );
            assert!(!p.path(".kube-openstack/out").exists());
        }
    }
}

/// Sends `signal` to a render of many templates at several moments after its staging
/// directory appears: whatever the moment, no staging directory (no copy of the
/// secrets) is left, and the output is the old tree or the new one, whole.
#[test]
fn renders_stopped_by_signals_leave_no_copy_of_the_secrets() {
    let p = project(2500);
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let complete = p.tree("kubernetes");
    let mut stopped = 0;
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        for delay_ms in [0u64, 40, 150, 400] {
            // A change, so a complete new tree differs from the old one.
            p.write(
                "params.yaml",
                &format!("password: {SECRET}\nunused: {signal}-{delay_ms}\n"),
            );
            let mut child = render_cmd(&p).stderr(Stdio::null()).spawn().unwrap();
            let start = Instant::now();
            while staging_dirs(&p).is_empty() && start.elapsed() < Duration::from_secs(20) {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(delay_ms));
            // SAFETY: signalling a child this test started and has not reaped yet.
            unsafe { libc::kill(child.id() as i32, signal) };
            let status = child.wait().unwrap();
            let what = format!("signal {signal} after {delay_ms} ms ({status:?})");
            assert!(
                status.signal() == Some(signal) || status.success(),
                "{what}: stopped by the signal, or done before it came"
            );
            stopped += usize::from(status.signal() == Some(signal));
            assert!(
                staging_dirs(&p).is_empty(),
                "{what}: {:?}",
                staging_dirs(&p)
            );
            let outside: Vec<_> = files_with_secret(p.dir.path())
                .into_iter()
                .filter(|f| !f.starts_with(p.path("kubernetes")))
                .filter(|f| !f.starts_with(p.path(".kube-openstack")))
                .filter(|f| f.file_name().unwrap() != "params.yaml")
                .collect();
            assert!(
                outside.is_empty(),
                "{what}: copies of the secret: {outside:?}"
            );
            let now = p.tree("kubernetes");
            assert_eq!(now.len(), complete.len(), "{what}: the output is whole");
        }
    }
    assert!(
        stopped >= 6,
        "most runs were stopped mid-render: {stopped} of 12"
    );
}

/// SIGKILL leaves no chance to clean up: the next render finds the leftover (unlocked)
/// staging directory, removes it and says so.
#[test]
fn a_killed_renders_leftover_is_removed_by_the_next_render() {
    let p = project(2500);
    let mut child = render_cmd(&p).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while staging_dirs(&p).is_empty() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    let left = staging_dirs(&p);
    assert_eq!(left.len(), 1, "SIGKILL leaves it: {left:?}");
    // A leftover of an older version (no lock at all) is found the same way.
    let older = p.path(".kubernetes.render-OLDONE");
    std::fs::create_dir(&older).unwrap();
    std::fs::write(older.join("s.yaml"), SECRET).unwrap();
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "removed `{}`, left by an interrupted render",
            left[0].display()
        )),
        "{err}"
    );
    assert!(err.contains(".kubernetes.render-OLDONE"), "{err}");
    assert!(staging_dirs(&p).is_empty());
}

/// `ulimit -f`: the write past the limit fails (SIGXFSZ does not kill the process), the
/// error says so, and nothing is left; the old output stays as it was.
#[test]
fn a_render_past_ulimit_f_fails_cleanly() {
    let p = project(20);
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let before = p.tree("kubernetes");
    let big = "x".repeat(200 << 10);
    p.write("params.yaml", &format!("password: {SECRET}\nbig: {big}\n"));
    p.write(
        "kubernetes-in/big.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  big: {{big}}\n  password: {{password}}\n",
    );
    let bin = assert_cmd::cargo::cargo_bin("kube-openstack");
    // 128 blocks of 512 bytes: 64 KiB per file.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 128 && exec '{}' render --source file --params-file params.yaml",
            bin.display()
        ))
        .current_dir(p.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{:?}: {}",
        out.status,
        stderr(&out)
    );
    assert!(stderr(&out).contains("File too large"), "{}", stderr(&out));
    assert!(staging_dirs(&p).is_empty(), "{:?}", staging_dirs(&p));
    assert_eq!(p.tree("kubernetes"), before, "the old output is untouched");
}

/// An old output tree made read-only (0555 directories): the new tree replaces it and
/// the old one, with the old secrets, does not stay beside it. Run as an unprivileged
/// user, for whom the mode is not a suggestion.
#[test]
fn a_read_only_old_output_does_not_stay_beside_the_new_one() {
    let p = project(5);
    let as_user = |args: &[&str]| {
        let bin = assert_cmd::cargo::cargo_bin("kube-openstack");
        // SAFETY: geteuid has no preconditions.
        let mut cmd = if unsafe { libc::geteuid() } == 0 {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.args(args)
            .args(["--source", "file", "--params-file", "params.yaml"])
            .current_dir(p.dir.path())
            .output()
            .unwrap()
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let status = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(p.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let out = as_user(&["render"]);
    assert!(out.status.success(), "{}", failure(&out));
    let old_secret_file = p.path("kubernetes/s1.yaml");
    assert!(
        std::fs::read_to_string(&old_secret_file)
            .unwrap()
            .contains(SECRET)
    );
    for e in walkdir::WalkDir::new(p.path("kubernetes")).contents_first(true) {
        let e = e.unwrap();
        let mode = if e.file_type().is_dir() { 0o555 } else { 0o444 };
        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    p.write("params.yaml", "password: the-new-one\n");
    let out = as_user(&["render"]);
    assert!(out.status.success(), "{}", failure(&out));
    assert!(p.read("kubernetes/s1.yaml").contains("the-new-one"));
    assert!(staging_dirs(&p).is_empty(), "{:?}", staging_dirs(&p));
    let old: Vec<_> = files_with_secret(p.dir.path())
        .into_iter()
        .filter(|f| !f.starts_with(p.path(".kube-openstack")))
        .collect();
    assert!(old.is_empty(), "the old secrets are gone: {old:?}");
}

/// `images build` stopped while the builder runs (a builder that takes its time, the
/// fault a real one shows only when slow): the private copy of the registry credentials
/// goes with it, for SIGINT and SIGTERM; after SIGKILL the next run removes it.
#[test]
fn an_interrupted_images_build_leaves_no_credentials() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
        let p = Project::new();
        p.write("docker/app/Dockerfile", "FROM scratch\nCOPY a /a\n")
            .write("docker/app/a", "a\n")
            .write(
                "bin/buildah",
                "#!/bin/sh\ncase \"$1\" in --version|version) echo 'buildah version 1.28.2'; exit 0;; esac\nexec sleep 30\n",
            );
        std::fs::set_permissions(
            p.path("bin/buildah"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let path = format!(
            "{}:{}",
            p.path("bin").display(),
            std::env::var("PATH").unwrap()
        );
        let run = || {
            use std::os::unix::process::CommandExt as _;
            let mut child = spawn_cmd(&p, &["images", "build", "--builder", "buildah"])
                .env("PATH", &path)
                .args([
                    "--username",
                    "u",
                    "--password-stdin",
                    "--registry",
                    "127.0.0.1:9",
                ])
                .stdin(Stdio::piped())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap();
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"registry-pass\n")
                .unwrap();
            child
        };
        let auth_dirs = || -> Vec<PathBuf> {
            std::fs::read_dir(p.path(".kube-openstack"))
                .map(|rd| {
                    rd.map(|e| e.unwrap().path())
                        .filter(|d| {
                            d.file_name()
                                .unwrap()
                                .to_string_lossy()
                                .starts_with("registry-auth-")
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut child = run();
        let start = Instant::now();
        while auth_dirs().is_empty() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!auth_dirs().is_empty(), "the credentials were written");
        std::thread::sleep(Duration::from_millis(200));
        // SAFETY: signalling a child this test started and has not reaped yet.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        // The builder runs in the same process group: stop it too.
        // SAFETY: the group this test created for the child.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        if signal == libc::SIGKILL {
            let stale = auth_dirs();
            assert_eq!(stale.len(), 1, "SIGKILL leaves it");
            let mut again = run();
            let start = Instant::now();
            // The next run sweeps it before writing its own.
            while auth_dirs().first() == stale.first() || auth_dirs().is_empty() {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "{:?}",
                    auth_dirs()
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            // SAFETY: as above.
            unsafe { libc::kill(again.id() as i32, libc::SIGTERM) };
            again.wait().unwrap();
            // SAFETY: as above.
            unsafe { libc::kill(-(again.id() as i32), libc::SIGKILL) };
        } else {
            assert_eq!(status.signal(), Some(signal), "{status:?}");
        }
        assert!(auth_dirs().is_empty(), "signal {signal}: {:?}", auth_dirs());
        // `u:registry-pass` as an auth file holds it.
        let leaked = files_with(p.dir.path(), "dTpyZWdpc3RyeS1wYXNz");
        assert!(leaked.is_empty(), "{leaked:?}");
    }
}
