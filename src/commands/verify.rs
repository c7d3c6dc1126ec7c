//! `kube-openstack verify`: the deployed cloud checks itself, from a one-shot pod in the
//! cluster; exit 0 only when every check passed.

use crate::cli::{Format as Output, VerifyArgs};
use crate::printer::Printer;
use crate::settings::{ClusterSettings, Project};
use crate::workflow::verify::{Format, verify};

pub fn run(project: &Project, printer: &Printer, args: &VerifyArgs) -> anyhow::Result<u8> {
    let cluster = ClusterSettings::new(project, &args.cluster, project.state(None));
    let format = match args.output {
        Output::Table => Format::Text,
        Output::Json => Format::Json,
        Output::Yaml => Format::Yaml,
    };
    verify(&cluster, printer, format, args.timeout)?;
    Ok(0)
}
