//! `kube-openstack images [build|push|list]`.

use crate::cli::{Format, ImagesArgs, ImagesVerb};
use crate::images::schedule::Mode;
use crate::printer::Printer;
use crate::settings::{ImagesSettings, Project};
use crate::workflow::images::{self, Row};

pub fn run(project: &Project, printer: &Printer, args: ImagesArgs) -> anyhow::Result<u8> {
    let opts = &args.options;
    let state = project.state(opts.state_dir.as_deref());
    // Named as the templates name them: the config file's stack parameters.
    let settings = ImagesSettings::new(project, opts, &project.stack_parameters(), state);
    let (mode, names) = match args.verb {
        None => (Mode::BuildAndPush, args.names),
        Some(ImagesVerb::Build { names }) => (Mode::Build, names),
        Some(ImagesVerb::Push { names }) => (Mode::Push, names),
        Some(ImagesVerb::List { output }) => {
            print_list(printer, &images::list(&settings, printer)?, output)?;
            return Ok(0);
        }
    };
    images::publish(&settings, printer, mode, &names)?;
    Ok(0)
}

fn print_list(printer: &Printer, rows: &[Row], output: Format) -> anyhow::Result<()> {
    if super::structured(printer, output, &rows)? {
        return Ok(());
    }
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let mut text = format!(
        "{:<w$}  {:<14}  {:<71}  REFERENCE\n",
        "NAME", "STATUS", "DIGEST"
    );
    for r in rows {
        text.push_str(&format!(
            "{:<w$}  {:<14}  {:<71}  {}\n",
            r.name,
            r.status,
            r.digest.as_deref().unwrap_or("-"),
            r.reference
        ));
    }
    printer.data(&text);
    Ok(())
}
