//! A real image of the shipped tree: the keystone context (and the shared base it is built
//! on) built with buildah on a Debian base made here with debootstrap, then keystone's
//! own command run inside it through the image's entrypoint.

use crate::images_env::{ImageProject, registry_and_buildah};
use crate::support::stderr;
use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target)
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn the_keystone_image_builds_from_debian_packages_and_runs_keystone_manage_as_keystone() {
    let Some(reg) = registry_and_buildah() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = ImageProject::new(&reg, "keystone");
    for name in ["openstack-base", "keystone"] {
        copy_dir(
            &root.join("docker").join(name),
            &p.project.path(&format!("docker/{name}")),
        );
    }
    let storage = p.project.path("storage.conf");
    let base = Command::new(root.join("scripts/debian-base.sh"))
        .env("CONTAINERS_STORAGE_CONF", &storage)
        .output()
        .unwrap();
    assert!(base.status.success(), "debian-base.sh: {}", stderr(&base));

    let out = p.cmd(&["images", "build", "keystone"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let built: Vec<String> = p
        .builder_calls()
        .iter()
        .filter(|c| c.contains(" bud "))
        .cloned()
        .collect();
    assert_eq!(
        built.len(),
        2,
        "the shared base first, then keystone: {built:?}"
    );
    assert!(
        built[0].ends_with("/openstack-base") && built[1].ends_with("/keystone"),
        "{built:?}"
    );

    let buildah = |args: &[&str]| {
        let out = Command::new("buildah")
            .args(["--storage-driver", "vfs"])
            .args(args)
            .env("CONTAINERS_STORAGE_CONF", &storage)
            .output()
            .unwrap();
        assert!(out.status.success(), "buildah {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let image = format!("{}/{}/keystone:latest", reg.address, p.prefix);
    let container = buildah(&["from", "--pull=never", &image]);
    // The entrypoint renders keystone.conf from the environment, then runs the command.
    let script = "/usr/local/bin/kube-openstack-entrypoint sh -c 'id -un; keystone-manage --version; grep ^connection /etc/keystone/keystone.conf'";
    let run = buildah(&[
        "run",
        "--isolation",
        "chroot",
        &container,
        "--",
        "env",
        "DB_URI=sqlite:////tmp/keystone.db",
        "ADMIN_TOKEN=t0ken",
        "sh",
        "-c",
        script,
    ]);
    buildah(&["rm", &container]);
    let lines: Vec<&str> = run.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"keystone"),
        "runs as the keystone user: {run}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("22.")),
        "keystone-manage --version from bookworm's package: {run}"
    );
    assert!(
        run.contains("connection = sqlite:////tmp/keystone.db"),
        "config rendered from the environment: {run}"
    );
}
