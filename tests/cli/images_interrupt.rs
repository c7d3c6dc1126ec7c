//! A build that is killed always says why: the builder killed by a signal, or the run
//! itself told to stop. Both name the signal, the image, its log and the log's last
//! lines, and leave no builder running. (A run that ended at `Building NAME` without a
//! word was a run whose own process a signal ended: it had no handler.)

use crate::support::images::{ImageProject, is_call, registry_and_buildah};
use crate::support::stderr;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

/// busybox, then a `RUN` step that says it started (`running-42`, computed so that the
/// step's own line in the log does not show it) and sleeps: a build to kill midway.
fn sleeping_context(p: &ImageProject, name: &str) {
    p.busybox_context(name);
    p.project.write(
        &format!("docker/{name}/Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo running-$((6 * 7)) && /bin/busybox sleep 20\"]\n",
    );
}

fn spawn(p: &ImageProject, args: &[&str]) -> Child {
    p.std_cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until one of the images' logs shows its `RUN` step running; returns that image
/// and its buildah's pid.
fn wait_until_running<'a>(p: &ImageProject, names: &[&'a str]) -> (&'a str, i32) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let name = loop {
        let running = names.iter().find(|name| {
            let log = p.state_dir().join(format!("logs/images/{name}.log"));
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .contains("\nrunning-42")
        });
        if let Some(name) = running {
            break *name;
        }
        assert!(Instant::now() < deadline, "no RUN step ever started");
        std::thread::sleep(Duration::from_millis(100));
    };
    let pid = p
        .builder_pids()
        .into_iter()
        .rev()
        .find(|(_, args)| is_call(args, "bud") && args.ends_with(&format!(" docker/{name}")))
        .map(|(pid, _)| pid)
        .unwrap_or_else(|| panic!("no buildah bud pid for {name}: {:?}", p.builder_pids()));
    (name, pid)
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

#[test]
fn a_builder_killed_by_sigkill_is_named_with_the_signal_and_its_log() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "kill-builder");
    sleeping_context(&p, "slow");
    let child = spawn(&p, &["images", "build"]);
    let (_, buildah) = wait_until_running(&p, &["slow"]);
    // SAFETY: buildah, started by the run under test and still running.
    unsafe { libc::kill(buildah, libc::SIGKILL) };
    let out = finish(child);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let log = std::path::Path::new(".kube-openstack/logs/images/slow.log");
    assert!(err.contains("Failed slow log: "), "{err}");
    assert!(
        err.contains("`buildah build` failed (killed by SIGKILL"),
        "the signal is named: {err}"
    );
    assert!(
        err.contains(&format!("last lines of `{}`", log.display())),
        "{err}"
    );
    assert!(
        err.contains("  | running-42"),
        "the log's tail is shown: {err}"
    );
    let text = std::fs::read_to_string(p.project.path("").join(log)).unwrap();
    assert!(
        text.contains("# kube-openstack: buildah build: killed by SIGKILL"),
        "the log says so too: {text}"
    );
}

#[test]
fn a_run_stopped_by_sigterm_names_the_build_it_stopped_and_leaves_no_builder() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "kill-run");
    sleeping_context(&p, "one");
    sleeping_context(&p, "two");
    // One build at a time: whichever starts first holds the slot the other waits for.
    let child = spawn(&p, &["images", "build", "--jobs", "1"]);
    let (running, buildah) = wait_until_running(&p, &["one", "two"]);
    let waiting = if running == "one" { "two" } else { "one" };
    // SAFETY: the run under test, still running (not reaped).
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = finish(child);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let log = format!(".kube-openstack/logs/images/{running}.log");
    assert!(
        err.contains(&format!(
            "`{running}`: `buildah build` stopped: kube-openstack received SIGTERM; last lines of `{log}`"
        )) && err.contains("  | running-42"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "`{waiting}`: not started: kube-openstack received SIGTERM"
        )),
        "{err}"
    );
    assert!(
        err.contains("Finished 2 images"),
        "the summary still comes: {err}"
    );
    assert!(!alive(buildah), "buildah {buildah} outlived the run");
    assert!(
        p.builder_calls()
            .iter()
            .all(|c| !c.ends_with(&format!(" docker/{waiting}"))),
        "nothing started after the signal: {:?}",
        p.builder_calls()
    );
}
