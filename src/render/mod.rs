//! Render: parameters + the `kubernetes-in/` tree of Handlebars templates -> manifests.
//!
//! Rendering is a pure function of the input files and the parameters; writing the result
//! (atomically) is [`output`]'s job, and comparing it with what is on disk is `diff`'s.

mod at;
mod compile;
mod dirs;
mod engine;
mod escape;
pub mod helpers;
pub mod include;
mod input;
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
mod used;
pub mod written;

pub use input::InputTree;
pub use objects::Object;
use used::Used;

use rayon::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};

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
    /// Rendered files carry no [`Object`]s, only their count in the [`Report`]: a render
    /// into a directory writes the files' bytes, and a template rendered by its kept
    /// proof then needs no split of its output into documents.
    pub only_count_objects: bool,
}

/// A rendered output file.
#[derive(Debug, Clone)]
pub struct RenderedFile {
    /// Relative to the input (and output) root.
    pub path: PathBuf,
    pub content: Vec<u8>,
    /// Kubernetes objects in it (empty for copied non-template files, and with
    /// [`Options::only_count_objects`]).
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

/// Renders one template of the tree and hands the output to `sink` (unless it holds no
/// object); every problem found, with its position. A template proven before is rendered
/// by its kept proof ([`shape`]); anything that does not cover is rendered in full.
fn render_one<F>(each: &Each, rel: &Path, sink: &F) -> Result<Outcome, Vec<Diagnostic>>
where
    F: Fn(RenderedFile) -> std::io::Result<()> + Sync,
{
    let (tree, options) = (each.tree, each.options);
    let read = match options.legacy_percent {
        false => KEPT_READ.with_borrow_mut(|buf| render_kept(each, rel, buf)),
        true => None,
    };
    let text = match read {
        Some(Read::Kept(out, found)) => return hand_over(tree, rel, out, found, None, sink),
        Some(Read::Text(text)) => text,
        None => prepare_source(read_diag(tree, rel)?, options),
    };
    if options.legacy_percent
        && let Some((out, found)) = by_kept_proof(each, &text)
    {
        return hand_over(tree, rel, out, found, None, sink);
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
    let found = Found::of(objects, options);
    hand_over(tree, rel, rendered.text, found, legacy_hint, sink)
}

/// The objects of a template's output, and how many: none are kept with
/// [`Options::only_count_objects`].
struct Found {
    objects: Vec<Object>,
    count: usize,
}

impl Found {
    fn of(objects: Vec<Object>, options: &Options) -> Found {
        match options.only_count_objects {
            true => Found::counted(objects.len()),
            false => Found {
                count: objects.len(),
                objects,
            },
        }
    }

    fn counted(count: usize) -> Found {
        Found {
            objects: Vec::new(),
            count,
        }
    }
}

thread_local! {
    /// Each rendering thread's buffer for the templates it reads: a template rendered by
    /// its kept proof is only looked at, never kept.
    static KEPT_READ: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A template read once for a render by its kept proof.
enum Read {
    /// Its output and objects: a kept proof covered the render.
    Kept(String, Found),
    /// Its text, for the full render: no kept proof covers it.
    Text(String),
}

/// The template `rel`, read into `buf` and rendered by its kept proof when one covers it;
/// `None` when there are no kept proofs or it could not be read as text: the full render
/// then reads it itself and says what went wrong.
fn render_kept(each: &Each, rel: &Path, buf: &mut Vec<u8>) -> Option<Read> {
    each.options.proofs.as_ref()?;
    each.tree.dirs.read_into(rel, buf).ok()?;
    let text = std::str::from_utf8(buf).ok()?;
    Some(match by_kept_proof(each, text) {
        Some((out, found)) => Read::Kept(out, found),
        None => Read::Text(text.to_string()),
    })
}

/// The output of the template `text` and its objects, when a kept proof covers its render.
fn by_kept_proof(each: &Each, text: &str) -> Option<(String, Found)> {
    let proofs = each.options.proofs.as_ref()?;
    let mark = &mut |n: &str| each.used.mark(n);
    let (out, idents) = proofs.render(text, each.data.data(), mark)?;
    if each.options.only_count_objects {
        return Some((out, Found::counted(idents.iter().flatten().count())));
    }
    let objects = proof::objects(&out, idents)?;
    Some((out, Found::of(objects, each.options)))
}

/// Hands a rendered template's output to `sink`, unless it holds no object.
fn hand_over<F>(
    tree: &InputTree,
    rel: &Path,
    text: String,
    found: Found,
    legacy_hint: Option<String>,
    sink: &F,
) -> Result<Outcome, Vec<Diagnostic>>
where
    F: Fn(RenderedFile) -> std::io::Result<()> + Sync,
{
    let outcome = Outcome {
        objects: found.count,
        rel: (found.count == 0 || legacy_hint.is_some()).then(|| rel.to_path_buf()),
        legacy_hint,
    };
    if found.count > 0 {
        let file = RenderedFile {
            path: rel.to_path_buf(),
            content: text.into_bytes(),
            objects: found.objects,
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
    let content = tree
        .dirs
        .read(rel)
        .map_err(|e| at(format!("cannot read: {e}")))?;
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
