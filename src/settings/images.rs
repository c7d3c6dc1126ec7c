//! The settings of `images` (and of `up`'s images step).

use super::Project;
use crate::cli::ImagesOptions;
use crate::images::Naming;
use crate::images::builder::BuilderKind;
use crate::images::registry::Endpoint;
use crate::state::StateDir;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the images go and what they are called, and how to build them.
#[derive(Debug, Clone)]
pub struct ImagesSettings {
    pub naming: Naming,
    /// The registry spoken to: the naming registry, or `--push-to`.
    pub endpoint: Endpoint,
    /// `host:port` pushes go to instead of the naming registry (a port-forward).
    pub push_host: Option<String>,
    pub login: RegistryLogin,
    pub state: StateDir,
    pub docker_dir: PathBuf,
    /// `None`: the first of buildah, podman, docker on `PATH`.
    pub builder: Option<BuilderKind>,
    /// `None`: `STORAGE_DRIVER`, storage.conf, else what buildah picks (see
    /// `images::storage`).
    pub storage_driver: Option<String>,
    /// Builds at once.
    pub jobs: usize,
    /// `--no-progress`: status lines even on a terminal.
    pub no_progress: bool,
}

/// Where the registry credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryLogin {
    /// The auth files buildah, podman and docker use (none when they name no entry).
    AuthFiles,
    /// `--username USER --password-stdin`.
    Stdin { username: String },
}

impl ImagesSettings {
    /// The same, pushing to `addr` (a port-forward to an in-cluster registry) when given.
    pub fn pushing_to(self, addr: Option<String>) -> ImagesSettings {
        let Some(addr) = addr else { return self };
        ImagesSettings {
            push_host: Some(host_of(&addr)),
            endpoint: Endpoint {
                registry: addr,
                ..self.endpoint
            },
            ..self
        }
    }

    /// `stack_parameters`: those of the command (`-P` and the config file), which give the
    /// templates `docker_registry`, `docker_image_prefix` and `image_tag`; the images are
    /// named the same way unless a flag says otherwise.
    pub fn new(
        project: &Project,
        opts: &ImagesOptions,
        stack_parameters: &BTreeMap<String, String>,
        state: StateDir,
    ) -> ImagesSettings {
        let param = |k: &str| stack_parameters.get(k).cloned();
        let registry = opts
            .registry
            .clone()
            .or_else(|| param("docker_registry"))
            .unwrap_or_else(|| "localhost:4999".into());
        let naming = Naming {
            registry: host_of(&registry),
            prefix: opts
                .image_prefix
                .clone()
                .or_else(|| param("docker_image_prefix"))
                .unwrap_or_else(|| "kube-openstack".into()),
            tag: opts
                .tag
                .clone()
                .or_else(|| param("image_tag"))
                .unwrap_or_else(|| "latest".into()),
        };
        let endpoint = Endpoint {
            registry: opts.push_to.clone().unwrap_or(registry),
            insecure: opts.insecure_registry,
            ca_file: opts.registry_ca.clone(),
        };
        ImagesSettings {
            naming,
            endpoint,
            push_host: opts.push_to.as_deref().map(host_of),
            login: match opts.password_stdin {
                true => RegistryLogin::Stdin {
                    username: opts.username.clone().unwrap_or_default(),
                },
                false => RegistryLogin::AuthFiles,
            },
            state,
            docker_dir: project.docker_dir(&opts.docker_dir),
            builder: opts.builder.map(Into::into),
            storage_driver: opts.storage_driver.clone(),
            jobs: opts
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            no_progress: opts.no_progress,
        }
    }
}

/// `host:port` of a registry given as `host:port` or as a URL.
pub fn host_of(registry: &str) -> String {
    registry
        .split_once("://")
        .map_or(registry, |(_, h)| h)
        .trim_end_matches('/')
        .to_string()
}
