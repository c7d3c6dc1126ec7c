//! Rendering the template tree with the parameters: fetched first when it is a URL,
//! rendered into memory (for `--stdout`, `diff`, `up`) or written atomically into the
//! output directory, with the image digests pinned when asked.

use crate::images::lock::DigestLock;
use crate::images::pin;
use crate::params::ParamSet;
use crate::printer::Printer;
use crate::render::{self, InputTree, RenderError, RenderedFile, Report, output};
use crate::settings::TreeSettings;
use crate::sources;
use crate::state::StateDir;
use anyhow::Context as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The template tree, fetched first when the input is a URL or an archive.
pub fn source_tree(tree: &TreeSettings, printer: &Printer) -> anyhow::Result<sources::Tree> {
    let source = sources::resolve(&tree.input, &tree.cache, &sources::Limits::default())?;
    if let Some(warning) = &source.warning {
        printer.warn(warning);
    }
    Ok(source)
}

/// Refuses an output directory overlapping the state directory before anything is read:
/// loading the parameters writes the state directory (generated values, its lock), which
/// must not land in a tree the render is about to replace.
pub fn check_output_apart(tree: &TreeSettings, out_dir: &Path) -> anyhow::Result<()> {
    let context = || format!("cannot render into `{}`", out_dir.display());
    // A local input is checked now too (a URL's tree is in the cache, checked later).
    let local = Path::new(&tree.input);
    if !tree.input.contains("://") && local.is_dir() {
        output::check_input_apart(local, out_dir).with_context(context)?;
    }
    output::check_state_apart(out_dir, tree.params.state.path()).with_context(context)
}

/// Renders the tree into `out_dir` (atomically: all or nothing) and remembers the
/// secrets it wrote, so later diffs mask them.
pub fn to_dir(
    tree: &TreeSettings,
    printer: &Printer,
    params: &ParamSet,
    out_dir: &Path,
    force: bool,
) -> anyhow::Result<Report> {
    // Read while the tree is listed.
    let proofs = Arc::new(render::proofs::Proofs::load(&tree.params.state));
    let source = source_tree(tree, printer)?;
    output::check_target(&source.root, out_dir, tree.params.state.path(), force)
        .with_context(|| format!("cannot render into `{}`", out_dir.display()))?;
    let listed = Listed::scan(&source, proofs)?;
    let staging = output::Staging::new(out_dir, force)?;
    // Only the files' bytes are written: their objects are counted, not kept.
    let report = render_checked(tree, printer, &listed, params, true, |f| staging.write(&f))
        .with_context(|| format!("failed to render `{}`", source.display))?;
    commit(printer, staging)?;
    tree.params
        .state
        .remember_rendered_secrets(&params.secret_values())?;
    Ok(report)
}

/// Renders the tree into memory, sorted by path.
pub fn in_memory(
    tree: &TreeSettings,
    printer: &Printer,
    params: &ParamSet,
) -> anyhow::Result<(Vec<RenderedFile>, Report)> {
    let proofs = Arc::new(render::proofs::Proofs::load(&tree.params.state));
    let source = source_tree(tree, printer)?;
    let listed = Listed::scan(&source, proofs)?;
    let files = Mutex::new(Vec::new());
    let keep = |f| {
        files.lock().expect("no panics while held").push(f);
        Ok(())
    };
    let report = render_checked(tree, printer, &listed, params, false, keep)
        .with_context(|| format!("failed to render `{}`", source.display))?;
    let mut files = files.into_inner().expect("no panics while held");
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, report))
}

/// Writes files rendered earlier (by [`in_memory`]) into `out_dir`, atomically, as
/// [`to_dir`] would have.
pub fn write(
    tree: &TreeSettings,
    printer: &Printer,
    files: &[RenderedFile],
    secrets: &[String],
    out_dir: &Path,
) -> anyhow::Result<()> {
    let source = source_tree(tree, printer)?;
    output::check_target(&source.root, out_dir, tree.params.state.path(), false)
        .with_context(|| format!("cannot render into `{}`", out_dir.display()))?;
    let staging = output::Staging::new(out_dir, false)?;
    for f in files {
        staging
            .write(f)
            .with_context(|| format!("cannot write `{}`", f.path.display()))?;
    }
    commit(printer, staging)?;
    tree.params.state.remember_rendered_secrets(secrets)?;
    Ok(())
}

