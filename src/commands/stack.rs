//! `kube-openstack stack create|show|delete`: the Heat stack made from the project's
//! Heat template (`heat/heat-setup.yaml`), named by `--stack` or `stack:` in the config.

use crate::cli::StackCommand;
use crate::printer::Printer;
use crate::settings::{ParamsSettings, Project};
use crate::workflow::stack;

pub fn run(project: &Project, printer: &Printer, command: StackCommand) -> anyhow::Result<u8> {
    match command {
        StackCommand::Create { source, wait } => stack::create(
            &ParamsSettings::new(project, &source).waiting(&wait),
            printer,
        )?,
        StackCommand::Show {
            source,
            show_secrets,
            output,
        } => {
            let settings = ParamsSettings::new(project, &source);
            let view = stack::show(&settings, printer, show_secrets)?;
            if !super::structured(printer, output, &view)? {
                printer.data(&view.text());
            }
        }
        StackCommand::Delete { source, wait } => stack::delete(
            &ParamsSettings::new(project, &source).waiting(&wait),
            printer,
        )?,
    }
    Ok(0)
}
