//! `kube-openstack teardown`: delete the deployment's objects in reverse kind order and
//! wait until they are gone. Asks first unless `--yes`.

use crate::cli::TeardownArgs;
use crate::printer::Printer;
use crate::settings::{ClusterSettings, Project};
use crate::workflow::teardown::teardown;

pub fn run(project: &Project, printer: &Printer, args: &TeardownArgs) -> anyhow::Result<u8> {
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let namespace = &cluster.namespace;
    let confirm = |count: usize| -> anyhow::Result<bool> {
        if args.yes {
            return Ok(true);
        }
        printer.confirm(&format!(
            "delete these {count} objects from namespace `{namespace}`?"
        ))
    };
    teardown(&cluster, printer, args.dry_run, args.timeout, &confirm)?;
    Ok(0)
}
