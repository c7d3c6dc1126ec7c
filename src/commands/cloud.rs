//! Shared by the commands that talk to OpenStack: flags + config -> connection options,
//! connecting, and waiting with progress on stderr.

use crate::cli::{OpenStackArgs, WaitArgs};
use crate::openstack::config::{self, Resolved};
use crate::openstack::heat::Wait;
use crate::openstack::{ConnectOptions, HeatClient, OpenStackError, Session};
use crate::printer::Printer;
use crate::settings::Project;
use std::sync::Mutex;
use std::time::Duration;

const DEFAULT_WAIT_SECS: u64 = 1800;
/// Heat settles a small stack in about a second; poll often, the calls are cheap.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

pub(super) fn options(project: &Project, args: &OpenStackArgs) -> ConnectOptions {
    ConnectOptions {
        // `--os-cloud` > OS_CLOUD > `cloud:` in the config file.
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

/// Resolves the cloud; `keyring` says whether a missing secret is looked up there.
pub(super) fn resolve(
    project: &Project,
    printer: &Printer,
    args: &OpenStackArgs,
    keyring: bool,
) -> Result<Resolved, OpenStackError> {
    let resolved = config::resolve(&options(project, args), &|k| std::env::var(k).ok(), keyring)?;
    if resolved.cloud.insecure {
        printer.warn("TLS certificates are not verified (`--insecure`): anyone on the path can read the credentials");
    }
    Ok(resolved)
}

/// Authenticates and finds Heat. Call inside `rt::block_on`.
pub(super) async fn connect(
    project: &Project,
    printer: &Printer,
    args: &OpenStackArgs,
) -> Result<(Session, HeatClient, Resolved), OpenStackError> {
    let resolved = resolve(project, printer, args, true)?;
    let (session, heat) = crate::openstack::connect_heat(&resolved.cloud).await?;
    Ok((session, heat, resolved))
}

/// Runs `f` with a [`Wait`] that prints each new status (and the time so far) on stderr.
pub(super) fn with_wait<T>(
    printer: &Printer,
    name: &str,
    args: &WaitArgs,
    f: impl FnOnce(&Wait<'_>) -> T,
) -> T {
    let last = Mutex::new(String::new());
    let progress = |status: &str, elapsed: Duration| {
        let mut last = last.lock().expect("not poisoned");
        if *last != status {
            printer.status(
                "Waiting",
                format!("stack `{name}`: {status} ({}s)", elapsed.as_secs()),
            );
            *last = status.to_string();
        }
    };
    let wait = Wait {
        interval: POLL_INTERVAL,
        timeout: Duration::from_secs(args.wait_timeout.unwrap_or(DEFAULT_WAIT_SECS)),
        progress: &progress,
    };
    f(&wait)
}
