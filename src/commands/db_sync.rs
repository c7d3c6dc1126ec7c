//! `kube-openstack db-sync`: rerun the one-shot database jobs (`SERVICE-db-sync` pods)
//! and show their logs.

use crate::cli::DbSyncArgs;
use crate::cli::Format;
use crate::printer::Printer;
use crate::settings::{ClusterSettings, Project};
use crate::workflow::db_sync::{PodRow, Selected, Shown, db_sync, print_table};

pub fn run(project: &Project, printer: &Printer, args: &DbSyncArgs) -> anyhow::Result<u8> {
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let selected = match args.all {
        true => Selected::All,
        false => Selected::Services(&args.services),
    };
    // The logs are data, unless the data is `-o json|yaml`: then they go with the status.
    let logs = |text: &str| match args.output {
        Format::Table => printer.data(text),
        _ => printer.note(text),
    };
    let rows = |rows: &[PodRow]| match super::structured(printer, args.output, &rows) {
        Ok(true) => {}
        // The table goes with the status (stderr); so does a row that would not serialise.
        _ => print_table(printer, rows),
    };
    let shown = Shown {
        logs: &logs,
        rows: &rows,
    };
    db_sync(
        &cluster,
        printer,
        selected,
        args.parallel,
        args.timeout,
        &shown,
    )?;
    Ok(0)
}
