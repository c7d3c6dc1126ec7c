//! `kube-openstack render`: the templates into the output directory (atomically), or to
//! stdout.

use crate::cli::RenderArgs;
use crate::printer::Printer;
use crate::render::Report;
use crate::settings::{Project, TreeSettings};
use crate::workflow;

pub fn run(project: &Project, printer: &Printer, args: &RenderArgs) -> anyhow::Result<u8> {
    let tree = TreeSettings::new(project, &args.tree);
    let out_dir = project.output_dir(&args.output_dir);
    if !args.stdout {
        workflow::render::check_output_apart(&tree, &out_dir)?;
    }
    let params = workflow::params::load(&tree.params, printer)?;
    if args.stdout {
        let (files, report) = workflow::render::in_memory(&tree, printer, &params)?;
        let mut docs = Vec::new();
        for f in files.iter().filter(|f| !f.copied) {
            docs.extend(f.objects.iter().map(|o| o.text.trim_end().to_string()));
        }
        printer.data(&format!("{}\n", docs.join("\n---\n")));
        finish(printer, &report, "to stdout");
        return Ok(0);
    }
    let report = workflow::render::to_dir(&tree, printer, &params, &out_dir, args.force)?;
    finish(printer, &report, &format!("into `{}`", out_dir.display()));
    Ok(0)
}

fn finish(printer: &Printer, report: &Report, target: &str) {
    for empty in &report.empty {
        printer.status(
            "Skipped",
            format!("`{}`: rendered to nothing", empty.display()),
        );
    }
    let copied = if report.copied > 0 {
        format!(", {} files copied", report.copied)
    } else {
        String::new()
    };
    printer.status(
        "Rendered",
        format!(
            "{} templates ({} objects{copied}) {target}",
            report.templates - report.empty.len(),
            report.objects
        ),
    );
}
