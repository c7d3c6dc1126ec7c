//! `kube-openstack diff`: exit 0 when nothing would change, 1 when something would.

use super::params::load;
use super::render::render_in_memory;
use crate::cli::{DiffArgs, DiffFormat};

use crate::diff::{self, Change};
use crate::errors::EXIT_DIFFERENCES;
use crate::printer::Printer;
use crate::secrets::Masker;
use crate::settings::Project;
use crate::state::StateDir;
use anyhow::Context as _;

pub fn run(project: &Project, printer: &Printer, args: &DiffArgs) -> anyhow::Result<u8> {
    let params = load(project, printer, &args.tree.source)?;
    let (files, _) = render_in_memory(project, printer, &args.tree, &params)?;
    if args.live {
        return live(project, printer, args, &params, &files);
    }
    let against = args
        .against
        .clone()
        .unwrap_or_else(|| project.output_dir(&None));
    let old = crate::render::output::read_tree(&against)
        .with_context(|| format!("cannot read `{}`", against.display()))?;
    let state = StateDir::new(project.state_dir(&args.tree.source));
    let masker = if args.show_secrets {
        Masker::none()
    } else {
        let mut secrets = params.secret_values();
        secrets.extend(diff::secrets_in(&files, &old));
        secrets.extend(state.rendered_secrets()?);
        Masker::build(&state, secrets, false)?
    };
    let result = diff::compare(&files, &old, &masker);
    print(printer, &result, args.output);
    let (added, changed, removed) = result.object_counts();
    if result.is_empty() {
        printer.status("No changes", format!("against `{}`", against.display()));
        return Ok(0);
    }
    printer.status(
        "Differences",
        format!(
            "{} files: {added} objects added, {changed} changed, {removed} removed",
            result.files.len()
        ),
    );
    Ok(EXIT_DIFFERENCES)
}

fn print(printer: &Printer, result: &diff::TreeDiff, output: DiffFormat) {
    match output {
        DiffFormat::Json => printer.data(&format!(
            "{}\n",
            serde_json::to_string_pretty(&result).expect("serializable")
        )),
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
}

/// `diff --live`: the rendered objects against the cluster, secrets masked.
fn live(
    project: &Project,
    printer: &Printer,
    args: &DiffArgs,
    params: &crate::params::ParamSet,
    files: &[crate::render::RenderedFile],
) -> anyhow::Result<u8> {
    use crate::deploy::manifest::{Manifest, parse_file};
    let mut manifests: Vec<Manifest> = Vec::new();
    for f in files.iter().filter(|f| !f.copied) {
        manifests.extend(parse_file(&f.path, &String::from_utf8_lossy(&f.content))?);
    }
    crate::deploy::manifest::attach_config_digests(&mut manifests);
    let state = StateDir::new(project.state_dir(&args.tree.source));
    let mut secrets = params.secret_values();
    secrets.extend(diff::secrets_in(files, &Default::default()));
    secrets.extend(state.rendered_secrets()?);
    // The live Secrets' values are masked too (an old password still in the cluster).
    let make_masker = |live_secrets: Vec<String>| {
        Masker::build(
            &state,
            secrets.iter().cloned().chain(live_secrets),
            args.show_secrets,
        )
    };
    let namespace = project.namespace(&args.cluster.namespace);
    let result = crate::rt::block_on(async {
        let ctx = super::deploy::connect(&args.cluster, namespace.clone()).await?;
        Ok::<_, anyhow::Error>(
            crate::deploy::live_diff::live_diff(&ctx, &manifests, &make_masker).await?,
        )
    })
    .with_context(|| format!("cannot compare with namespace `{namespace}`"))?;
    print(printer, &result, args.output);
    let (added, changed, removed) = result.object_counts();
    if result.is_empty() {
        printer.status("No changes", format!("against namespace `{namespace}`"));
        return Ok(0);
    }
    printer.status("Differences", format!("{added} objects to create, {changed} to change, {removed} not in the tree (`deploy --prune` deletes them)"));
    Ok(EXIT_DIFFERENCES)
}
