//! kube-openstack: deploy OpenStack onto Kubernetes.
//!
//! The pipeline's stages are modules (`params`, `render`, `diff`); `commands` turn
//! command-line arguments into calls to them. See ARCHITECTURE.md.

pub mod cli;
pub mod commands;
pub mod deploy;
pub mod diff;
pub mod errors;
pub mod images;
pub mod openstack;
pub mod params;
pub mod printer;
pub mod render;
pub mod report;
pub mod rt;
pub mod secrets;
pub mod settings;
pub mod sources;
pub mod state;
pub mod up;
pub mod userdata;
pub mod watch;

use std::process::ExitCode;

/// Runs one command; errors are printed here and become exit code 2.
pub fn run(cli: cli::Cli) -> ExitCode {
    let printer = printer::Printer::new(cli.global.quiet, cli.global.color.into());
    let result = settings::Project::load(cli.global.config.as_deref())
        .map_err(anyhow::Error::from)
        .and_then(|project| commands::dispatch(&project, &printer, cli.command));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            errors::report(&printer, &err);
            ExitCode::from(errors::EXIT_ERROR)
        }
    }
}
