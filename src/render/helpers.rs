//! Handlebars helpers: the context helpers the pre-pass inserts (`__ko_*`), and the
//! helpers template authors coming from Helm or InfraKit expect.
//!
//! Rendering collects every problem instead of stopping at the first: a missing
//! parameter makes its placeholder print nothing and is recorded with its position, so
//! one run reports all of them. Helpers used inside an expression cannot know where that
//! expression is; they leave their problem pending and the context helper that wraps the
//! expression (always the outermost call) attaches the position.

use super::escape::{self, Unplaceable};
use super::prepass::{Context as Position, Placeholder};
use base64::Engine as _;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, PathAndJson, RenderContext,
    RenderError, RenderErrorReason, ScopedJson,
};
use serde_json::Value as Json;
use sha2::Digest;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// What went wrong at one placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing(String),
    Required(String),
    Invalid(String),
}

/// A problem with the file and position it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
    pub problem: Problem,
}

/// The placeholder table of one template or partial.
#[derive(Debug, Clone)]
pub struct FileTable {
    pub path: Arc<str>,
    pub placeholders: Vec<Placeholder>,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<FileTable>>> = const { RefCell::new(None) };
    static PENDING: RefCell<Vec<Problem>> = const { RefCell::new(Vec::new()) };
    static FOUND: RefCell<Vec<Located>> = const { RefCell::new(Vec::new()) };
    /// The partials being rendered on this thread, outermost first.
    static PARTIALS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// The partials and includes the current template has expanded so far.
    static EXPANDED: Cell<usize> = const { Cell::new(0) };
}

/// How many partials and includes one template may expand, all told. Depth alone does not
/// bound the work: one used twice at each of 30 levels expands a billion times, and a
/// downloaded tree could keep a render busy for days.
pub const MAX_EXPANSIONS: usize = 10_000;

/// Counts one partial or include (`what`) of the template being rendered; past
/// [`MAX_EXPANSIONS`] the render stops.
pub fn expand(what: &str) -> Result<(), RenderError> {
    let n = EXPANDED.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    if n <= MAX_EXPANSIONS {
        return Ok(());
    }
    Err(RenderErrorReason::Other(format!(
        "more than {MAX_EXPANSIONS} partials and includes expanded for one template (the last `{what}`): a partial or include used several times at each level multiplies"
    ))
    .into())
}

/// Whether the current template has used up its expansions (see [`expand`]).
pub fn expansions_exhausted() -> bool {
    EXPANDED.with(|n| n.get() > MAX_EXPANSIONS)
}

/// How deep partials may nest: partials that include each other would otherwise recurse
/// until the stack overflows.
pub const MAX_PARTIAL_DEPTH: usize = 32;

/// The helpers that open and close every partial (see [`guard_partial`]).
const PARTIAL_ENTER: &str = "__ko_partial_enter";
const PARTIAL_LEAVE: &str = "__ko_partial_leave";

/// A partial's text with the helpers that count nesting around it: entering a partial
/// deeper than [`MAX_PARTIAL_DEPTH`] stops the render with the chain of partials.
pub fn guard_partial(name: &str, text: &str) -> String {
    let quoted = serde_json::to_string(name).unwrap_or_default();
    format!("{{{{{PARTIAL_ENTER} {quoted}}}}}{text}{{{{{PARTIAL_LEAVE}}}}}")
}

/// Sets the template being rendered on this thread; returns the problems found while `f` ran.
pub fn with_current<T>(table: Arc<FileTable>, f: impl FnOnce() -> T) -> (T, Vec<Located>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(table));
    PENDING.with(|p| p.borrow_mut().clear());
    PARTIALS.with(|p| p.borrow_mut().clear());
    EXPANDED.with(|n| n.set(0));
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = None);
    (out, FOUND.with(|f| std::mem::take(&mut *f.borrow_mut())))
}

pub(super) fn pend(p: Problem) {
    PENDING.with(|q| q.borrow_mut().push(p));
}

