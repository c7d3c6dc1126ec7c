//! Render: parameters + the `kubernetes-in/` tree of Handlebars templates -> manifests.
//!
//! Rendering is a pure function of the input files and the parameters; writing the result
//! (atomically) is [`output`]'s job, and comparing it with what is on disk is `diff`'s.

mod compile;
mod engine;
mod escape;
pub mod helpers;
pub mod include;
mod legacy;
pub mod objects;
pub mod output;
pub mod prepass;
pub mod proof;
pub mod proofs;
mod rewrite;
mod shape;
#[cfg(test)]
mod stitched_tests;
mod tags;
pub mod written;

pub use objects::Object;

use crate::sources::is_template;
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A problem at a place in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// One-based; 0 when unknown.
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// A parameter the template uses is not defined.
    pub undefined: bool,
}

impl Diagnostic {
    pub fn at(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            undefined: false,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file, self.message),
            (l, 0) => write!(f, "{}:{l}: {}", self.file, self.message),
            (l, c) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{} problem{} in the templates", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Templates(Vec<Diagnostic>),
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("input directory `{}` does not exist", .0.display())]
    NoInput(PathBuf),
    #[error("unused parameters (with --strict): {}", .0.join(", "))]
    Unused(Vec<String>),
    #[error("`{link}` is a link leading outside the downloaded tree (to `{}`); a downloaded tree may only link inside itself", target.display())]
    LinkOutside { link: String, target: PathBuf },
    #[error(
        "`{path}` is a {kind}, not a file; a template tree holds only files and directories (reading it could wait or read forever)"
    )]
    NotAFile { path: String, kind: &'static str },
}

impl crate::report::Hint for RenderError {
    fn hint(&self) -> Option<String> {
        match self {
            RenderError::Templates(d) if d.iter().any(|d| d.undefined) => Some(
                "define missing parameters with `-p KEY=VALUE`, an overrides file (`--overrides FILE`), or an output of the Heat template; `kube-openstack params show` lists what is defined".into(),
            ),
            RenderError::Unused(_) => {
                Some("remove the parameters, use them in a template, or drop `--strict`".into())
            }
            _ => None,
        }
    }

    fn details(&self) -> Vec<String> {
        match self {
            RenderError::Templates(diagnostics) => {
                diagnostics.iter().map(ToString::to_string).collect()
            }
            _ => Vec::new(),
        }
    }
}