/// Swaps a staged render in, and says what else happened to the output's surroundings:
/// leftovers of interrupted renders removed, files moved aside, an old tree left behind.
fn commit(printer: &Printer, staging: output::Staging) -> anyhow::Result<()> {
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

/// A template tree listed, with the proofs kept for its templates.
struct Listed<'a> {
    source: &'a sources::Tree,
    scanned: InputTree,
    proofs: Arc<render::proofs::Proofs>,
}

impl<'a> Listed<'a> {
    fn scan(
        source: &'a sources::Tree,
        proofs: Arc<render::proofs::Proofs>,
    ) -> anyhow::Result<Self> {
        let scanned = InputTree::scan(&source.root, &source.display, source.origin)?;
        Ok(Listed {
            source,
            scanned,
            proofs,
        })
    }
}

/// Renders a listed tree; `only_count_objects`: see [`render::Options`].
fn render_checked<F>(
    tree: &TreeSettings,
    printer: &Printer,
    listed: &Listed,
    params: &ParamSet,
    only_count_objects: bool,
    sink: F,
) -> anyhow::Result<Report>
where
    F: Fn(RenderedFile) -> std::io::Result<()> + Sync,
{
    let (source, scanned, proofs) = (listed.source, &listed.scanned, &listed.proofs);
    let includes = Arc::new(render::include::Includes::new(
        source.root.clone(),
        source.base_url.clone(),
        source.origin,
        sources::Limits::default(),
    ));
    let options = render::Options {
        legacy_percent: tree.legacy_percent,
        includes: Some(includes.clone()),
        proofs: Some(proofs.clone()),
        only_count_objects,
    };
    let pin = match tree.pin_images {
        true => Some(pinning(&tree.params.state)?),
        false => None,
    };
    let unpinned = Mutex::new(Vec::new());
    let busy = printer.busy("Rendering", scanned.file_count());
    let report = render::render_tree(scanned, &params.to_context(), &options, |f| {
        busy.tick();
        match &pin {
            Some(lock) => sink(pin_file(lock, f, &unpinned)),
            None => sink(f),
        }
    })?;
    drop(busy);
    if let Err(e) = proofs.save(&tree.params.state) {
        // Only the next render's speed depends on it.
        printer.warn(format!("cannot keep the templates' proofs: {e}"));
    }
    check_pinned(unpinned.into_inner().expect("no panics while held"))?;
    for w in report.warnings.iter().chain(&includes.warnings()) {
        printer.warn(w);
    }
    if !report.unused.is_empty() {
        if tree.strict {
            return Err(RenderError::Unused(report.unused.clone()).into());
        }
        printer.warn(format!(
            "parameters no template uses: {}",
            report.unused.join(", ")
        ));
    }
    Ok(report)
}

/// The digest lock `render --pin-images` uses; an error when nothing was pushed yet.
fn pinning(state: &StateDir) -> anyhow::Result<DigestLock> {
    let lock = DigestLock::load(state.path())?;
    if lock.images.is_empty() {
        anyhow::bail!(
            "no image digests recorded in `{}`; run `kube-openstack images` first",
            DigestLock::path(state.path()).display()
        );
    }
    Ok(lock)
}

/// A rendered file with its `image:` references pinned; references of the registry that
/// have no digest are added to `unpinned`.
fn pin_file(
    lock: &DigestLock,
    mut file: RenderedFile,
    unpinned: &Mutex<Vec<String>>,
) -> RenderedFile {
    if file.copied {
        return file;
    }
    let (text, missing) = pin::pin_text(&String::from_utf8_lossy(&file.content), lock);
    file.content = text.into_bytes();
    for object in &mut file.objects {
        object.text = pin::pin_text(&object.text, lock).0;
    }
    let mut all = unpinned.lock().expect("no panics while held");
    for m in missing {
        if !all.contains(&m) {
            all.push(m);
        }
    }
    file
}

fn check_pinned(mut unpinned: Vec<String>) -> Result<(), pin::Unpinned> {
    unpinned.sort();
    if unpinned.is_empty() {
        Ok(())
    } else {
        Err(pin::Unpinned(unpinned))
    }
}
