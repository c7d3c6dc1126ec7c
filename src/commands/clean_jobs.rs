//! `kube-openstack clean-jobs`: delete finished one-shot pods of the deployment (the
//! optional cleanup step of the 2014 scripts). Failed ones are kept for their logs unless
//! `--all`.

use crate::cli::CleanJobsArgs;
use crate::printer::Printer;
use crate::settings::{ClusterSettings, DryRun, Project};
use crate::workflow::teardown::clean_jobs;

/// What `-o json|yaml` prints.
#[derive(serde::Serialize)]
struct Result<'a> {
    namespace: &'a str,
    dry_run: bool,
    deleted: Vec<String>,
}

pub fn run(project: &Project, printer: &Printer, args: &CleanJobsArgs) -> anyhow::Result<u8> {
    let dry_run = match DryRun::from(args.dry_run) {
        DryRun::Client => anyhow::bail!(
            "`clean-jobs --dry-run=client`: only the cluster knows which pods finished; `--dry-run` (server) lists them and deletes nothing"
        ),
        other => other.is_on(),
    };
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let deleted = clean_jobs(&cluster, printer, args.all, dry_run)?;
    let result = Result {
        namespace: &cluster.namespace,
        dry_run,
        deleted,
    };
    if !super::structured(printer, args.output, &result)? {
        for pod in &result.deleted {
            printer.data(&format!("{pod}\n"));
        }
    }
    Ok(0)
}