/// Registers every helper on `registry`; `partials[n - 1]` is the table of partial `n`.
pub fn register(registry: &mut Handlebars<'static>, partials: Arc<Vec<Arc<FileTable>>>) {
    for position in [
        "__ko_value",
        "__ko_quoted",
        "__ko_literal",
        "__ko_folded",
        "__ko_comment",
        "__ko_raw",
    ] {
        registry.register_helper(
            position,
            Box::new(PositionHelper {
                partials: partials.clone(),
            }),
        );
    }
    let inner: [InnerFn; 15] = [
        default_fn,
        required_fn,
        quote_fn,
        squote_fn,
        b64enc_fn,
        b64dec_fn,
        to_json_fn,
        to_yaml_fn,
        indent_fn,
        nindent_fn,
        upper_fn,
        lower_fn,
        trim_fn,
        join_fn,
        sha256sum_fn,
    ];
    for (name, f) in INNER_NAMES.into_iter().zip(inner) {
        registry.register_helper(name, Box::new(Inner(f)));
    }
    registry.register_helper(PARTIAL_ENTER, Box::new(PartialEnter));
    registry.register_helper(PARTIAL_LEAVE, Box::new(PartialLeave));
}

/// Whether `name` is a helper a template may call (ours, `include`, and Handlebars' own
/// that take arguments).
pub fn is_helper(name: &str) -> bool {
    const OTHERS: &[&str] = &[
        "include", "lookup", "eq", "ne", "gt", "gte", "lt", "lte", "and", "or", "not", "len",
    ];
    INNER_NAMES.contains(&name) || OTHERS.contains(&name)
}

const INNER_NAMES: [&str; 15] = [
    "default",
    "required",
    "quote",
    "squote",
    "b64enc",
    "b64dec",
    "toJson",
    "toYaml",
    "indent",
    "nindent",
    "upper",
    "lower",
    "trim",
    "join",
    "sha256sum",
];

struct PartialEnter;
struct PartialLeave;

impl HelperDef for PartialEnter {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        _: &mut dyn Output,
    ) -> HelperResult {
        let name = h
            .param(0)
            .and_then(|p| p.value().as_str())
            .unwrap_or_default();
        expand(name)?;
        PARTIALS.with(|p| {
            let mut chain = p.borrow_mut();
            chain.push(name.to_string());
            if chain.len() > MAX_PARTIAL_DEPTH {
                let message = partial_loop_message(&chain);
                chain.clear();
                return Err(RenderErrorReason::Other(message).into());
            }
            Ok(())
        })
    }
}

/// Names the first loop in `chain` (`a` -> `b` -> `a`), or the whole chain when no
/// partial repeats.
fn partial_loop_message(chain: &[String]) -> String {
    let repeat = (1..chain.len()).find(|&j| chain[..j].contains(&chain[j]));
    let shown = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" -> ")
    };
    match repeat {
        Some(j) => {
            let start = chain[..j].iter().position(|n| n == &chain[j]).unwrap_or(0);
            format!(
                "partials include each other without end: {} (partials may nest at most {MAX_PARTIAL_DEPTH} deep)",
                shown(&chain[start..=j])
            )
        }
        None => format!(
            "partials nested more than {MAX_PARTIAL_DEPTH} deep: {}",
            shown(chain)
        ),
    }
}

impl HelperDef for PartialLeave {
    fn call<'reg: 'rc, 'rc>(
        &self,
        _: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        _: &mut dyn Output,
    ) -> HelperResult {
        PARTIALS.with(|p| p.borrow_mut().pop());
        Ok(())
    }
}

struct PositionHelper {
    partials: Arc<Vec<Arc<FileTable>>>,
}

impl PositionHelper {
    fn table(&self, file: u64) -> Option<Arc<FileTable>> {
        match file {
            0 => CURRENT.with(|c| c.borrow().clone()),
            n => self.partials.get(n as usize - 1).cloned(),
        }
    }
}

