//! The YAML-safety pre-pass: finds the YAML position of every placeholder and rewrites the
//! template so that no value can change the structure of the document it lands in.
//!
//! Handlebars knows nothing of YAML, so the right escaping of a value depends on where its
//! placeholder sits. Once per template, before compiling it, this pass scans the YAML
//! lines (treating tags as opaque) and:
//! - turns every plain or single-quoted scalar that mixes text and placeholders into a
//!   double-quoted scalar (its literal text escaped for that style);
//! - wraps each `{{expr}}` in a context helper (`__ko_value`, `__ko_dq`, `__ko_block`, ...)
//!   that escapes the value for its position at render time and reports a missing
//!   parameter with its file, line and column;
//! - gives a block scalar whose first line starts with a placeholder an explicit
//!   indentation indicator, so a value starting with spaces cannot move the block.
//!
//! A placeholder alone as a plain scalar keeps its type (`replicas: {{n}}` stays a number
//! when `n` is one); strings are always emitted double-quoted, so `yes`, `null`, `0x1F`
//! and friends come back as the strings they were.

use super::rewrite::{apply_edits, direct_pieces, referenced_names};
use super::tags::{self, Tag, TagKind};

/// Where a placeholder sits, which decides how its value is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Alone as a plain scalar: emitted as a typed YAML flow value.
    Value,
    /// Inside a double-quoted scalar (possibly one this pass made).
    Quoted,
    /// Inside a literal block scalar (`|`) whose content starts at `indent`.
    Literal { indent: usize },
    /// Inside a folded block scalar (`>`): line breaks cannot be kept, so they are refused.
    Folded { indent: usize },
    /// Inside a comment: line breaks are escaped so nothing leaves the comment.
    Comment,
    /// Triple-stash or a YAML-producing helper (`toYaml`, `quote`, ...): the author's call.
    Raw,
}

impl Context {
    pub fn helper(self) -> &'static str {
        match self {
            Context::Value => "__ko_value",
            Context::Quoted => "__ko_quoted",
            Context::Literal { .. } => "__ko_literal",
            Context::Folded { .. } => "__ko_folded",
            Context::Comment => "__ko_comment",
            Context::Raw => "__ko_raw",
        }
    }
}

/// A placeholder found by the pre-pass, with its position in the original template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    pub line: usize,
    pub column: usize,
    pub context: Context,
}

/// A template rewritten for YAML safety.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub text: String,
    pub placeholders: Vec<Placeholder>,
    /// Every bare name the template refers to (first path segment), for unused-parameter checks.
    pub names: Vec<String>,
    /// For templates whose only tags are plain `{{name}}` / `{{a.b}}` values (most manifests):
    /// the rewritten text cut into literal pieces and values, so they can be rendered without
    /// compiling Handlebars at all. Same helpers, same escaping, same output.
    pub direct: Option<Vec<Piece>>,
    /// The parts of [`Prepared::text`] copied as they are from the template, in order.
    pub copied: Vec<Copied>,
}

/// A part of the rewritten text copied as it is from the template: `out` in the text,
/// starting at `src` in the template (what lets a kept proof render from the template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub out: std::ops::Range<usize>,
    pub src: usize,
}

