//! The settings of the commands that talk to the cluster.

use super::Project;
use crate::cli::ClusterArgs;
use crate::deploy::client::ClientOptions;
use crate::state::StateDir;
use std::path::PathBuf;

/// Where the cluster and the deployment are, and the state that masks their secrets.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub client: ClientOptions,
    pub namespace: String,
    /// The rendered tree.
    pub manifests: PathBuf,
    /// Holds the secrets earlier renders wrote and the mask key.
    pub state: StateDir,
}

impl ClusterSettings {
    /// `state`: the state directory of the command (`up --state-dir`), else the project's.
    pub fn new(project: &Project, args: &ClusterArgs, state: StateDir) -> ClusterSettings {
        ClusterSettings {
            client: ClientOptions {
                kubeconfig: args.kubeconfig.clone(),
                context: args.context.clone(),
                request_timeout: args.request_timeout,
            },
            namespace: project.namespace(&args.namespace),
            manifests: args
                .manifests
                .clone()
                .unwrap_or_else(|| project.output_dir(&None)),
            state,
        }
    }
}