impl crate::report::Hint for output::OutputError {
    fn hint(&self) -> Option<String> {
        use output::OutputError::*;
        match self {
            NotARender(_) => Some(
                "pass `--force` to render there anyway (what it holds is moved aside, not deleted), or choose another `--output-dir`".into(),
            ),
            Strangers { .. } => Some(
                "move those files elsewhere, or pass `--force` to have them moved aside (`DIR.kept-*`) before the render replaces the directory".into(),
            ),
            StateOverlap { .. } => Some(
                "keep the state directory (`--state-dir`, `state_dir:` in the config) and the output directory apart".into(),
            ),
            InPlace(_) | InsideInput { .. } | ContainsInput { .. } => Some(
                "render into a directory beside the templates, e.g. `--output-dir kubernetes`"
                    .into(),
            ),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Treat templates as 2014 `%name%` templates.
    pub legacy_percent: bool,
    /// Where the `include` helper looks (no `include` helper without it).
    pub includes: Option<std::sync::Arc<include::Includes>>,
    /// Proofs of templates, so that renders they cover need no full parse of their output.
    pub proofs: Option<std::sync::Arc<proofs::Proofs>>,
}

/// A rendered output file.
#[derive(Debug, Clone)]
pub struct RenderedFile {
    /// Relative to the input (and output) root.
    pub path: PathBuf,
    pub content: Vec<u8>,
    /// Kubernetes objects in it (empty for copied non-template files).
    pub objects: Vec<Object>,
    /// Copied as it is rather than rendered.
    pub copied: bool,
}

/// What a render saw, besides the files themselves.
#[derive(Debug, Default)]
pub struct Report {
    pub templates: usize,
    pub copied: usize,
    /// Templates that rendered to nothing and so have no output file.
    pub empty: Vec<PathBuf>,
    pub objects: usize,
    pub unused: Vec<String>,
    pub warnings: Vec<String>,
}

/// The files of an input tree, sorted.
pub struct InputTree {
    root: PathBuf,
    display_root: String,
    templates: Vec<PathBuf>,
    copies: Vec<PathBuf>,
    partials: Vec<(String, PathBuf)>,
    /// Links leading outside a local tree, followed.
    warnings: Vec<String>,
}

const PARTIALS_DIR: &str = "_partials";

impl InputTree {
    /// Lists `root`; `display_root` is how paths are shown (e.g. `kubernetes-in`).
    /// Links are followed (directories too); where one really leads decides, by the
    /// tree's `origin`, whether a link out of the tree is refused or followed with a warning.
    pub fn scan(
        root: &Path,
        display_root: &str,
        origin: crate::sources::Origin,
    ) -> Result<InputTree, RenderError> {
        if !root.is_dir() {
            if let Ok(meta) = std::fs::metadata(root)
                && let Some(kind) = crate::files::special_kind(meta.file_type())
            {
                return Err(RenderError::NotAFile {
                    path: root.display().to_string(),
                    kind,
                });
            }
            return Err(RenderError::NoInput(root.to_path_buf()));
        }
        let mut tree = InputTree {
            root: root.to_path_buf(),
            display_root: display_root.trim_end_matches('/').to_string(),
            templates: Vec::new(),
            copies: Vec::new(),
            partials: Vec::new(),
            warnings: Vec::new(),
        };
        // Links are followed, directories too; hidden entries and `_` helpers (but for
        // partials) are not walked at all: `_` files are read only when included.
        let walker = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0 || relative(e.path(), root).is_some_and(|rel| !skipped_last(rel))
            });
        for entry in walker {
            // A loop through an entry the scan skips anyway (`_here -> .`) is no problem.
            if let Err(e) = &entry
                && e.loop_ancestor().is_some()
                && e.path()
                    .and_then(|p| p.strip_prefix(root).ok())
                    .is_some_and(skipped)
            {
                continue;
            }
            let entry = entry.map_err(|e| RenderError::Read {
                path: e.path().unwrap_or(root).to_path_buf(),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("file system loop")),
            })?;
            if entry.file_type().is_dir() && !entry.path_is_symlink() {
                continue;
            }
            let Some(rel) = relative(entry.path(), root) else {
                continue;
            };
            let rel = rel.to_path_buf();
            if entry.path_is_symlink() && entry.depth() > 0 {
                tree.check_link(&rel, origin)?;
            }
            if entry.file_type().is_dir() {
                continue;
            }
            if let Some(kind) = crate::files::special_kind(entry.file_type()) {
                return Err(RenderError::NotAFile {
                    path: tree.display(&rel),
                    kind,
                });
            }
            tree.add(rel);
        }
        Ok(tree)
    }

    /// Files a partial, a template, or a file copied as it is.
    /// How many files a render goes through (templates and files copied as they are).
    pub fn file_count(&self) -> usize {
        self.templates.len() + self.copies.len()
    }

    fn add(&mut self, rel: PathBuf) {
        let in_partials = in_partials(&rel);
        if in_partials && is_template(&rel) {
            let stem = rel
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            self.partials.push((stem, rel));
        } else if rel.as_os_str().as_bytes().starts_with(b"_")
            || memchr_pair(rel.as_os_str().as_bytes(), b"/_")
        {
            // Files and directories starting with `_` are helpers for templates, not output.
        } else if is_template(&rel) {
            self.templates.push(rel);
        } else {
            self.copies.push(rel);
        }
    }

    /// A link of the tree: refused or warned about when it leads outside.
    fn check_link(
        &mut self,
        rel: &Path,
        origin: crate::sources::Origin,
    ) -> Result<(), RenderError> {
        use crate::sources::links::{Landing, land};
        let landing = land(&self.root, rel).map_err(|source| RenderError::Read {
            path: self.root.join(rel),
            source,
        })?;
        let target = match landing {
            Landing::Inside(_) => return Ok(()),
            Landing::Outside(target) => target,
            // Reading it fails with the system's own message, naming the file.
            Landing::Loop => return Ok(()),
        };
        let link = self.display(rel);
        match origin {
            crate::sources::Origin::Downloaded => Err(RenderError::LinkOutside { link, target }),
            crate::sources::Origin::Local => {
                self.warnings.push(format!(
                    "`{link}` is a link leading outside the template tree, to `{}`; it is read from there",
                    target.display()
                ));
                Ok(())
            }
        }
    }

    fn display(&self, rel: &Path) -> String {
        format!("{}/{}", self.display_root, rel.display())
    }

    fn read(&self, rel: &Path) -> Result<String, RenderError> {
        let path = self.root.join(rel);
        read_text(&path).map_err(|source| RenderError::Read { path, source })
    }
}

/// A file's text, read without asking its size first: a template fits the first read.
fn read_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(16 * 1024);
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// `path` (an entry the scan of `root` found) relative to `root`. The scan makes each
/// entry's path by joining its name to its directory's, so `root` is a prefix of its
/// bytes: cut as bytes, where comparing components took a tenth of a render.
fn relative<'p>(path: &'p Path, root: &Path) -> Option<&'p Path> {
    let rest = path
        .as_os_str()
        .as_bytes()
        .strip_prefix(root.as_os_str().as_bytes())?;
    let rest = rest.strip_prefix(b"/").unwrap_or(rest);
    Some(Path::new(std::ffi::OsStr::from_bytes(rest)))
}

