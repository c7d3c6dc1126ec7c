//! `kube-openstack diff`: exit 0 when nothing would change, 1 when something would.

use super::params::{load, masker_with};
use super::render::render_in_memory;
use crate::cli::{DiffArgs, DiffFormat};
use crate::diff::{self, Change, Masker};
use crate::errors::EXIT_DIFFERENCES;
use crate::params::store::StateDir;
use crate::printer::Printer;
use crate::settings::Project;
use anyhow::Context as _;

pub fn run(project: &Project, printer: &Printer, args: &DiffArgs) -> anyhow::Result<u8> {
    let params = load(project, printer, &args.tree.source)?;
    let (files, _) = render_in_memory(project, printer, &args.tree, &params)?;
    let against = args.against.clone().unwrap_or_else(|| project.output_dir(&None));
    let old = diff::read_dir_tree(&against).with_context(|| format!("cannot read `{}`", against.display()))?;
    let masker = if args.show_secrets {
        Masker::none()
    } else {
        let mut secrets = params.secret_values();
        secrets.extend(diff::secrets_in(&files, &old));
        secrets.extend(StateDir::new(project.state_dir(&args.tree.source)).rendered_secrets()?);
        masker_with(project, &args.tree.source, secrets)?
    };
    let result = diff::compare(&files, &old, &masker);
    match args.output {
        DiffFormat::Json => printer.data(&format!("{}\n", serde_json::to_string_pretty(&result).expect("serializable"))),
        DiffFormat::Text => {
            for f in &result.files {
                for o in &f.objects {
                    let sign = match o.change {
                        Change::Added => "+",
                        Change::Removed => "-",
                        Change::Changed => "~",
                    };
                    printer.data(&format!("{sign} {} ({})\n", o.object, f.path.display()));
                }
                printer.diff(&f.diff);
            }
        }
    }
    let (added, changed, removed) = result.object_counts();
    if result.is_empty() {
        printer.status("No changes", format!("against `{}`", against.display()));
        return Ok(0);
    }
    printer.status(
        "Differences",
        format!("{} files: {added} objects added, {changed} changed, {removed} removed", result.files.len()),
    );
    Ok(EXIT_DIFFERENCES)
}
