//! `images` errors that need no builder, and the shipped `docker/` tree against the
//! images the shipped `kubernetes-in/` tree uses.

use crate::images_tree::{rendered_images, repo_root, shipped_contexts};
use crate::support::{Project, stderr};
use std::collections::BTreeSet;

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

#[test]
fn the_rendered_tree_runs_exactly_the_contexts_of_docker_that_are_not_bases() {
    // The embedded defaults: registry localhost:4999, prefix kube-openstack, tag latest.
    let mut named = BTreeSet::new();
    for image in rendered_images() {
        let name = image
            .strip_prefix("localhost:4999/kube-openstack/")
            .and_then(|n| n.strip_suffix(":latest"))
            .unwrap_or_else(|| {
                panic!("`{image}` is not {{{{docker_registry}}}}/{{{{docker_image_prefix}}}}/NAME:{{{{image_tag}}}}: every image comes from docker/")
            });
        named.insert(name.to_string());
    }
    let contexts = shipped_contexts();
    assert!(
        !contexts.bases.is_empty() && contexts.bases.is_disjoint(&named),
        "bases ({:?}) are built for other images, never run by a pod",
        contexts.bases
    );
    assert_eq!(
        named, contexts.runnable,
        "the images the tree runs are exactly the contexts of docker/ that are not bases"
    );
}

#[test]
fn every_runnable_context_builds_on_the_shared_debian_base_and_runs_as_a_user() {
    let contexts = shipped_contexts();
    let root = repo_root().join("docker");
    for name in contexts.bases.iter().chain(&contexts.runnable) {
        let dockerfile = std::fs::read_to_string(root.join(name).join("Dockerfile")).unwrap();
        let from_debian = dockerfile.contains("ARG BASE_IMAGE=debian:bookworm-slim")
            && dockerfile.contains("FROM ${BASE_IMAGE}");
        let from_base = contexts
            .bases
            .iter()
            .any(|b| dockerfile.contains(&format!("FROM ${{IMAGE_PREFIX}}/{b}:${{IMAGE_TAG}}")));
        assert!(
            from_debian || from_base,
            "{name} builds on debian:bookworm-slim (scripts/debian-base.sh) or a base of docker/"
        );
        if contexts.bases.contains(name) {
            continue;
        }
        let user = dockerfile
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("USER "))
            .unwrap_or_else(|| panic!("{name} sets a USER"));
        assert_ne!(user.trim(), "root", "{name} runs as a user");
    }
}