/// Whether a path of the tree lies in the partials directory.
fn in_partials(rel: &Path) -> bool {
    let bytes = rel.as_os_str().as_bytes();
    bytes
        .strip_prefix(PARTIALS_DIR.as_bytes())
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

fn memchr_pair(bytes: &[u8], pair: &[u8; 2]) -> bool {
    bytes.windows(2).any(|w| w == pair)
}

/// [`skipped`] for an entry whose directories the scan did not skip: only its own name
/// decides.
fn skipped_last(rel: &Path) -> bool {
    let name = rel.file_name().unwrap_or_default().as_bytes();
    name.starts_with(b".") || (name.starts_with(b"_") && !in_partials(rel))
}

/// Whether the scan passes over a path of the tree: hidden entries, and `_` helpers
/// outside the partials directory (they are read only when included).
fn skipped(rel: &Path) -> bool {
    let names: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    let in_partials = names.first().is_some_and(|n| n == PARTIALS_DIR);
    names
        .iter()
        .any(|n| n.starts_with('.') || (!in_partials && n.starts_with('_')))
}

/// Renders the whole tree; `sink` receives each output file (in parallel, in any order).
/// `sink` may receive files before a later template fails: on `Err` the caller discards
/// what it received ([`output::Staging`] writes into a temporary directory for that).
pub fn render_tree<F>(
    tree: &InputTree,
    params: &serde_json::Map<String, serde_json::Value>,
    options: &Options,
    sink: F,
) -> Result<Report, RenderError>
where
    F: Fn(RenderedFile) -> std::io::Result<()> + Sync,
{
    let mut partial_sources = Vec::new();
    for (name, rel) in &tree.partials {
        let text = prepare_source(tree.read(rel)?, options);
        partial_sources.push((
            name.clone(),
            engine::Source {
                display: tree.display(rel),
                text,
            },
        ));
    }
    let (engine, partial_names) = engine::Engine::new(&partial_sources, options.includes.clone())
        .map_err(RenderError::Templates)?;
    let data = handlebars::Context::wraps(params).expect("a JSON map is a valid context");
    let used = Used::new(params);
    partial_names.iter().for_each(|n| used.mark(n));
    let each = Each {
        tree,
        engine: &engine,
        data: &data,
        options,
        used: &used,
    };
    let results: Vec<Result<Outcome, Vec<Diagnostic>>> = tree
        .templates
        .par_iter()
        .map(|rel| render_one(&each, rel, &sink))
        .collect();
    let copied: Vec<Result<(), Vec<Diagnostic>>> = tree
        .copies
        .par_iter()
        .map(|rel| copy_one(tree, rel, &sink))
        .collect();
    let diagnostics: Vec<Diagnostic> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .chain(copied.iter().filter_map(|r| r.as_ref().err()))
        .flatten()
        .cloned()
        .collect();
    if !diagnostics.is_empty() {
        return Err(RenderError::Templates(diagnostics));
    }
    let outcomes = results.into_iter().filter_map(Result::ok);
    Ok(report_of(tree, used.unused(params), outcomes))
}

/// What rendering each template needs.
struct Each<'a> {
    tree: &'a InputTree,
    engine: &'a engine::Engine,
    data: &'a handlebars::Context,
    options: &'a Options,
    used: &'a Used<'a>,
}

/// The parameters the templates use, marked by the threads rendering them.
struct Used<'a> {
    index: HashMap<&'a str, usize, std::hash::BuildHasherDefault<Fnv>>,
    marks: Vec<AtomicBool>,
}

