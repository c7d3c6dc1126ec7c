//! The settings of reading parameters and rendering: what `params`, `render`, `diff`,
//! `stack` and `up` share.

use super::Project;
use crate::cli::{OpenStackArgs, SourceArgs, TreeArgs, WaitArgs};
use crate::openstack::ConnectOptions;
use crate::params;
use crate::state::StateDir;
use std::path::PathBuf;
use std::time::Duration;

/// How long to wait for a Heat stack still in progress when `--wait-timeout` is not given.
const DEFAULT_WAIT: Duration = Duration::from_secs(1800);

/// Where the parameters come from, where state is kept, and how to reach the stack.
#[derive(Debug, Clone)]
pub struct ParamsSettings {
    pub state: StateDir,
    pub request: params::Request,
    pub openstack: ConnectOptions,
    pub wait: WaitSettings,
}

/// Waiting for a Heat stack still in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitSettings {
    /// Wait (with progress) rather than fail at once.
    pub wait: bool,
    pub timeout: Duration,
}

impl WaitSettings {
    pub fn new(args: &WaitArgs) -> WaitSettings {
        WaitSettings {
            wait: args.wait,
            timeout: args.wait_timeout.unwrap_or(DEFAULT_WAIT),
        }
    }

    /// Waiting until the stack settles: what `up --create-stack` does.
    pub fn until_settled() -> WaitSettings {
        WaitSettings {
            wait: true,
            timeout: DEFAULT_WAIT,
        }
    }
}

impl ParamsSettings {
    /// Without `--wait`: a stack still in progress is an error.
    pub fn new(project: &Project, args: &SourceArgs) -> ParamsSettings {
        ParamsSettings {
            state: project.state(args.state_dir.as_deref()),
            request: project.params_request(args),
            openstack: openstack(project, &args.openstack),
            wait: WaitSettings::new(&WaitArgs::default()),
        }
    }

    pub fn waiting(self, args: &WaitArgs) -> ParamsSettings {
        ParamsSettings {
            wait: WaitSettings::new(args),
            ..self
        }
    }
}

/// The template tree and how to render it, with its parameters.
#[derive(Debug, Clone)]
pub struct TreeSettings {
    pub params: ParamsSettings,
    /// A directory, or a URL kept as written.
    pub input: String,
    /// Where downloaded template sources are cached.
    pub cache: PathBuf,
    pub legacy_percent: bool,
    /// Unused parameters are an error.
    pub strict: bool,
    /// Write `image@sha256:...` for the images pushed.
    pub pin_images: bool,
}

impl TreeSettings {
    pub fn new(project: &Project, args: &TreeArgs) -> TreeSettings {
        let params = ParamsSettings::new(project, &args.source);
        TreeSettings {
            input: project.input(args),
            cache: params.state.path().join("cache").join("templates"),
            legacy_percent: args.legacy_percent || project.config.legacy_percent,
            strict: args.strict,
            pin_images: args.pin_images,
            params,
        }
    }
}

/// How to reach OpenStack: flags, then `OS_CLOUD`, then `cloud:` in the config file for
/// the cloud's name (the `OS_*` variables and clouds.yaml are read when connecting).
pub fn openstack(project: &Project, args: &OpenStackArgs) -> ConnectOptions {
    ConnectOptions {
        cloud: args
            .cloud
            .clone()
            .or_else(|| std::env::var("OS_CLOUD").ok().filter(|c| !c.is_empty()))
            .or_else(|| project.config.cloud.clone()),
        auth_url: args.auth_url.clone(),
        auth_type: args.auth_type.clone(),
        username: args.username.clone(),
        user_id: None,
        project_name: args.project_name.clone(),
        project_id: args.project_id.clone(),
        user_domain_name: args.user_domain_name.clone(),
        project_domain_name: args.project_domain_name.clone(),
        region_name: args.region_name.clone(),
        interface: args.interface.clone(),
        cacert: args.cacert.clone(),
        insecure: args.insecure,
        heat_url: args.heat_url.clone(),
        application_credential_id: args.application_credential_id.clone(),
        application_credential_name: args.application_credential_name.clone(),
        search_dirs: Vec::new(),
    }
}
