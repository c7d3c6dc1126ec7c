//! `kube-openstack login` / `logout`: keep the OpenStack password (or
//! application-credential secret) in the OS keyring, so neither an openrc with the
//! password nor OS_PASSWORD is needed afterwards. The secret is read from the terminal
//! (echo off) or, with `--password-stdin`, from one line of stdin — never from argv.

use super::cloud;
use crate::cli::{LoginArgs, LogoutArgs};
use crate::openstack::config::AuthMethod;
use crate::openstack::{Secret, secret_store};
use crate::printer::Printer;
use crate::settings::Project;
use anyhow::{Context as _, bail};
use std::io::{BufRead, IsTerminal};

pub fn login(project: &Project, printer: &Printer, args: &LoginArgs) -> anyhow::Result<u8> {
    let mut resolved = cloud::resolve(project, printer, &args.openstack, false)
        .context("cannot tell which cloud and user to log in as")?;
    let what = match &resolved.cloud.auth {
        AuthMethod::Password { .. } => "password",
        AuthMethod::ApplicationCredential { .. } => "application credential secret",
        AuthMethod::Token(_) => {
            bail!("token authentication (OS_TOKEN) needs no login: the token is the credential")
        }
    };
    let secret = read_secret(args.password_stdin, what, &resolved.account)?;
    match &mut resolved.cloud.auth {
        AuthMethod::Password { password, .. } => *password = secret.clone(),
        AuthMethod::ApplicationCredential { secret: s, .. } => *s = secret.clone(),
        AuthMethod::Token(_) => unreachable!("refused above"),
    }
    // Check the secret before keeping it: a typo stored now would fail every later run.
    crate::rt::block_on(async {
        let http = crate::openstack::http::Http::new(&resolved.cloud)?;
        crate::openstack::keystone::authenticate(&http, &resolved.cloud).await
    })
    .context("the secret was not stored")?;
    secret_store::store(&resolved.account, &secret)?;
    printer.status(
        "Stored",
        format!("the {what} for `{}` in the OS keyring", resolved.account),
    );
    Ok(0)
}

pub fn logout(project: &Project, printer: &Printer, args: &LogoutArgs) -> anyhow::Result<u8> {
    let resolved = cloud::resolve(project, printer, &args.openstack, false)
        .context("cannot tell which cloud and user to log out")?;
    if resolved.account.is_empty() {
        bail!("token authentication keeps nothing in the keyring");
    }
    if secret_store::remove(&resolved.account)? {
        printer.status(
            "Removed",
            format!("the secret for `{}` from the OS keyring", resolved.account),
        );
    } else {
        printer.warn(format!("no secret stored for `{}`", resolved.account));
    }
    Ok(0)
}

fn read_secret(from_stdin: bool, what: &str, account: &str) -> anyhow::Result<Secret> {
    let text = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the secret from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("OpenStack {what} for {account}: "))
            .context("cannot read the secret from the terminal")?
    } else {
        bail!("no terminal to ask for the {what}: pipe it with `--password-stdin`");
    };
    if text.is_empty() {
        bail!("the {what} is empty");
    }
    Ok(Secret::new(text))
}
