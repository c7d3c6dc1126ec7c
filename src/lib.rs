//! kube-openstack: deploy OpenStack onto Kubernetes.
//!
//! Dependencies point one way: `commands` -> `workflow` -> the stages (`params`,
//! `render`, `diff`, `images`, `deploy`, ...) -> the foundations (`state`, `secrets`,
//! `net`, `report`, `rt`). See ARCHITECTURE.md.

// Every byte of output goes through the printer (tests may print what helps debug them).
#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod cli;
pub mod commands;
pub mod deploy;
pub mod diff;
pub mod errors;
pub mod files;
pub mod images;
pub mod net;
pub mod openstack;
pub mod params;
pub mod printer;
pub mod redact;
pub mod render;
pub mod report;
pub mod rt;
pub mod scratch;
pub mod secrets;
pub mod settings;
pub mod sources;
pub mod state;
pub mod up;
pub mod userdata;
pub mod verify;
pub mod watch;
pub mod workflow;
pub mod yaml;

use report::{HintLookup, hint_of};
use std::process::ExitCode;

/// Every error type that carries a hint ([`report::Hint`]): the error printer asks each
/// cause of a failure whether it is one of these.
const HINTED: &[HintLookup] = &[
    hint_of::<deploy::DeployError>,
    hint_of::<deploy::Failure>,
    hint_of::<deploy::client::ClientError>,
    hint_of::<deploy::live_diff::LiveDiffError>,
    hint_of::<deploy::manifest::ManifestError>,
    hint_of::<deploy::plan::PlanError>,
    hint_of::<images::ImagesFailed>,
    hint_of::<images::registry::RegistryError>,
    hint_of::<openstack::OpenStackError>,
    hint_of::<params::ParamsError>,
    hint_of::<params::local::LocalError>,
    hint_of::<render::RenderError>,
    hint_of::<render::output::OutputError>,
    hint_of::<settings::SettingsError>,
    hint_of::<sources::SourceError>,
    hint_of::<up::StepFailed>,
    hint_of::<userdata::UserdataError>,
    hint_of::<verify::VerifyError>,
];

/// Runs one command; errors are printed here and become exit code 2.
pub fn run(cli: cli::Cli) -> ExitCode {
    let printer = printer::Printer::new(cli.global.quiet, cli.global.color.into());
    net::observe(Box::new(printer.net_view(cli.global.debug)));
    let result = commands::dispatch(cli.global.config.as_deref(), &printer, cli.command);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            errors::report(&printer, &err, HINTED);
            ExitCode::from(errors::EXIT_ERROR)
        }
    }
}
