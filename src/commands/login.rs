//! `kube-openstack login` / `logout`: keep the OpenStack password (or
//! application-credential secret) in the OS keyring, so neither an openrc with the
//! password nor OS_PASSWORD is needed afterwards. The secret is read from the terminal
//! (echo off) or, with `--password-stdin`, from one line of stdin — never from argv.

use crate::cli::{LoginArgs, LogoutArgs};
use crate::openstack::Secret;
use crate::printer::Printer;
use crate::settings::{self, Project};
use crate::workflow::openstack;
use anyhow::{Context as _, bail};
use std::io::{BufRead, IsTerminal};

pub fn login(project: &Project, printer: &Printer, args: &LoginArgs) -> anyhow::Result<u8> {
    let options = settings::openstack(project, &args.openstack);
    let target = openstack::login_target(&options, printer)?;
    let (what, account) = (target.what, target.account.clone());
    let secret = read_secret(args.password_stdin, what, &account)?;
    openstack::login(target, secret)?;
    printer.status(
        "Stored",
        format!("the {what} for `{account}` in the OS keyring"),
    );
    Ok(0)
}

pub fn logout(project: &Project, printer: &Printer, args: &LogoutArgs) -> anyhow::Result<u8> {
    let options = settings::openstack(project, &args.openstack);
    let (account, removed) = openstack::logout(&options, printer)?;
    if removed {
        printer.status(
            "Removed",
            format!("the secret for `{account}` from the OS keyring"),
        );
    } else {
        printer.warn(format!("no secret stored for `{account}`"));
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
