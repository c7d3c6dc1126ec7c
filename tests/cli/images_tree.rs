//! The shipped trees as the image tests see them: the images the rendered
//! `kubernetes-in/` names, and the contexts of `docker/` split into bases and runnable
//! images.
//!
//! The rule for the shared base: a context is a *base* when another context of `docker/`
//! builds `FROM ${IMAGE_PREFIX}/NAME:${IMAGE_TAG}` on it. A base is built and pushed like
//! every context (its dependents are built from the pushed name) but no pod runs it, so
//! the rendered tree must name every context that is not a base, and nothing else.

use crate::support::{Project, failure, stdout};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Contexts {
    pub bases: BTreeSet<String>,
    pub runnable: BTreeSet<String>,
}

/// The contexts of the shipped `docker/`, split by the rule above.
pub fn shipped_contexts() -> Contexts {
    let root = repo_root().join("docker");
    let mut all = BTreeSet::new();
    let mut bases = BTreeSet::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(dockerfile) = std::fs::read_to_string(dir.join("Dockerfile")) else {
            continue;
        };
        all.insert(dir.file_name().unwrap().to_string_lossy().into_owned());
        for line in dockerfile.lines() {
            if let Some(rest) = line.trim().strip_prefix("FROM ${IMAGE_PREFIX}/") {
                let base = rest.split(':').next().unwrap().to_string();
                bases.insert(base);
            }
        }
    }
    assert!(
        bases.is_subset(&all),
        "a FROM names a context that does not exist: {bases:?}"
    );
    let runnable = all.difference(&bases).cloned().collect();
    Contexts { bases, runnable }
}

/// Every `image:` of the shipped tree rendered on its embedded defaults (no parameter
/// given), read back with a YAML parser.
pub fn rendered_images() -> BTreeSet<String> {
    let root = repo_root();
    let p = Project::new();
    for dir in ["heat", "kubernetes-in"] {
        copy_dir(&root.join(dir), &p.path(dir));
    }
    std::fs::copy(
        root.join("kube-openstack.yaml"),
        p.path("kube-openstack.yaml"),
    )
    .unwrap();
    let out = p.cmd().args(["render", "--stdout"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let mut images = BTreeSet::new();
    for doc in serde_yaml::Deserializer::from_str(&stdout(&out)) {
        let value = serde::Deserialize::deserialize(doc).expect("render writes YAML");
        collect_images(&value, &mut images);
    }
    assert!(!images.is_empty(), "the rendered tree names no image");
    images
}

fn collect_images(value: &serde_yaml::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map {
                if k.as_str() == Some("image")
                    && let Some(image) = v.as_str()
                {
                    out.insert(image.to_string());
                }
                collect_images(v, out);
            }
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| collect_images(v, out)),
        _ => {}
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
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
