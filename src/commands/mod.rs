//! One file per subcommand: its arguments -> settings (resolved once) -> a workflow call
//! -> the printer. No command imports another: what two share is in `workflow`.

mod about;
mod clean_jobs;
mod db_sync;
mod deploy;
mod diff;
mod images;
mod login;
mod params;
mod render;
mod stack;
mod status;
mod teardown;
mod up;
mod userdata;
mod verify;
mod watch;

use crate::cli::{Command, Format};
use crate::printer::Printer;
use crate::settings::Project;
use std::path::Path;

/// Runs a command; `Ok` carries the exit code (1 when `diff` finds differences). Most
/// commands run in a project (`kube-openstack.yaml` here or in a parent, or
/// `--config`); `watch`, `userdata`, `login` and `logout` also run without one, on the
/// defaults; `completion`, `man` and `version` read nothing.
pub fn dispatch(config: Option<&Path>, printer: &Printer, command: Command) -> anyhow::Result<u8> {
    let project = || Project::find(config);
    let anywhere = || Project::find_or_defaults(config);
    match command {
        Command::Up(args) => up::run(&project()?, printer, &args),
        Command::Params(c) => params::run(&project()?, printer, c),
        Command::Render(args) => render::run(&project()?, printer, &args),
        Command::Diff(args) => diff::run(&project()?, printer, &args),
        Command::Images(args) => images::run(&project()?, printer, args),
        Command::Deploy(args) => deploy::run(&project()?, printer, &args),
        Command::DbSync(args) => db_sync::run(&project()?, printer, &args),
        Command::Verify(args) => verify::run(&project()?, printer, &args),
        Command::Status(args) => status::run(&project()?, printer, &args),
        Command::CleanJobs(args) => clean_jobs::run(&project()?, printer, &args),
        Command::Teardown(args) => teardown::run(&project()?, printer, &args),
        Command::Stack(c) => stack::run(&project()?, printer, c),
        Command::Login(args) => login::login(&anywhere()?, printer, &args),
        Command::Logout(args) => login::logout(&anywhere()?, printer, &args),
        Command::Userdata(args) => userdata::run(&anywhere()?, printer, &args),
        Command::Watch(args) => watch::run(&anywhere()?, printer, &args),
        Command::Completion(args) => about::completion(printer, &args),
        Command::Man(args) => about::man(printer, &args),
        Command::Version(args) => about::version(printer, &args),
    }
}

/// `-o json|yaml`: `value` on stdout, and `true`. `-o table`: `false`, and the command
/// prints its table (or lines) itself.
fn structured<T: serde::Serialize>(
    printer: &Printer,
    format: Format,
    value: &T,
) -> anyhow::Result<bool> {
    match format {
        Format::Table => return Ok(false),
        Format::Json => printer.data(&format!("{}\n", serde_json::to_string_pretty(value)?)),
        Format::Yaml => printer.data(&serde_yaml::to_string(value)?),
    }
    Ok(true)
}
