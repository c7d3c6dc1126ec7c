//! Images: the `docker/` build contexts turned into images in a registry, incrementally
//! (a content hash per context is its tag) and in parallel (independent contexts build at
//! once, dependents after their base, pushes overlapping builds).
//!
//! - [`context`]: finds the contexts, reads their `FROM` lines, hashes their content;
//! - [`graph`]: orders them by `FROM` (a cycle is an error naming it);
//! - [`builder`]: finds buildah/podman/docker and runs it, logging to a file;
//! - [`storage`]: which storage driver the builder uses (overlay, vfs fallback) and why;
//! - [`interrupt`]: SIGINT/SIGTERM/SIGHUP stop the builders and are reported;
//! - [`registry`]: a Docker Distribution (HTTP API v2) client;
//! - [`auth`]: registry credentials from the usual files or flags;
//! - [`schedule`]: checks, builds and pushes every image with bounded parallelism;
//! - [`slots`]: build slots given to the image most others wait for first;
//! - [`lock`]: the pushed digests (`images.lock.json` in the state directory);
//! - [`pin`]: rewrites `image:` references of a rendered tree to those digests;
//! - [`progress`]: per-image progress on stderr.

pub mod auth;
pub mod builder;
pub mod context;
pub mod graph;
pub mod interrupt;
pub mod lock;
pub mod pin;
pub mod progress;
pub mod registry;
pub mod schedule;
pub mod slots;
pub mod storage;

/// Where images go and what they are called: `REGISTRY/PREFIX/NAME:TAG`, from the same
/// settings that fill the templates' `docker_registry`, `docker_image_prefix` and
/// `image_tag` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    pub registry: String,
    pub prefix: String,
    pub tag: String,
}

impl Naming {
    /// The repository inside the registry: `PREFIX/NAME` (or `NAME` with no prefix).
    pub fn repository(&self, name: &str) -> String {
        let prefix = self.prefix.trim_matches('/');
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        }
    }

    /// `REGISTRY/PREFIX/NAME` (no tag).
    pub fn image(&self, name: &str) -> String {
        format!("{}/{}", self.registry, self.repository(name))
    }

    /// `REGISTRY/PREFIX/NAME:TAG`.
    pub fn reference(&self, name: &str, tag: &str) -> String {
        format!("{}:{tag}", self.image(name))
    }

    /// `REGISTRY/PREFIX`: what Dockerfiles get as the `IMAGE_PREFIX` build argument.
    pub fn image_prefix(&self) -> String {
        let prefix = self.prefix.trim_matches('/');
        if prefix.is_empty() {
            self.registry.clone()
        } else {
            format!("{}/{prefix}", self.registry)
        }
    }
}

/// Some images failed; the others' results stand (and were reported).
#[derive(Debug, thiserror::Error)]
#[error("{} of {total} images failed: {}{}", failures.len(), names(failures), details(failures))]
pub struct ImagesFailed {
    pub total: usize,
    /// Image name and what went wrong.
    pub failures: Vec<(String, String)>,
    pub hint: Option<String>,
}

fn names(failures: &[(String, String)]) -> String {
    failures
        .iter()
        .map(|(n, _)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn details(failures: &[(String, String)]) -> String {
    failures
        .iter()
        .map(|(n, e)| format!("\n\n`{n}`: {e}"))
        .collect()
}

/// What to do when the builder cannot open its image storage.
pub const STORAGE_HINT: &str = "name a driver that works here with `--storage-driver vfs` (or `overlay`), or set `driver` in the storage.conf `CONTAINERS_STORAGE_CONF` names";

/// When a build failed because its Debian base is not in local storage (and, as usual
/// here, nothing can be pulled from a hub): how to make it.
pub fn base_hint(failures: &[(String, String)]) -> Option<String> {
    failures
        .iter()
        .any(|(_, e)| e.contains("Trying to pull docker.io/library/debian:"))
        .then(|| {
            "the Debian base of `docker/` is made locally, not pulled: run `scripts/debian-base.sh` (with the same storage settings), then this again".into()
        })
}

pub fn install_builder_hint(e: &builder::NoBuilder) -> String {
    format!(
        "install one (Debian/Ubuntu: `apt-get install buildah`; it needs no daemon), or name one with `--builder` (tried: {})",
        e.tried.join(", ")
    )
}

impl crate::report::Hint for ImagesFailed {
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

/// The tag naming an image's content: `src-` and the start of its content hash.
pub fn content_tag(content_hash: &str) -> String {
    format!("src-{}", &content_hash[..content_hash.len().min(24)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_debian_base_that_had_to_be_pulled_gets_the_script_as_hint() {
        let pulled = "  | Trying to pull docker.io/library/debian:bookworm-slim...\n  | Error: creating build container".to_string();
        assert!(
            base_hint(&[("x".into(), pulled)])
                .is_some_and(|h| h.contains("scripts/debian-base.sh"))
        );
        assert_eq!(base_hint(&[("x".into(), "exit code 1".into())]), None);
    }

    #[test]
    fn references_follow_registry_prefix_name_tag() {
        let n = Naming {
            registry: "localhost:4999".into(),
            prefix: "kube-openstack".into(),
            tag: "latest".into(),
        };
        assert_eq!(
            n.reference("keystone", "latest"),
            "localhost:4999/kube-openstack/keystone:latest"
        );
        assert_eq!(n.image_prefix(), "localhost:4999/kube-openstack");
        let bare = Naming {
            prefix: String::new(),
            ..n
        };
        assert_eq!(bare.repository("keystone"), "keystone");
        assert_eq!(
            content_tag(&"ab".repeat(32)),
            format!("src-{}", "ab".repeat(12))
        );
    }
}