impl HelperDef for PositionHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let number = |i| {
            h.param(i)
                .and_then(|p: &PathAndJson| p.value().as_u64())
                .unwrap_or(0)
        };
        let table = self
            .table(number(1))
            .ok_or_else(|| internal("placeholder table not found"))?;
        let placeholder = table
            .placeholders
            .get(number(2) as usize)
            .ok_or_else(|| internal("placeholder not found"))?;
        let value = h
            .param(0)
            .ok_or_else(|| internal("context helper without a value"))?;
        let mut problems = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
        if value.is_value_missing() {
            problems.push(Problem::Missing(
                value.relative_path().cloned().unwrap_or_default(),
            ));
        }
        let mut text = String::new();
        if problems.is_empty()
            && let Err(why) = place(value.value(), placeholder.context, &mut text)
        {
            problems.push(unplaceable(value.relative_path().map(String::as_str), why));
        }
        if problems.is_empty() {
            out.write(&text)?;
        }
        FOUND.with(|f| {
            f.borrow_mut()
                .extend(problems.into_iter().map(|problem| Located {
                    file: table.path.clone(),
                    line: placeholder.line,
                    column: placeholder.column,
                    problem,
                }))
        });
        Ok(())
    }
}

/// The problem for a value its position cannot hold.
pub fn unplaceable(name: Option<&str>, Unplaceable(why): Unplaceable) -> Problem {
    let name = name.map_or_else(|| "the value".to_string(), |p| format!("`{p}`"));
    Problem::Invalid(format!("{name} cannot be placed here: {why}"))
}

/// Appends `v` escaped for `position`.
pub fn place(v: &Json, position: Position, out: &mut String) -> Result<(), Unplaceable> {
    match position {
        Position::Value => escape::flow_value_into(v, out),
        Position::Quoted => escape::double_quoted_into(&escape::text_of(v), out),
        Position::Literal { indent } => escape::literal_into(&escape::text_of(v), indent, out)?,
        Position::Folded { .. } => escape::folded_into(&escape::text_of(v), out)?,
        Position::Comment => escape::comment_into(&escape::text_of(v), out),
        Position::Raw => out.push_str(&escape::text_of(v)),
    }
    Ok(())
}

fn internal(what: &str) -> RenderError {
    RenderErrorReason::Other(format!("internal: {what}")).into()
}

/// Argument `i` of an inner helper; a missing parameter is left pending.
fn arg<'a>(h: &'a Helper, i: usize) -> &'a Json {
    static NULL: Json = Json::Null;
    match h.param(i) {
        Some(p) if p.is_value_missing() => {
            pend(Problem::Missing(
                p.relative_path().cloned().unwrap_or_default(),
            ));
            &NULL
        }
        Some(p) => p.value(),
        None => {
            pend(Problem::Invalid(format!(
                "`{}` expects an argument number {}",
                h.name(),
                i + 1
            )));
            &NULL
        }
    }
}

/// Helm's idea of empty: what `default` replaces and `required` refuses.
fn is_empty(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::Bool(b) => !b,
        Json::String(s) => s.is_empty(),
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
        Json::Number(n) => n.as_f64() == Some(0.0),
    }
}

macro_rules! inner_helper {
    ($name:ident, |$h:ident| $body:expr) => {
        fn $name($h: &Helper<'_>) -> Json {
            $body
        }
    };
}

inner_helper!(default_fn, |h| {
    // Helm's order: `default FALLBACK VALUE`; a missing VALUE is what `default` is for.
    let value = h.param(1).map_or(&Json::Null, |p| p.value());
    if is_empty(value) {
        arg(h, 0).clone()
    } else {
        value.clone()
    }
});

inner_helper!(required_fn, |h| {
    let message = escape::text_of(arg(h, 0)).into_owned();
    let value = h.param(1).map_or(&Json::Null, |p| p.value());
    if is_empty(value) {
        pend(Problem::Required(message));
    }
    value.clone()
});

inner_helper!(quote_fn, |h| {
    let mut s = String::from("\"");
    escape::double_quoted_into(&escape::text_of(arg(h, 0)), &mut s);
    s.push('"');
    Json::String(s)
});

inner_helper!(squote_fn, |h| {
    let text = escape::text_of(arg(h, 0));
    // Single quotes can escape nothing but `'`: values with control characters or line
    // breaks get double quotes instead, which can.
    if text.chars().any(escape::needs_escape) {
        let mut s = String::from("\"");
        escape::double_quoted_into(&text, &mut s);
        s.push('"');
        Json::String(s)
    } else {
        Json::String(format!("'{}'", text.replace('\'', "''")))
    }
});

