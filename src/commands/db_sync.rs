//! `kube-openstack db-sync`: rerun the one-shot database jobs (`SERVICE-db-sync` pods)
//! and show their logs.

use crate::cli::DbSyncArgs;
use crate::printer::Printer;
use crate::settings::{ClusterSettings, Project};
use crate::workflow::db_sync::{Selected, db_sync};

pub fn run(project: &Project, printer: &Printer, args: &DbSyncArgs) -> anyhow::Result<u8> {
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let selected = match args.all {
        true => Selected::All,
        false => Selected::Services(&args.services),
    };
    db_sync(&cluster, printer, selected, args.parallel, args.timeout)?;
    Ok(0)
}
