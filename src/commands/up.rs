//! `kube-openstack up`: everything from parameters to a running deployment, resumable.

use crate::cli::UpArgs;
use crate::printer::Printer;
use crate::settings::{Project, UpSettings};
use crate::workflow::up;

pub fn run(project: &Project, printer: &Printer, args: &UpArgs) -> anyhow::Result<u8> {
    let show = |rows: &[up::Row]| match super::structured(printer, args.output, &rows) {
        Ok(true) => {}
        _ => up::table(printer, rows),
    };
    up::run(&UpSettings::new(project, args), printer, &show)?;
    Ok(0)
}
