//! Which storage driver the builds use, against real buildah: overlay where the kernel
//! mounts it, vfs where it cannot (a store on an overlay file system), and whatever the
//! user named (flag, `STORAGE_DRIVER`, storage.conf), always said in a `Storage` line.

use crate::support::images::{
    ImageProject, assert_images_ok, is_call, missing, registry_and_buildah,
};
use crate::support::stderr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn storage_line(out: &std::process::Output) -> String {
    stderr(out)
        .lines()
        .find(|l| l.trim_start().starts_with("Storage "))
        .unwrap_or_else(|| panic!("no Storage line: {}", stderr(out)))
        .trim()
        .to_string()
}

fn bud_calls(p: &ImageProject) -> Vec<String> {
    p.builder_calls()
        .into_iter()
        .filter(|c| is_call(c, "bud"))
        .collect()
}

#[test]
fn with_no_driver_configured_buildah_picks_overlay_and_the_run_says_so() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "storage-auto");
    p.busybox_context("base");
    let out = p.cmd(&["images", "build"]).output().unwrap();
    assert_images_ok(&out, &p.state_dir());
    let line = storage_line(&out);
    assert!(
        line.starts_with("Storage overlay driver (automatic: the kernel mounts overlay"),
        "{line}"
    );
    assert!(
        p.project.path("storage/graph/overlay-images").is_dir(),
        "the image went to an overlay store"
    );
    for call in p.builder_calls() {
        assert!(
            !call.contains("--storage-driver"),
            "the choice stays buildah's, so a plain `buildah images` sees the same store: {call}"
        );
    }
}

#[test]
fn a_driver_named_by_flag_or_storage_driver_goes_to_every_builder_call() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "storage-flag");
    p.busybox_context("base");
    let out = p
        .cmd(&["images", "build", "--storage-driver", "vfs"])
        .output()
        .unwrap();
    assert_images_ok(&out, &p.state_dir());
    assert!(
        storage_line(&out).starts_with("Storage vfs driver (from --storage-driver)"),
        "{}",
        storage_line(&out)
    );
    let calls = p.builder_calls();
    assert!(!calls.is_empty());
    for call in &calls {
        assert!(call.starts_with("--storage-driver vfs "), "{call}");
    }
    assert!(p.project.path("storage/graph/vfs-images").is_dir());

    let again = p
        .cmd(&["images", "build"])
        .env("STORAGE_DRIVER", "vfs")
        .output()
        .unwrap();
    assert_images_ok(&again, &p.state_dir());
    assert!(
        storage_line(&again).starts_with("Storage vfs driver (from STORAGE_DRIVER)"),
        "{}",
        storage_line(&again)
    );
    for call in &p.builder_calls()[calls.len()..] {
        assert!(call.starts_with("--storage-driver vfs "), "{call}");
    }
}

#[test]
fn a_driver_set_in_storage_conf_is_left_to_buildah_and_named() {
    let reg = registry_and_buildah();
    let p = ImageProject::new(&reg, "storage-conf");
    let root = p.project.path("");
    p.project.write(
        "storage.conf",
        &format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/storage/graph\"\nrunroot = \"{0}/storage/run\"\n",
            root.display()
        ),
    );
    p.busybox_context("base");
    let out = p.cmd(&["images", "build"]).output().unwrap();
    assert_images_ok(&out, &p.state_dir());
    let line = storage_line(&out);
    assert_eq!(
        line,
        format!(
            "Storage vfs driver (from `{}`)",
            p.project.path("storage.conf").display()
        )
    );
    assert!(
        bud_calls(&p)
            .iter()
            .all(|c| !c.contains("--storage-driver"))
    );
    assert!(p.project.path("storage/graph/vfs-images").is_dir());
}

/// An overlay file system mounted for the test: overlay cannot use one as its upper
/// layer, so a store on it is a place where the kernel's overlay does not work.
struct OverlayMount {
    dir: tempfile::TempDir,
}

impl OverlayMount {
    fn new() -> OverlayMount {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            missing(
                "root (to mount an overlay file system)",
                "run the tests as root, as scripts/test.sh does in CI",
            );
        }
        let dir = tempfile::tempdir().unwrap();
        for d in ["lower", "upper", "work", "merged"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let p = |d: &str| dir.path().join(d).display().to_string();
        let out = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!(
                "lowerdir={},upperdir={},workdir={}",
                p("lower"),
                p("upper"),
                p("work")
            ))
            .arg(p("merged"))
            .output()
            .unwrap();
        assert!(out.status.success(), "mount: {}", stderr(&out));
        OverlayMount { dir }
    }

    fn merged(&self) -> PathBuf {
        self.dir.path().join("merged")
    }
}

impl Drop for OverlayMount {
    fn drop(&mut self) {
        // Lazily: a builder that is still closing its store must not keep the mount.
        let _ = Command::new("umount").arg("-l").arg(self.merged()).status();
    }
}

fn store_on(p: &ImageProject, root: &Path) {
    p.project.write(
        "storage.conf",
        &format!(
            "[storage]\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
            root.display()
        ),
    );
}

#[test]
fn where_overlay_cannot_mount_vfs_is_the_automatic_fallback() {
    let reg = registry_and_buildah();
    let mount = OverlayMount::new();
    let p = ImageProject::new(&reg, "storage-fallback");
    store_on(&p, &mount.merged());
    p.busybox_context("base");
    let out = p.cmd(&["images", "build"]).output().unwrap();
    assert_images_ok(&out, &p.state_dir());
    let line = storage_line(&out);
    assert!(
        line.starts_with("Storage vfs driver (automatic: overlay")
            && line.contains("vfs is the fallback"),
        "{line}"
    );
    assert!(mount.merged().join("graph/vfs-images").is_dir());
    // Once overlay has failed there, buildah alone would fail on that store from then on:
    // the run names vfs itself, and a second run works the same.
    assert!(
        bud_calls(&p)
            .iter()
            .all(|c| c.starts_with("--storage-driver vfs "))
    );
    let again = p.cmd(&["images", "build"]).output().unwrap();
    assert_images_ok(&again, &p.state_dir());
    assert!(storage_line(&again).starts_with("Storage vfs driver (automatic: overlay"));
}

#[test]
fn overlay_named_where_it_cannot_work_fails_before_any_build_with_a_hint() {
    let reg = registry_and_buildah();
    let mount = OverlayMount::new();
    let p = ImageProject::new(&reg, "storage-refused");
    store_on(&p, &mount.merged());
    p.busybox_context("base");
    let out = p
        .cmd(&["images", "build", "--storage-driver", "overlay"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`buildah` cannot open its image storage")
            && err.contains("overlay")
            && err.contains("hint: name a driver that works here with `--storage-driver vfs`"),
        "{err}"
    );
    assert!(bud_calls(&p).is_empty(), "{:?}", p.builder_calls());
}
