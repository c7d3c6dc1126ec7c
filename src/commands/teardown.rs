//! `kube-openstack teardown`: delete the deployment's objects in reverse kind order and
//! wait until they are gone. Asks first unless `--yes`.

use crate::cli::TeardownArgs;
use crate::printer::Printer;
use crate::settings::{ClusterSettings, DryRun, Project};
use crate::workflow::teardown::{in_the_tree, teardown};

pub fn run(project: &Project, printer: &Printer, args: &TeardownArgs) -> anyhow::Result<u8> {
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let namespace = &cluster.namespace;
    let dry_run = DryRun::from(args.dry_run);
    if dry_run == DryRun::Client {
        let objects = in_the_tree(&cluster)?;
        for id in &objects {
            printer.data(&format!("{id}\n"));
        }
        printer.status(
            "Teardown",
            format!(
                "would delete those of these {} objects that namespace `{namespace}` holds, and any other of the deployment (client dry run: the cluster was not asked)",
                objects.len()
            ),
        );
        return Ok(0);
    }
    let confirm = |count: usize| -> anyhow::Result<bool> {
        if args.yes {
            return Ok(true);
        }
        printer.confirm(&format!(
            "delete these {count} objects from namespace `{namespace}`?"
        ))
    };
    teardown(&cluster, printer, dry_run.is_on(), args.timeout, &confirm)?;
    Ok(0)
}
