//! `kube-openstack render`.

use super::params::load;
use crate::cli::{RenderArgs, TreeArgs};
use crate::params::ParamSet;
use crate::printer::Printer;
use crate::render::{self, InputTree, RenderError, RenderedFile, Report, output};
use crate::settings::Project;
use crate::sources;
use crate::state::StateDir;
use anyhow::Context as _;
use std::sync::{Arc, Mutex};

/// The template tree, fetched first when the input is a URL or an archive.
pub(super) fn input_tree(
    project: &Project,
    printer: &Printer,
    args: &TreeArgs,
) -> anyhow::Result<sources::Tree> {
    let input = project.input(args);
    let tree = sources::resolve(
        &input,
        &project.template_cache(args),
        &sources::Limits::default(),
    )?;
    if let Some(warning) = &tree.warning {
        printer.warn(warning);
    }
    Ok(tree)
}

pub fn run(project: &Project, printer: &Printer, args: &RenderArgs) -> anyhow::Result<u8> {
    let params = load(project, printer, &args.tree.source)?;
    if args.stdout {
        let (files, report) = render_in_memory(project, printer, &args.tree, &params)?;
        let mut docs = Vec::new();
        for f in files.iter().filter(|f| !f.copied) {
            docs.extend(f.objects.iter().map(|o| o.text.trim_end().to_string()));
        }
        printer.data(&format!("{}\n", docs.join("\n---\n")));
        finish(printer, &report, "Rendered", "to stdout");
        return Ok(0);
    }
    let out_dir = project.output_dir(&args.output_dir);
    let source = input_tree(project, printer, &args.tree)?;
    let input = &source.root;
    let state_dir = project.state_dir(&args.tree.source);
    output::check_target(input, &out_dir, &state_dir, args.force)
        .with_context(|| format!("cannot render into `{}`", out_dir.display()))?;
    let tree = InputTree::scan(input, &source.display, source.origin)?;
    let staging = output::Staging::new(&out_dir, args.force)?;
    let report = render_checked(project, printer, &tree, &source, &params, &args.tree, |f| {
        staging.write(&f)
    })
    .with_context(|| format!("failed to render `{}`", source.display))?;
    commit(printer, staging)?;
    StateDir::new(project.state_dir(&args.tree.source))
        .remember_rendered_secrets(&params.secret_values())?;
    finish(
        printer,
        &report,
        "Rendered",
        &format!("into `{}`", out_dir.display()),
    );
    Ok(0)
}

/// Swaps a staged render in, and says what else happened to the output's surroundings:
/// leftovers of interrupted renders removed, files moved aside, an old tree left behind.
pub(super) fn commit(printer: &Printer, staging: output::Staging) -> anyhow::Result<()> {
    for path in staging.swept() {
        printer.warn(format!(
            "removed `{}`, left by an interrupted render",
            path.display()
        ));
    }
    let done = staging.commit()?;
    if let Some((dir, n)) = &done.kept {
        printer.warn(format!(
            "moved {n} file{} the previous render did not write (or that changed since) to `{}`",
            if *n == 1 { "" } else { "s" },
            dir.display()
        ));
    }
    if let Some((dir, e)) = &done.left {
        printer.warn(format!(
            "cannot remove the previous render from `{}` ({e}): it holds the old secrets; remove it by hand",
            dir.display()
        ));
    }
    Ok(())
}

/// Renders the tree into memory (for `--stdout` and `diff`), sorted by path.
pub(super) fn render_in_memory(
    project: &Project,
    printer: &Printer,
    args: &TreeArgs,
    params: &ParamSet,
) -> anyhow::Result<(Vec<RenderedFile>, Report)> {
    let source = input_tree(project, printer, args)?;
    let tree = InputTree::scan(&source.root, &source.display, source.origin)?;
    let files = Mutex::new(Vec::new());
    let report = render_checked(project, printer, &tree, &source, params, args, |f| {
        files.lock().expect("no panics while held").push(f);
        Ok(())
    })
    .with_context(|| format!("failed to render `{}`", source.display))?;
    let mut files = files.into_inner().expect("no panics while held");
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, report))
}

fn render_checked<F>(
    project: &Project,
    printer: &Printer,
    tree: &InputTree,
    source: &sources::Tree,
    params: &ParamSet,
    args: &TreeArgs,
    sink: F,
) -> anyhow::Result<Report>
where
    F: Fn(RenderedFile) -> std::io::Result<()> + Sync,
{
    let includes = Arc::new(render::include::Includes::new(
        source.root.clone(),
        source.base_url.clone(),
        source.origin,
        sources::Limits::default(),
    ));
    let options = render::Options {
        legacy_percent: project.legacy_percent(args),
        includes: Some(includes.clone()),
    };
    let pin = if args.pin_images {
        Some(super::images::pinning(project, &args.source)?)
    } else {
        None
    };
    let unpinned = Mutex::new(Vec::new());
    let report = render::render_tree(tree, &params.to_context(), &options, |f| match &pin {
        Some(lock) => sink(super::images::pin_file(lock, f, &unpinned)),
        None => sink(f),
    })?;
    super::images::check_pinned(unpinned.into_inner().expect("no panics while held"))?;
    for w in report.warnings.iter().chain(&includes.warnings()) {
        printer.warn(w);
    }
    if !report.unused.is_empty() {
        if args.strict {
            return Err(RenderError::Unused(report.unused.clone()).into());
        }
        printer.warn(format!(
            "parameters no template uses: {}",
            report.unused.join(", ")
        ));
    }
    Ok(report)
}

fn finish(printer: &Printer, report: &Report, verb: &str, target: &str) {
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
        verb,
        format!(
            "{} templates ({} objects{copied}) {target}",
            report.templates - report.empty.len(),
            report.objects
        ),
    );
}