inner_helper!(b64enc_fn, |h| Json::String(
    base64::engine::general_purpose::STANDARD.encode(escape::text_of(arg(h, 0)).as_bytes())
));

inner_helper!(b64dec_fn, |h| {
    let text = escape::text_of(arg(h, 0));
    match base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map(String::from_utf8)
    {
        Ok(Ok(s)) => Json::String(s),
        _ => {
            pend(Problem::Invalid(
                "`b64dec`: the value is not base64 of UTF-8 text".into(),
            ));
            Json::Null
        }
    }
});

inner_helper!(to_json_fn, |h| Json::String(json_for_yaml(arg(h, 0))));

inner_helper!(to_yaml_fn, |h| {
    let v = arg(h, 0);
    match serde_yaml::to_string(v) {
        Ok(s) => Json::String(s.trim_end_matches('\n').to_string()),
        Err(e) => {
            pend(Problem::Invalid(format!("`toYaml`: {e}")));
            Json::Null
        }
    }
});

inner_helper!(indent_fn, |h| Json::String(indent_lines(
    arg(h, 0),
    arg(h, 1)
)));

inner_helper!(nindent_fn, |h| Json::String(format!(
    "\n{}",
    indent_lines(arg(h, 0), arg(h, 1))
)));

inner_helper!(upper_fn, |h| Json::String(
    escape::text_of(arg(h, 0)).to_uppercase()
));

inner_helper!(lower_fn, |h| Json::String(
    escape::text_of(arg(h, 0)).to_lowercase()
));

inner_helper!(trim_fn, |h| Json::String(
    escape::text_of(arg(h, 0)).trim().to_string()
));

inner_helper!(join_fn, |h| {
    // Helm's order: `join SEPARATOR LIST`.
    let sep = escape::text_of(arg(h, 0)).into_owned();
    match arg(h, 1) {
        Json::Array(items) => Json::String(
            items
                .iter()
                .map(|i| escape::text_of(i).into_owned())
                .collect::<Vec<_>>()
                .join(&sep),
        ),
        Json::Null => Json::String(String::new()),
        other => Json::String(escape::text_of(other).into_owned()),
    }
});

inner_helper!(sha256sum_fn, |h| {
    let digest = sha2::Sha256::digest(escape::text_of(arg(h, 0)).as_bytes());
    Json::String(digest.iter().map(|b| format!("{b:02x}")).collect())
});

/// JSON text that is also safe YAML: the characters YAML 1.1 would take as line breaks
/// or refuse as unprintable are written as `\u` escapes (valid JSON too).
pub fn json_for_yaml(v: &Json) -> String {
    let raw = serde_json::to_string(v).expect("JSON values serialize");
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let u = c as u32;
        if (0x7F..=0x9F).contains(&u) || matches!(u, 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF) {
            out.push_str(&format!("\\u{u:04x}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// The widest `indent` / `nindent`: deeper than any manifest nests, and small enough
/// that no width a template gives can exhaust memory.
const MAX_INDENT: u64 = 1024;

fn indent_lines(width: &Json, text: &Json) -> String {
    // A parameter given with `-p` is a string: `"4"` counts as 4.
    let n = match width {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    let Some(n) = n.filter(|n| *n <= MAX_INDENT) else {
        // A missing parameter is reported as such already.
        if PENDING.with(|p| !p.borrow().is_empty()) {
            return String::new();
        }
        pend(Problem::Invalid(format!(
            "`indent` and `nindent` take a whole number of spaces from 0 to {MAX_INDENT} first (`{{{{indent 4 VALUE}}}}`)"
        )));
        return String::new();
    };
    let pad = " ".repeat(n as usize);
    escape::text_of(text)
        .split('\n')
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

type InnerFn = fn(&Helper<'_>) -> Json;

/// Adapts a plain function returning a value into a helper usable in subexpressions.
struct Inner(InnerFn);

impl HelperDef for Inner {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        Ok(ScopedJson::Derived((self.0)(h)))
    }
}