/// A piece of a directly renderable template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text: a range of [`Prepared::text`].
    Text(std::ops::Range<usize>),
    /// A value: the placeholder's index and the path of the parameter.
    Value {
        placeholder: usize,
        /// The parameter's dotted path (`a.b`).
        path: Box<str>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct PrepassError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Helpers whose output is YAML the author shaped on purpose: not escaped again.
const YAML_PRODUCING_HELPERS: &[&str] =
    &["toYaml", "toJson", "quote", "squote", "indent", "nindent"];

/// Rewrites `src`; `file_id` is passed to the context helpers so they can find the
/// placeholder table (0 = the template being rendered, n = partial number n).
pub fn prepare(src: &str, file_id: usize) -> Result<Prepared, PrepassError> {
    let tags = tags::scan(src).map_err(|tags::UnclosedTag(at)| {
        let (line, column) = line_col(src, at);
        PrepassError {
            line,
            column,
            message: "unclosed `{{` tag".into(),
        }
    })?;
    if let Some(at) = tags::reserved_use(src, &tags) {
        let (line, column) = line_col(src, at);
        return Err(PrepassError {
            line,
            column,
            message: format!(
                "names starting with `{}` are the renderer's own helpers; a template cannot use them",
                tags::RESERVED_PREFIX
            ),
        });
    }
    let mut scanner = Scanner::new(src, &tags);
    scanner.run()?;
    let Scanner {
        edits,
        placeholders,
        ..
    } = scanner;
    let (text, wrapped, copied) = apply_edits(src, &tags, edits, &placeholders, file_id);
    let names = referenced_names(src, &tags);
    let direct = direct_pieces(src, &tags, &placeholders, &wrapped, text.len());
    Ok(Prepared {
        text,
        placeholders: placeholders.into_iter().map(|(_, p)| p).collect(),
        names,
        direct,
        copied,
    })
}

/// One-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, at: usize) -> (usize, usize) {
    let before = &src[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A visible piece of a line: a character, or a tag that prints something.
#[derive(Debug, Clone, Copy)]
enum Atom {
    Ch(char, usize),
    Out(usize),
}

/// A text change to the template: replace `start..end` with `text`.
#[derive(Debug)]
pub(super) struct Edit {
    pub(super) start: usize,
    pub(super) end: usize,
    /// Static for the quotes and escapes: a template can have hundreds of thousands.
    pub(super) text: std::borrow::Cow<'static, str>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Normal,
    /// Inside a block scalar owned by a node at column `parent`.
    Block {
        parent: usize,
        indent: Option<usize>,
        folded: bool,
        header_at: usize,
        explicit: bool,
    },
    /// Inside a double-quoted scalar that spans lines.
    Quoted,
    /// Inside a single-quoted scalar that spans lines.
    SingleQuoted,
    /// Inside a flow collection that spans lines.
    Flow {
        depth: usize,
    },
    /// After a plain scalar value ending a line: more-indented lines may continue it.
    PlainValue {
        parent: usize,
    },
}

struct Scanner<'s> {
    src: &'s str,
    tags: &'s [Tag],
    edits: Vec<Edit>,
    /// (tag index, placeholder) in source order.
    placeholders: Vec<(usize, Placeholder)>,
    state: State,
    /// One-based number of the line being scanned (kept as we go: recounting from the
    /// start of the file for every placeholder would make the pass quadratic).
    line_no: usize,
    /// The last offset [`Scanner::position`] was asked for, and its column.
    last_position: std::cell::Cell<(usize, usize)>,
}

type ScanResult<T = ()> = Result<T, PrepassError>;

impl<'s> Scanner<'s> {
    fn new(src: &'s str, tags: &'s [Tag]) -> Self {
        Scanner {
            src,
            tags,
            edits: Vec::new(),
            placeholders: Vec::new(),
            state: State::Normal,
            line_no: 1,
            last_position: std::cell::Cell::new((0, 0)),
        }
    }

    fn run(&mut self) -> ScanResult {
        let mut line_start = 0;
        let mut tag_i = 0;
        let mut atoms = Vec::new();
        let mut newlines_in_tags = 0;
        while line_start <= self.src.len() {
            // A line ends at the first newline outside a tag.
            atoms.clear();
            self.line_no += std::mem::take(&mut newlines_in_tags);
            let mut p = line_start;
            let bytes = self.src.as_bytes();
            while p < self.src.len() && bytes[p] != b'\n' {
                if tag_i < self.tags.len() && self.tags[tag_i].start == p {
                    let tag = &self.tags[tag_i];
                    match tag.kind {
                        TagKind::Output | TagKind::Raw => atoms.push(Atom::Out(tag_i)),
                        TagKind::Control | TagKind::Partial => {}
                    }
                    newlines_in_tags += self.src[tag.start..tag.end].matches('\n').count();
                    p = tag.end;
                    tag_i += 1;
                } else {
                    let c = self.src[p..].chars().next().expect("in bounds");
                    atoms.push(Atom::Ch(c, p));
                    p += c.len_utf8();
                }
            }
            self.line(&atoms)?;
            line_start = p + 1;
            self.line_no += 1;
        }
        Ok(())
    }

    fn line(&mut self, v: &[Atom]) -> ScanResult {
        let indent = v.iter().take_while(|a| is(a, ' ')).count();
        if indent == v.len() {
            // Blank lines, and lines holding only block tags or partials (Handlebars removes
            // those when standalone), do not move any YAML state.
            return Ok(());
        }
        match self.state {
            State::Block { .. } => {
                if self.block_line(v, indent)? {
                    return Ok(());
                }
                self.state = State::Normal;
            }
            State::Quoted => {
                if let Some(end) = self.quoted(v, 0)? {
                    self.state = State::Normal;
                    self.after_scalar(v, end + 1)?;
                }
                return Ok(());
            }
            State::SingleQuoted => {
                if let Some(end) = self.single_quoted(v, 0, true)? {
                    self.state = State::Normal;
                    self.after_scalar(v, end + 1)?;
                }
                return Ok(());
            }
            State::Flow { depth } => {
                self.state = State::Normal;
                if let Some(end) = self.flow(v, indent, depth)? {
                    self.after_scalar(v, end)?;
                }
                return Ok(());
            }
            State::PlainValue { parent } => {
                self.state = State::Normal;
                if indent > parent && !starts_node(v, indent) && !is(&v[indent], '#') {
                    return self.plain_continuation(v);
                }
            }
            State::Normal => {}
        }
        if indent == 0
            && (starts_with(v, "---") || starts_with(v, "..."))
            && (v.len() == 3 || is(&v[3], ' '))
        {
            return self.node(v, 3, 0);
        }
        if indent == 0 && is(&v[0], '%') {
            return Ok(());
        }
        let mut i = indent;
        let mut parent = indent;
        while i < v.len() && is(&v[i], '-') && (i + 1 == v.len() || is(&v[i + 1], ' ')) {
            parent = i;
            i = skip_spaces(v, i + 1);
        }
        self.node(v, i, parent)
    }

    /// A line while in a block scalar: whether it is part of it (more indented than the
    /// key that owns it); the first line settles the content's indentation.
    fn block_line(&mut self, v: &[Atom], indent: usize) -> ScanResult<bool> {
        let State::Block {
            parent,
            indent: content,
            folded,
            header_at,
            explicit,
        } = self.state
        else {
            return Ok(false);
        };
        let content = match content {
            Some(c) if indent >= c => Some((c, false)),
            Some(_) => None,
            None if indent > parent => Some((indent, true)),
            None => None,
        };
        let Some((c, first)) = content else {
            return Ok(false);
        };
        self.state = State::Block {
            parent,
            indent: Some(c),
            folded,
            header_at,
            explicit,
        };
        if first && !explicit && matches!(v[indent], Atom::Out(_)) {
            self.indentation_indicator(header_at, c - parent, v[indent])?;
        }
        let ctx = if folded {
            Context::Folded { indent: c }
        } else {
            Context::Literal { indent: c }
        };
        for a in &v[indent..] {
            if let Atom::Out(t) = *a {
                self.place(t, ctx);
            }
        }
        Ok(true)
    }

    /// A YAML node starting at `i`; `parent` is the column of the key or dash that owns it.
    fn node(&mut self, v: &[Atom], i: usize, parent: usize) -> ScanResult {
        let i = self.properties(v, skip_spaces(v, i))?;
        let Some(first) = v.get(i) else { return Ok(()) };
        match ch(first) {
            Some('#') => self.comment(v, i),
            Some('"') => match self.quoted(v, i + 1)? {
                Some(end) => self.after_scalar_or_value(v, end + 1, i),
                None => {
                    self.state = State::Quoted;
                    Ok(())
                }
            },
            Some('\'') => match self.single_quoted(v, i, false)? {
                Some(end) => self.after_scalar_or_value(v, end + 1, i),
                None => {
                    self.state = State::SingleQuoted;
                    Ok(())
                }
            },
            Some('[' | '{') => match self.flow(v, i, 0)? {
                Some(end) => self.after_scalar(v, end),
                None => Ok(()),
            },
            Some('|' | '>') => self.block_header(v, i, parent),
            Some('*') => self.after_scalar(v, token_end(v, i)),
            Some('?') if v.get(i + 1).is_none_or(|a| is(a, ' ')) => self.node(v, i + 1, i),
            _ => self.plain_block(v, i),
        }
    }

    /// Skips `&anchor` and `!tag` properties; placeholders there are refused.
    fn properties(&mut self, v: &[Atom], mut i: usize) -> ScanResult<usize> {
        while let Some(c @ ('&' | '!')) = v.get(i).and_then(ch) {
            let end = token_end(v, i);
            if let Some(Atom::Out(t)) = v[i..end].iter().find(|a| matches!(a, Atom::Out(_))) {
                return Err(self.error_at(
                    *t,
                    &format!("a placeholder cannot be part of a YAML `{c}` property"),
                ));
            }
            i = skip_spaces(v, end);
        }
        Ok(i)
    }

    /// After a quoted scalar at `start` closed before `after`: either it was a key, or the
    /// rest of the line is at most a comment.
    fn after_scalar_or_value(&mut self, v: &[Atom], after: usize, start: usize) -> ScanResult {
        let j = skip_spaces(v, after);
        if j < v.len() && is(&v[j], ':') && (j + 1 == v.len() || is(&v[j + 1], ' ')) {
            return self.node(v, j + 1, start);
        }
        self.after_scalar(v, after)
    }

    fn after_scalar(&mut self, v: &[Atom], after: usize) -> ScanResult {
        if let Some(hash) =
            (after..v.len()).find(|&j| is(&v[j], '#') && (j == 0 || is(&v[j - 1], ' ')))
        {
            self.comment(v, hash)?;
        }
        Ok(())
    }

    fn comment(&mut self, v: &[Atom], from: usize) -> ScanResult {
        for a in &v[from..] {
            if let Atom::Out(t) = *a {
                self.place(t, Context::Comment);
            }
        }
        Ok(())
    }

    /// A plain scalar in block context at `i`: a key (followed by its value) or a value.
    fn plain_block(&mut self, v: &[Atom], i: usize) -> ScanResult {
        let mut j = i;
        while j < v.len() {
            if is(&v[j], ':') && (j + 1 == v.len() || is(&v[j + 1], ' ')) {
                let end = trim_end(v, i, j);
                self.scalar(v, i, end);
                return self.node(v, j + 1, i);
            }
            if is(&v[j], '#') && j > i && is(&v[j - 1], ' ') {
                break;
            }
            j += 1;
        }
        let end = trim_end(v, i, j);
        self.scalar(v, i, end);
        self.state = State::PlainValue {
            parent: v.iter().take_while(|a| is(a, ' ')).count(),
        };
        self.after_scalar(v, j)
    }

    /// A more-indented line continuing a multi-line plain scalar.
    fn plain_continuation(&mut self, v: &[Atom]) -> ScanResult {
        if let Some(Atom::Out(t)) = v.iter().find(|a| matches!(a, Atom::Out(_))) {
            return Err(self.error_at(
                *t,
                "a placeholder in a plain scalar that spans lines cannot be escaped; \
                 put the value on one line or use a block scalar (`|`)",
            ));
        }
        Ok(())
    }

    /// A plain scalar spanning atoms `start..end`: a lone placeholder keeps its type;
    /// text mixed with placeholders becomes a double-quoted scalar.
    fn scalar(&mut self, v: &[Atom], start: usize, end: usize) {
        let span = &v[start..end];
        let outputs = span
            .iter()
            .filter(|a| matches!(a, Atom::Out(t) if self.tags[*t].kind == TagKind::Output))
            .count();
        if outputs == 0 {
            for a in span {
                if let Atom::Out(t) = *a {
                    self.place(t, Context::Raw);
                }
            }
            return;
        }
        if let [Atom::Out(t)] = span {
            self.place(*t, Context::Value);
            return;
        }
        self.requote(span, '\0');
    }

    /// Rewrites `span` as a double-quoted scalar. `quote` is the quote character that
    /// delimits the span in the source (`'` to convert a single-quoted scalar), or `\0`.
    fn requote(&mut self, span: &[Atom], quote: char) {
        let (start, end) = self.with_adjacent_controls(
            atom_start(self.tags, span[0]),
            atom_end(self.tags, span[span.len() - 1]),
        );
        let mut k = 0;
        while k < span.len() {
            match span[k] {
                Atom::Out(t) => self.place(t, Context::Quoted),
                Atom::Ch(c, off) => {
                    let is_delim = quote != '\0' && (k == 0 || k == span.len() - 1);
                    if is_delim {
                        self.edits.push(Edit {
                            start: off,
                            end: off + 1,
                            text: "\"".into(),
                        });
                    } else if quote == '\'' && c == '\'' {
                        // `''` in a single-quoted scalar is one quote.
                        self.edits.push(Edit {
                            start: off,
                            end: off + 2,
                            text: "'".into(),
                        });
                        k += 1;
                    } else if c == '"' || c == '\\' {
                        self.edits.push(Edit {
                            start: off,
                            end: off + 1,
                            text: if c == '"' { "\\\"" } else { "\\\\" }.into(),
                        });
                    }
                }
            }
            k += 1;
        }
        if quote == '\0' {
            self.edits.push(Edit {
                start,
                end: start,
                text: "\"".into(),
            });
            self.edits.push(Edit {
                start: end,
                end,
                text: "\"".into(),
            });
        }
    }

    /// Scans a double-quoted scalar whose content starts at `from`; returns the index of
    /// the closing quote, or `None` when it continues on the next line.
    fn quoted(&mut self, v: &[Atom], from: usize) -> ScanResult<Option<usize>> {
        let mut j = from;
        while j < v.len() {
            match v[j] {
                Atom::Ch('\\', _) => j += 1,
                Atom::Ch('"', _) => return Ok(Some(j)),
                Atom::Out(t) => self.place(t, Context::Quoted),
                Atom::Ch(..) => {}
            }
            j += 1;
        }
        Ok(None)
    }

    /// Scans a single-quoted scalar. With `continued`, `from` is the start of a
    /// continuation line; otherwise it is the opening quote. A single-line scalar holding
    /// placeholders is converted to double quotes.
    fn single_quoted(
        &mut self,
        v: &[Atom],
        from: usize,
        continued: bool,
    ) -> ScanResult<Option<usize>> {
        let mut j = if continued { from } else { from + 1 };
        let mut close = None;
        while j < v.len() {
            if is(&v[j], '\'') {
                if j + 1 < v.len() && is(&v[j + 1], '\'') {
                    j += 2;
                    continue;
                }
                close = Some(j);
                break;
            }
            j += 1;
        }
        let scanned = &v[from..close.map_or(v.len(), |c| c + 1)];
        let first_out = scanned.iter().find_map(|a| match a {
            Atom::Out(t) => Some(*t),
            Atom::Ch(..) => None,
        });
        if let Some(t) = first_out {
            if continued || close.is_none() {
                return Err(self.error_at(
                    t,
                    "a placeholder in a single-quoted scalar that spans lines cannot be escaped; \
                     use double quotes or keep it on one line",
                ));
            }
            self.requote(scanned, '\'');
        }
        Ok(close)
    }

    /// Scans a flow collection from `i` (at depth `depth` already open); returns the index
    /// after the closing bracket, or `None` when it continues on the next line.
    fn flow(&mut self, v: &[Atom], mut i: usize, mut depth: usize) -> ScanResult<Option<usize>> {
        while i < v.len() {
            match ch(&v[i]) {
                Some('[' | '{') => {
                    depth += 1;
                    i += 1;
                }
                Some(']' | '}') => {
                    depth = depth.saturating_sub(1);
                    i += 1;
                    if depth == 0 {
                        return Ok(Some(i));
                    }
                }
                Some(' ' | ',') => i += 1,
                Some(':')
                    if v.get(i + 1)
                        .is_none_or(|a| is(a, ' ') || is_flow_indicator(a)) =>
                {
                    i += 1
                }
                Some('#') if i > 0 && is(&v[i - 1], ' ') => {
                    self.comment(v, i)?;
                    i = v.len();
                }
                Some('"') => {
                    match self.quoted(v, i + 1)? {
                        Some(end) => i = end + 1,
                        None => {
                            return Err(self.error_at_atom(v[i], "a double-quoted scalar inside a flow collection must end on its line"));
                        }
                    }
                }
                Some('\'') => {
                    match self.single_quoted(v, i, false)? {
                        Some(end) => i = end + 1,
                        None => {
                            return Err(self.error_at_atom(v[i], "a single-quoted scalar inside a flow collection must end on its line"));
                        }
                    }
                }
                _ => {
                    i = self.properties(v, i)?;
                    let start = i;
                    while i < v.len() && !ends_flow_plain(v, i) {
                        i += 1;
                    }
                    let end = trim_end(v, start, i);
                    if end > start {
                        self.scalar(v, start, end);
                    }
                }
            }
        }
        if depth > 0 {
            self.state = State::Flow { depth };
        }
        Ok(None)
    }

    fn block_header(&mut self, v: &[Atom], i: usize, parent: usize) -> ScanResult {
        let mut j = i + 1;
        let mut explicit = None;
        while let Some(c) = v.get(j).and_then(ch) {
            match c {
                '+' | '-' => {}
                '1'..='9' => explicit = c.to_digit(10),
                _ => break,
            }
            j += 1;
        }
        if let Some(Atom::Out(t)) = v[i..j].iter().find(|a| matches!(a, Atom::Out(_))) {
            return Err(self.error_at(*t, "a placeholder cannot be part of a block scalar header"));
        }
        self.after_scalar(v, j)?;
        let header_at = match v[i] {
            Atom::Ch(_, off) => off + 1,
            Atom::Out(_) => unreachable!("header starts with `|` or `>`"),
        };
        self.state = State::Block {
            parent,
            indent: explicit.map(|n| parent + n as usize),
            folded: is(&v[i], '>'),
            header_at,
            explicit: explicit.is_some(),
        };
        Ok(())
    }

    /// Adds an indentation indicator to a block header, so that a value starting with
    /// spaces on the block's first line cannot change the detected indentation.
    fn indentation_indicator(
        &mut self,
        header_at: usize,
        relative: usize,
        first: Atom,
    ) -> ScanResult {
        if !(1..=9).contains(&relative) {
            return Err(self.error_at_atom(
                first,
                "a block scalar starting with a placeholder must be indented 1 to 9 columns",
            ));
        }
        self.edits.push(Edit {
            start: header_at,
            end: header_at,
            text: relative.to_string().into(),
        });
        Ok(())
    }

    /// Widens `start..end` over block tags touching it, so that quotes added around a
    /// scalar enclose `{{#if}}...{{/if}}` pairs whole.
    /// Tags are sorted and do not overlap, so the neighbours are found by binary search:
    /// a scan of every tag per scalar made the pass quadratic in the number of tags.
    fn with_adjacent_controls(&self, mut start: usize, mut end: usize) -> (usize, usize) {
        let control = |t: &Tag| matches!(t.kind, TagKind::Control | TagKind::Partial);
        while let Ok(i) = self.tags.binary_search_by_key(&start, |t| t.end)
            && control(&self.tags[i])
        {
            start = self.tags[i].start;
        }
        while let Ok(i) = self.tags.binary_search_by_key(&end, |t| t.start)
            && control(&self.tags[i])
        {
            end = self.tags[i].end;
        }
        (start, end)
    }

    /// Line and column of a byte offset on the current line (or in a tag that started it).
    /// Counts from the last position asked for when `at` is past it, so that a line with
    /// many placeholders is not re-read from its start for each one.
    fn position(&self, at: usize) -> (usize, usize) {
        let (last, last_column) = self.last_position.get();
        let column = match self.src.get(last..at) {
            Some(between) if !between.contains('\n') && last_column > 0 => {
                last_column + between.chars().count()
            }
            _ => {
                let line_start = self.src[..at].rfind('\n').map_or(0, |i| i + 1);
                self.src[line_start..at].chars().count() + 1
            }
        };
        self.last_position.set((at, column));
        (self.line_no, column)
    }

    fn place(&mut self, tag: usize, context: Context) {
        let t = &self.tags[tag];
        let context = if t.kind == TagKind::Raw || is_yaml_producing(t.expr(self.src)) {
            Context::Raw
        } else {
            context
        };
        let (line, column) = self.position(t.start);
        self.placeholders.push((
            tag,
            Placeholder {
                line,
                column,
                context,
            },
        ));
    }

    fn error_at(&self, tag: usize, message: &str) -> PrepassError {
        let (line, column) = self.position(self.tags[tag].start);
        PrepassError {
            line,
            column,
            message: message.to_string(),
        }
    }

    fn error_at_atom(&self, a: Atom, message: &str) -> PrepassError {
        let (line, column) = self.position(atom_start(self.tags, a));
        PrepassError {
            line,
            column,
            message: message.to_string(),
        }
    }
}

fn ch(a: &Atom) -> Option<char> {
    match a {
        Atom::Ch(c, _) => Some(*c),
        Atom::Out(_) => None,
    }
}

fn is(a: &Atom, c: char) -> bool {
    ch(a) == Some(c)
}

fn is_flow_indicator(a: &Atom) -> bool {
    matches!(ch(a), Some(',' | '[' | ']' | '{' | '}'))
}

fn ends_flow_plain(v: &[Atom], i: usize) -> bool {
    match ch(&v[i]) {
        Some(',' | '[' | ']' | '{' | '}') => true,
        Some(':') => v
            .get(i + 1)
            .is_none_or(|a| is(a, ' ') || is_flow_indicator(a)),
        Some('#') => i > 0 && is(&v[i - 1], ' '),
        _ => false,
    }
}

fn starts_with(v: &[Atom], s: &str) -> bool {
    s.chars()
        .enumerate()
        .all(|(k, c)| v.get(k).is_some_and(|a| is(a, c)))
}

/// Whether the line at `i` starts a new node of its own (a key or a sequence entry)
/// rather than continuing a plain scalar.
fn starts_node(v: &[Atom], i: usize) -> bool {
    if is(&v[i], '-') && v.get(i + 1).is_none_or(|a| is(a, ' ')) {
        return true;
    }
    (i..v.len()).any(|j| is(&v[j], ':') && v.get(j + 1).is_none_or(|a| is(a, ' ')))
}

fn skip_spaces(v: &[Atom], mut i: usize) -> usize {
    while i < v.len() && is(&v[i], ' ') {
        i += 1;
    }
    i
}

fn token_end(v: &[Atom], mut i: usize) -> usize {
    while i < v.len() && !is(&v[i], ' ') {
        i += 1;
    }
    i
}

fn trim_end(v: &[Atom], start: usize, mut end: usize) -> usize {
    while end > start && is(&v[end - 1], ' ') {
        end -= 1;
    }
    end
}

fn atom_start(tags: &[Tag], a: Atom) -> usize {
    match a {
        Atom::Ch(_, off) => off,
        Atom::Out(t) => tags[t].start,
    }
}

fn atom_end(tags: &[Tag], a: Atom) -> usize {
    match a {
        Atom::Ch(c, off) => off + c.len_utf8(),
        Atom::Out(t) => tags[t].end,
    }
}

fn is_yaml_producing(expr: &str) -> bool {
    let head = expr.split_whitespace().next().unwrap_or("");
    YAML_PRODUCING_HELPERS.contains(&head)
}

#[cfg(test)]
#[path = "prepass_tests.rs"]
mod tests;
