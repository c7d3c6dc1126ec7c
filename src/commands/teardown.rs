//! `kube-openstack teardown`: delete the deployment's objects in reverse kind order and
//! wait until they are gone. Asks first unless `--yes`.

use crate::cli::{Format, TeardownArgs};
use crate::deploy::manifest::ObjectId;
use crate::printer::Printer;
use crate::settings::{ClusterSettings, DryRun, Project};
use crate::workflow::teardown::{in_the_tree, teardown};

/// What `-o json|yaml` prints.
#[derive(serde::Serialize)]
struct Result<'a> {
    namespace: &'a str,
    /// `server`, `client`, or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<&'static str>,
    deleted: Vec<String>,
}

pub fn run(project: &Project, printer: &Printer, args: &TeardownArgs) -> anyhow::Result<u8> {
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let namespace = &cluster.namespace;
    let dry_run = DryRun::from(args.dry_run);
    let table = args.output == Format::Table;
    let deleted = if dry_run == DryRun::Client {
        let objects: Vec<String> = in_the_tree(&cluster)?
            .iter()
            .map(ToString::to_string)
            .collect();
        if table {
            printer.data(&lines(&objects));
        }
        printer.status(
            "Teardown",
            format!(
                "would delete those of these {} objects that namespace `{namespace}` holds, and any other of the deployment (client dry run: the cluster was not asked)",
                objects.len()
            ),
        );
        objects
    } else {
        // The list is data in a table; with `-o json|yaml` it is shown only to ask.
        let confirm = |ids: &[ObjectId]| -> anyhow::Result<bool> {
            let ask = !args.yes && !dry_run.is_on();
            let listed: Vec<String> = ids.iter().map(ToString::to_string).collect();
            if table {
                printer.data(&lines(&listed));
            } else if ask {
                printer.note(&lines(&listed));
            }
            if !ask {
                return Ok(true);
            }
            let count = ids.len();
            printer.confirm(&format!(
                "delete these {count} objects from namespace `{namespace}`?"
            ))
        };
        teardown(&cluster, printer, dry_run.is_on(), args.timeout, &confirm)?
    };
    let dry_run = match dry_run {
        DryRun::Off => None,
        DryRun::Server => Some("server"),
        DryRun::Client => Some("client"),
    };
    let result = Result {
        namespace,
        dry_run,
        deleted,
    };
    super::structured(printer, args.output, &result)?;
    Ok(0)
}

fn lines(items: &[String]) -> String {
    items.iter().map(|i| format!("{i}\n")).collect()
}
