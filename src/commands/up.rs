//! `kube-openstack up`: everything from parameters to a running deployment, resumable.

use crate::cli::UpArgs;
use crate::printer::Printer;
use crate::settings::{Project, UpSettings};
use crate::workflow::up;

pub fn run(project: &Project, printer: &Printer, args: &UpArgs) -> anyhow::Result<u8> {
    up::run(&UpSettings::new(project, args), printer)?;
    Ok(0)
}
