//! `images` errors that need no builder, and the shipped `docker/` tree against the
//! images the shipped `kubernetes-in/` tree uses.

use crate::support::{Project, stderr, stdout};
use std::collections::BTreeSet;
use std::path::Path;

fn project(files: &[(&str, &str)]) -> Project {
    let p = Project::new();
    p.write(
        "kube-openstack.yaml",
        "registry: 127.0.0.1:1\nimage_prefix: ko\n",
    );
    for (rel, text) in files {
        p.write(rel, text);
    }
    p
}

#[test]
fn a_context_without_a_dockerfile_is_named() {
    let p = project(&[
        ("docker/a/Dockerfile", "FROM scratch\n"),
        ("docker/b/notes.txt", ""),
    ]);
    let out = p.cmd().args(["images", "build"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("docker/b` has no Dockerfile"), "{err}");
}

#[test]
fn a_from_cycle_is_an_error_that_prints_the_cycle() {
    let from = |base: &str| format!("ARG IMAGE_PREFIX\nFROM ${{IMAGE_PREFIX}}/{base}:latest\n");
    let p = project(&[
        ("docker/a/Dockerfile", &from("b")),
        ("docker/b/Dockerfile", &from("c")),
        ("docker/c/Dockerfile", &from("a")),
    ]);
    let out = p.cmd().args(["images", "build"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("form a cycle: a -> b -> c -> a"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unknown_image_name_lists_the_contexts() {
    let p = project(&[("docker/a/Dockerfile", "FROM scratch\n")]);
    let out = p.cmd().args(["images", "build", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no build context named `nope`; the contexts are: a"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreachable_registry_is_named_after_bounded_retries_with_a_hint() {
    // Port 1 on loopback: nothing listens there.
    let p = project(&[("docker/a/Dockerfile", "FROM scratch\n")]);
    let started = std::time::Instant::now();
    let out = p.cmd().args(["images", "push"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("registry `http://127.0.0.1:1/v2/` is unreachable (tried 4 times)"),
        "{err}"
    );
    assert!(
        err.contains("hint:") && err.contains("scripts/dev-registry.sh start"),
        "{err}"
    );
    assert!(started.elapsed().as_secs() < 30, "retries are bounded");
    let out = p.cmd().args(["images", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("127.0.0.1:1"), "{}", stderr(&out));
}

#[test]
fn pin_images_without_any_push_says_to_run_images_first() {
    let p = project(&[
        (
            "kubernetes-in/a.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers: [{name: a, image: x}]\n",
        ),
        ("params.yaml", "a: 1\n"),
    ]);
    let out = p
        .with_params(&["render", "--pin-images", "--stdout"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("run `kube-openstack images` first"),
        "{}",
        stderr(&out)
    );
}

/// Images the shipped tree uses that are not built from `docker/`: stock images.
const EXTERNAL_IMAGES: [&str; 4] = [
    "docker.io/library/mariadb",
    "docker.io/library/memcached",
    "docker.io/library/rabbitmq",
    "docker.io/library/registry",
];
/// Contexts that only serve as bases of other contexts.
const BASE_CONTEXTS: [&str; 1] = ["openstack-base"];

#[test]
fn every_image_the_shipped_tree_uses_is_built_by_docker_or_named_external_and_vice_versa() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Project::new();
    for dir in ["heat", "kubernetes-in"] {
        copy_dir(&root.join(dir), &p.path(dir));
    }
    std::fs::copy(
        root.join("kube-openstack.yaml"),
        p.path("kube-openstack.yaml"),
    )
    .unwrap();
    let out = p
        .cmd()
        .args([
            "render",
            "--stdout",
            "-P",
            "docker_registry=reg.test:4999",
            "-P",
            "docker_image_prefix=pfx",
            "-P",
            "image_tag=t1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut used = BTreeSet::new();
    let mut external = BTreeSet::new();
    for line in stdout(&out).lines() {
        let Some(value) = line
            .trim_start()
            .trim_start_matches("- ")
            .strip_prefix("image:")
        else {
            continue;
        };
        let image = value.trim().trim_matches('"').to_string();
        if let Some(name) = image.strip_prefix("reg.test:4999/pfx/") {
            let name = name
                .strip_suffix(":t1")
                .unwrap_or_else(|| panic!("`{image}` uses the image_tag parameter"));
            used.insert(name.to_string());
        } else {
            let repo = image
                .rsplit_once(':')
                .map_or(image.as_str(), |(r, _)| r)
                .to_string();
            assert!(
                EXTERNAL_IMAGES.contains(&repo.as_str()),
                "`{image}` is neither built by docker/ nor a named external image"
            );
            external.insert(repo);
        }
    }
    let contexts: BTreeSet<String> = std::fs::read_dir(root.join("docker"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("Dockerfile").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !BASE_CONTEXTS.contains(&n.as_str()))
        .collect();
    assert_eq!(
        used, contexts,
        "the images the tree uses are exactly the contexts of docker/"
    );
    assert_eq!(
        external.len(),
        EXTERNAL_IMAGES.len(),
        "every named external image is used"
    );
}

#[test]
fn the_shipped_contexts_order_on_their_shared_base_and_run_as_a_user() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker");
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        if BASE_CONTEXTS.contains(&name.as_str()) {
            assert!(
                dockerfile.contains("FROM ${BASE_IMAGE}")
                    && dockerfile.contains("debian:bookworm-slim")
            );
            continue;
        }
        assert!(
            dockerfile.contains("FROM ${IMAGE_PREFIX}/openstack-base:${IMAGE_TAG}"),
            "{name} builds on the shared base"
        );
        let user = dockerfile
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("USER "))
            .unwrap_or_else(|| panic!("{name} sets a USER"));
        assert_ne!(user.trim(), "root", "{name} runs as a user");
    }
}

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
