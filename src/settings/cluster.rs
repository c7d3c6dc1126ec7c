//! The settings of the commands that talk to the cluster.

use super::Project;
use crate::cli::ClusterArgs;
use crate::deploy::client::ClientOptions;
use crate::deploy::kubeconfig;
use crate::state::StateDir;
use std::path::PathBuf;
use std::time::Duration;

/// How long one request to the API server may take, unless `--request-timeout` says.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// The namespace: `-n`, else the config file's `namespace`, else the kubeconfig
    /// context's (as kubectl), else `openstack`.
    pub fn new(project: &Project, args: &ClusterArgs, state: StateDir) -> ClusterSettings {
        ClusterSettings {
            client: ClientOptions {
                kubeconfig: args.kubeconfig.clone(),
                context: args.context.clone(),
                request_timeout: args.request_timeout.unwrap_or(REQUEST_TIMEOUT),
            },
            namespace: project
                .namespace(&args.namespace)
                .or_else(|| {
                    kubeconfig::default_namespace(
                        args.kubeconfig.as_deref(),
                        args.context.as_deref(),
                    )
                })
                .unwrap_or_else(|| crate::deploy::DEFAULT_NAMESPACE.to_string()),
            manifests: args
                .manifests
                .clone()
                .unwrap_or_else(|| project.output_dir(&None)),
            state,
        }
    }
}
