//! Talking to OpenStack for a command: the cloud resolved from the settings (a warning
//! when certificates are not checked), a Keystone session with Heat, waiting for a stack
//! with progress, and keeping the secret in the OS keyring (`login` / `logout`).

use crate::openstack::config::{self, AuthMethod, Resolved};
use crate::openstack::heat::Wait;
use crate::openstack::{ConnectOptions, HeatClient, OpenStackError, Secret, Session, secret_store};
use crate::printer::Printer;
use crate::settings::WaitSettings;
use anyhow::Context as _;
use std::sync::Mutex;
use std::time::Duration;

/// Heat settles a small stack in about a second; poll often, the calls are cheap.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Resolves the cloud; `keyring` says whether a missing secret is looked up there.
pub fn resolve(
    options: &ConnectOptions,
    printer: &Printer,
    keyring: bool,
) -> Result<Resolved, OpenStackError> {
    let resolved = config::resolve(options, &|k| std::env::var(k).ok(), keyring)?;
    if resolved.cloud.insecure {
        printer.warn("TLS certificates are not verified (`--insecure`): anyone on the path can read the credentials");
    }
    Ok(resolved)
}

/// Authenticates and finds Heat. Call inside `rt::block_on`.
pub async fn connect(
    options: &ConnectOptions,
    printer: &Printer,
) -> Result<(Session, HeatClient, Resolved), OpenStackError> {
    let resolved = resolve(options, printer, true)?;
    let (session, heat) = crate::openstack::connect_heat(&resolved.cloud).await?;
    Ok((session, heat, resolved))
}

/// Runs `f` with a [`Wait`] that prints each new status (and the time so far) on stderr.
pub fn with_wait<T>(
    printer: &Printer,
    name: &str,
    settings: &WaitSettings,
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
        timeout: settings.timeout,
        progress: &progress,
    };
    f(&wait)
}

/// The secret `login` asks for: what it is called, and for which account.
pub struct LoginTarget {
    pub what: &'static str,
    pub account: String,
    resolved: Resolved,
}

/// Which secret `login` needs (none for token authentication: the token is the secret).
pub fn login_target(options: &ConnectOptions, printer: &Printer) -> anyhow::Result<LoginTarget> {
    let resolved = resolve(options, printer, false)
        .context("cannot tell which cloud and user to log in as")?;
    let what = match &resolved.cloud.auth {
        AuthMethod::Password { .. } => "password",
        AuthMethod::ApplicationCredential { .. } => "application credential secret",
        AuthMethod::Token(_) => {
            anyhow::bail!(
                "token authentication (OS_TOKEN) needs no login: the token is the credential"
            )
        }
    };
    Ok(LoginTarget {
        what,
        account: resolved.account.clone(),
        resolved,
    })
}

/// Checks `secret` against Keystone, then keeps it in the OS keyring.
pub fn login(target: LoginTarget, secret: Secret) -> anyhow::Result<()> {
    let mut resolved = target.resolved;
    match &mut resolved.cloud.auth {
        AuthMethod::Password { password, .. } => *password = secret.clone(),
        AuthMethod::ApplicationCredential { secret: s, .. } => *s = secret.clone(),
        AuthMethod::Token(_) => unreachable!("refused by login_target"),
    }
    // Check the secret before keeping it: a typo stored now would fail every later run.
    crate::rt::block_on(async {
        let http = crate::openstack::http::Http::new(&resolved.cloud)?;
        crate::openstack::keystone::authenticate(&http, &resolved.cloud).await
    })
    .context("the secret was not stored")?;
    secret_store::store(&resolved.account, &secret)?;
    Ok(())
}

/// Removes the account's secret from the OS keyring: the account, and whether there was one.
pub fn logout(options: &ConnectOptions, printer: &Printer) -> anyhow::Result<(String, bool)> {
    let resolved =
        resolve(options, printer, false).context("cannot tell which cloud and user to log out")?;
    if resolved.account.is_empty() {
        anyhow::bail!("token authentication keeps nothing in the keyring");
    }
    let removed = secret_store::remove(&resolved.account)?;
    Ok((resolved.account, removed))
}
