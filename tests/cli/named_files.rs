//! Files named on the command line or in settings (parameters, overrides, the config
//! file, a Heat template, user-data parts, a kubeconfig, a CA bundle, the template
//! source) and the files of a build context: a device is refused at once with its name
//! and kind (`/dev/zero` never ends, a terminal waits), a FIFO in a build context too;
//! a pipe named on purpose (`/dev/stdin`, `<(...)`) is read, up to 64 MiB.

use crate::support::{Project, failure, stderr, stdout};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

fn project() -> Project {
    let p = Project::new();
    p.write("params.yaml", "name: web\n");
    p.write(
        "kubernetes-in/web.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{name}}\n",
    );
    p.write(
        "kubernetes/web.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
    );
    p
}

fn run(p: &Project, args: &[&str]) -> std::process::Output {
    let mut cmd = p.cmd();
    cmd.args(args)
        .write_stdin("")
        .timeout(Duration::from_secs(60));
    cmd.output().unwrap()
}

#[test]
fn named_devices_are_refused_at_once() {
    let p = project();
    let file = ["--source", "file", "--params-file", "params.yaml"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "params",
                "show",
                "--source",
                "file",
                "--params-file",
                "/dev/zero",
            ],
            "/dev/zero",
        ),
        (
            [
                &["params", "show", "--overrides", "/dev/urandom"][..],
                &file,
            ]
            .concat(),
            "/dev/urandom",
        ),
        (vec!["--config", "/dev/zero", "params", "show"], "/dev/zero"),
        (
            vec![
                "params",
                "show",
                "--source",
                "local",
                "--heat-template",
                "/dev/zero",
            ],
            "/dev/zero",
        ),
        (
            vec!["userdata", "/dev/zero", "--output", "u.mime"],
            "/dev/zero",
        ),
        (
            vec!["userdata", "/dev/zero:text/plain", "--output", "u.mime"],
            "/dev/zero",
        ),
        (
            [
                &["render", "--stdout", "--input-dir", "/dev/zero"][..],
                &file,
            ]
            .concat(),
            "/dev/zero",
        ),
        (
            [
                &["render", "--stdout", "--input-dir", "file:///dev/zero"][..],
                &file,
            ]
            .concat(),
            "/dev/zero",
        ),
        (vec!["deploy", "--kubeconfig", "/dev/zero"], "/dev/zero"),
        (vec!["status", "--kubeconfig", "/dev/null"], "/dev/null"),
    ];
    for (args, named) in cases {
        let out = run(&p, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(named) && err.contains("character device"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert!(!p.path("u.mime").exists());
}

/// A FIFO in a build context stops `images` before any builder runs, naming it (reading it
/// to hash the context would wait for a writer).
#[test]
fn a_fifo_in_a_build_context_is_refused() {
    let p = project();
    p.write("docker/app/Dockerfile", "FROM scratch\nCOPY . /\n");
    let path = p.path("docker/app/sub/odd");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(path.into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for command in ["list", "build", "push"] {
        let out = run(&p, &["images", command, "--registry", "127.0.0.1:9"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("docker/app/sub/odd") && err.contains("a FIFO in a build context"),
            "{command}: {err}"
        );
    }
}

/// What a shell hands over as a pipe is read; one that never ends stops at 64 MiB.
#[test]
fn pipes_named_on_purpose_are_read_up_to_a_bound() {
    let p = project();
    let out = p
        .cmd()
        .args([
            "params",
            "show",
            "--source",
            "file",
            "--params-file",
            "/dev/stdin",
        ])
        .write_stdin("db_password: piped-s3cret\nhost: piped-host\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(stdout(&out).contains("piped-host"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("piped-s3cret"), "{}", stdout(&out));

    let mut child = Command::new(assert_cmd::cargo::cargo_bin("kube-openstack"))
        .current_dir(p.dir.path())
        .args([
            "params",
            "show",
            "--source",
            "file",
            "--params-file",
            "/dev/stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let line = "k: v\n".repeat(4096);
        // Until the reader stops reading (a broken pipe ends the loop).
        while stdin.write_all(line.as_bytes()).is_ok() {}
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("more than 64 MiB"), "{err}");
}