/// FNV-1a: names are short, and each template marks a dozen of them.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl<'a> Used<'a> {
    fn new(params: &'a serde_json::Map<String, serde_json::Value>) -> Self {
        Used {
            index: params
                .keys()
                .enumerate()
                .map(|(i, k)| (k.as_str(), i))
                .collect(),
            marks: params.keys().map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn mark(&self, name: &str) {
        if let Some(&i) = self.index.get(name) {
            self.marks[i].store(true, Ordering::Relaxed);
        }
    }

    /// The parameters no template used, in their order.
    fn unused(&self, params: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
        params
            .keys()
            .zip(&self.marks)
            .filter(|(_, m)| !m.load(Ordering::Relaxed))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// Renders one template of the tree and hands the output to `sink` (unless it holds no
/// object); every problem found, with its position. A template proven before is rendered
/// by its kept proof ([`shape`]); anything that does not cover is rendered in full.
fn render_one<F>(each: &Each, rel: &Path, sink: &F) -> Result<Outcome, Vec<Diagnostic>>
where
    F: Fn(RenderedFile) -> std::io::Result<()> + Sync,
{
    let (tree, options) = (each.tree, each.options);
    let text = prepare_source(read_diag(tree, rel)?, options);
    if let Some(proofs) = &options.proofs
        && let Some((out, idents)) =
            proofs.render(&text, each.data.data(), &mut |n| each.used.mark(n))
        && let Some(objects) = proof::objects(&out, idents)
    {
        return hand_over(tree, rel, out, objects, None, sink);
    }
    let source = engine::Source {
        display: tree.display(rel),
        text,
    };
    let legacy_hint = if options.legacy_percent {
        None
    } else {
        legacy::first_placeholder(&source.text).map(str::to_string)
    };
    let with_hint = |mut d: Vec<Diagnostic>| {
        if let Some(h) = &legacy_hint {
            d.push(Diagnostic::at(
                &source.display,
                0,
                0,
                format!("`{h}` looks like a 2014 placeholder: render with `--legacy-percent`"),
            ));
        }
        d
    };
    let mut rendered = each
        .engine
        .render(&source, each.data, options.proofs.as_deref())
        .map_err(with_hint)?;
    rendered.names.iter().for_each(|n| each.used.mark(n));
    let proven = rendered.proven.take();
    let objects = match proven.and_then(|ids| proof::objects(&rendered.text, ids)) {
        Some(objects) => objects,
        None => objects::parse(&source.display, &rendered.text).map_err(with_hint)?,
    };
    hand_over(tree, rel, rendered.text, objects, legacy_hint, sink)
}

/// Hands a rendered template's output to `sink`, unless it holds no object.
fn hand_over<F>(
    tree: &InputTree,
    rel: &Path,
    text: String,
    objects: Vec<Object>,
    legacy_hint: Option<String>,
    sink: &F,
) -> Result<Outcome, Vec<Diagnostic>>
where
    F: Fn(RenderedFile) -> std::io::Result<()> + Sync,
{
    let outcome = Outcome {
        objects: objects.len(),
        rel: (objects.is_empty() || legacy_hint.is_some()).then(|| rel.to_path_buf()),
        legacy_hint,
    };
    if !objects.is_empty() {
        let file = RenderedFile {
            path: rel.to_path_buf(),
            content: text.into_bytes(),
            objects,
            copied: false,
        };
        sink(file).map_err(|e| {
            vec![Diagnostic::at(
                &tree.display(rel),
                0,
                0,
                format!("cannot write the output: {e}"),
            )]
        })?;
    }
    Ok(outcome)
}

/// Hands a file that is not a template to `sink` as it is.
fn copy_one<F>(tree: &InputTree, rel: &Path, sink: &F) -> Result<(), Vec<Diagnostic>>
where
    F: Fn(RenderedFile) -> std::io::Result<()> + Sync,
{
    let at = |what: String| vec![Diagnostic::at(&tree.display(rel), 0, 0, what)];
    let content =
        std::fs::read(tree.root.join(rel)).map_err(|e| at(format!("cannot read: {e}")))?;
    sink(RenderedFile {
        path: rel.to_path_buf(),
        content,
        objects: Vec::new(),
        copied: true,
    })
    .map_err(|e| at(format!("cannot write the output: {e}")))
}

/// The report of a render that succeeded: counts, empty templates, 2014 placeholders left
/// as text, and the parameters no template used.
fn report_of(
    tree: &InputTree,
    unused: Vec<String>,
    outcomes: impl Iterator<Item = Outcome>,
) -> Report {
    let mut report = Report {
        templates: tree.templates.len(),
        copied: tree.copies.len(),
        warnings: tree.warnings.clone(),
        unused,
        ..Report::default()
    };
    for o in outcomes {
        report.objects += o.objects;
        let Some(rel) = o.rel else { continue };
        if o.objects == 0 {
            report.empty.push(rel.clone());
        }
        if let Some(hint) = o.legacy_hint {
            report.warnings.push(format!(
                "`{}` contains `{hint}`, a 2014-style placeholder, which is left as text; render with `--legacy-percent` to substitute it",
                tree.display(&rel)
            ));
        }
    }
    report
}

struct Outcome {
    /// The template, when the report names it (it rendered to nothing, or has a hint).
    rel: Option<PathBuf>,
    objects: usize,
    legacy_hint: Option<String>,
}

fn read_diag(tree: &InputTree, rel: &Path) -> Result<String, Vec<Diagnostic>> {
    tree.read(rel).map_err(|e| {
        vec![Diagnostic::at(
            &tree.display(rel),
            0,
            0,
            format!(
                "{e}: {}",
                std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            ),
        )]
    })
}

fn prepare_source(text: String, options: &Options) -> String {
    if options.legacy_percent {
        legacy::convert(&text)
    } else {
        text
    }
}
