//! `kube-openstack status`: every object of the deployment, whether it is ready, its age
//! and what it waits on. Exit 0 only when everything is ready, 1 otherwise.

use crate::cli::StatusArgs;
use crate::errors::EXIT_DIFFERENCES;
use crate::printer::{Printer, align};
use crate::settings::{ClusterSettings, Project};
use crate::workflow::status::status;

pub fn run(project: &Project, printer: &Printer, args: &StatusArgs) -> anyhow::Result<u8> {
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let status = status(&cluster)?;
    if !super::structured(printer, args.output, &status.rows)? {
        let mut table = String::from("OBJECT\tREADY\tAGE\tWAITING ON\n");
        for r in &status.rows {
            table.push_str(&format!(
                "{}\t{}\t{}\t{}\n",
                r.object, r.ready, r.age, r.detail
            ));
        }
        printer.data(&align(&table));
    }
    printer.status(
        "Status",
        format!(
            "{} of {} objects ready in namespace `{}`",
            status.ready(),
            status.objects,
            cluster.namespace
        ),
    );
    Ok(if status.all_ready() {
        0
    } else {
        EXIT_DIFFERENCES
    })
}
