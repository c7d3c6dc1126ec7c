//! Where a command finds its project (`kube-openstack.yaml` here or in a parent, as git
//! and cargo find theirs), what it says outside one, and the state lock that commands
//! which only read share.

use crate::support::{Project, SERVICE, failure, stderr, stdout};
use std::path::Path;

/// Every entry under `dir`, relative, sorted: what a command left behind.
fn entries(dir: &Path) -> Vec<String> {
    let mut all: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            e.path().strip_prefix(dir).unwrap().display().to_string()
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_command_in_a_subdirectory_works_on_the_project_above() {
    let p = Project::new();
    p.write("kube-openstack.yaml", "output: rendered\n")
        .write("params.yaml", "name: web\n")
        .write("kubernetes-in/web-service.yaml", SERVICE)
        .write("kubernetes-in/notes/keep.txt", "x\n");
    let deep = p.path("kubernetes-in/notes");
    let out = p
        .cmd()
        .current_dir(&deep)
        // The parameters file is a flag: relative to where the command runs.
        .args([
            "render",
            "--source",
            "file",
            "--params-file",
            "../../params.yaml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    // The config file's paths are relative to the config file, not to where it ran.
    assert!(p.read("rendered/web-service.yaml").contains("web"));
    assert!(p.path(".kube-openstack").is_dir());
    assert_eq!(entries(&deep), ["keep.txt"], "nothing written where it ran");
}

#[test]
fn outside_a_project_commands_say_so_and_leave_nothing_behind() {
    let p = Project::outside();
    p.write(
        "heat/heat-setup.yaml",
        "heat_template_version: 2016-10-14\n",
    );
    let before = entries(p.dir.path());
    for args in [
        &["render"][..],
        &["params", "show"],
        &["diff"],
        &["status"],
        &["images", "list"],
        &["up", "--dry-run=client"],
    ] {
        let out = p.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(
                "not in a kube-openstack project: no kube-openstack.yaml here or in any parent"
            ),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("hint:") && err.contains("--config FILE"),
            "{args:?}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        assert_eq!(entries(p.dir.path()), before, "{args:?} left something");
    }
    // `--config` names a project from anywhere.
    p.write("elsewhere/kube-openstack.yaml", "output: ../out\n")
        .write("elsewhere/kubernetes-in/web-service.yaml", SERVICE)
        .write("params.yaml", "name: web\n");
    let out = p
        .with_params(&["render", "--config", "elsewhere/kube-openstack.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(p.read("out/web-service.yaml").contains("web"));
}

#[test]
fn commands_that_need_no_project_run_anywhere() {
    let p = Project::outside();
    p.write("setup.sh", "#!/bin/sh\necho hi\n");
    let out = p.cmd().args(["version", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let out = p
        .cmd()
        .args(["userdata", "--output", "user-data", "setup.sh"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert_eq!(entries(p.dir.path()), ["setup.sh", "user-data"]);
}

#[test]
fn commands_that_only_read_share_the_state_lock() {
    let p = Project::new();
    p.write("params.yaml", "name: web\ndb_password: hunter2hunter2\n")
        .write("kubernetes-in/web-service.yaml", SERVICE);
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));

    // Another reader (a long diff, say) holds the lock shared.
    let lock = std::fs::File::open(p.path(".kube-openstack/lock")).unwrap();
    lock.try_lock_shared().unwrap();
    let out = p.with_params(&["params", "show"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(stdout(&out).contains("***"), "{}", stdout(&out));
    let out = p.with_params(&["diff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = p.with_params(&["params", "get", "name"]).output().unwrap();
    assert_eq!(stdout(&out), "web\n", "{}", stderr(&out));
    // A command that writes the state waits for no reader: it stops at once.
    let out = p.with_params(&["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is using"), "{}", stderr(&out));
    lock.unlock().unwrap();

    // While one writes, a reader stops at once too, naming the writer.
    lock.try_lock().unwrap();
    let out = p.with_params(&["params", "show"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is using"), "{}", stderr(&out));
}

#[test]
fn a_first_read_generates_the_values_once_and_shows_what_it_kept() {
    let p = Project::new();
    p.write(
        "heat/heat-setup.yaml",
        "heat_template_version: 2016-10-14\nresources:\n  pw:\n    type: OS::Heat::RandomString\noutputs:\n  db_password:\n    value: {get_attr: [pw, value]}\n",
    );
    let show = || {
        let out = p
            .cmd()
            .args(["params", "show", "--show-secrets", "-o", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", failure(&out));
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        shown["db_password"]["value"].as_str().unwrap().to_string()
    };
    let first = show();
    assert_eq!(first.len(), 32, "{first}");
    assert_eq!(show(), first, "kept, not made again");
}
