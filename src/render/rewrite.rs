//! Writing the pre-pass's findings back into the template: each printing tag wrapped in
//! its context helper, the recorded quoting edits applied, and, for templates of plain
//! values only, the pieces that let them render without Handlebars.

use super::prepass::{Copied, Edit, Piece, Placeholder};
use super::tags::{Tag, TagKind};

/// Builds the rewritten template: the recorded edits, plus every printing tag wrapped in
/// its context helper.
/// Returns the text, for each wrapped tag its range in the text and placeholder index, and
/// the parts of the text copied from `src` ([`Copied`]).
pub(super) fn apply_edits(
    src: &str,
    tags: &[Tag],
    mut edits: Vec<Edit>,
    placeholders: &[(usize, Placeholder)],
    file_id: usize,
) -> (String, Vec<(usize, usize, usize)>, Vec<Copied>) {
    // The wrapped tags, by where they start; written straight into the output rather than
    // built as a string each (a large template has hundreds of thousands).
    let mut wraps: Vec<(usize, usize)> = placeholders
        .iter()
        .enumerate()
        .map(|(index, (t, _))| (tags[*t].start, index))
        .collect();
    wraps.sort_unstable();
    // Insertions at a tag's start go before the tag's own replacement.
    edits.sort_by_key(|e| (e.start, e.end != e.start));
    let mut wrapped = Vec::with_capacity(placeholders.len());
    let mut copied = Copies::default();
    let mut out = String::with_capacity(src.len() + edits.len() * 2 + wraps.len() * 24);
    let mut at = 0;
    let mut edits = edits.into_iter().peekable();
    let mut wraps = wraps.into_iter().peekable();
    loop {
        let next_edit = edits.peek().map(|e| e.start);
        let next_wrap = wraps.peek().map(|w| w.0);
        match (next_edit, next_wrap) {
            (Some(e), w) if w.is_none_or(|w| e <= w) => {
                let e = edits.next().expect("peeked");
                copied.push(&mut out, src, at.min(e.start)..e.start);
                out.push_str(&e.text);
                at = e.end.max(at);
            }
            (_, Some(_)) => {
                let (start, index) = wraps.next().expect("peeked");
                let tag = &tags[placeholders[index].0];
                copied.push(&mut out, src, at.min(start)..start);
                let begin = out.len();
                wrap_into(&mut out, src, tag, &placeholders[index].1, file_id, index);
                wrapped.push((begin, out.len(), index));
                at = tag.end.max(at);
            }
            (None, None) => break,
            (Some(_), None) => unreachable!("the first arm takes an edit when no wrap is left"),
        }
    }
    copied.push(&mut out, src, at.min(src.len())..src.len());
    (out, wrapped, copied.0)
}

#[derive(Default)]
struct Copies(Vec<Copied>);

impl Copies {
    /// Copies `range` of `src` to the end of `out`, noting where it went.
    fn push(&mut self, out: &mut String, src: &str, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        let at = out.len();
        out.push_str(&src[range.clone()]);
        self.0.push(Copied {
            out: at..out.len(),
            src: range.start,
        });
    }
}

/// `{{[~]HELPER EXPR FILE INDEX[~]}}`: a printing tag wrapped in its context helper.
fn wrap_into(
    out: &mut String,
    src: &str,
    tag: &Tag,
    p: &Placeholder,
    file_id: usize,
    index: usize,
) {
    use std::fmt::Write;
    let expr = tag.expr(src);
    out.push_str(if tag.tilde_left { "{{~" } else { "{{" });
    out.push_str(p.context.helper());
    out.push(' ');
    if is_single_token(expr) {
        out.push_str(expr);
    } else {
        out.push('(');
        out.push_str(expr);
        out.push(')');
    }
    write!(out, " {file_id} {index}").expect("string write");
    out.push_str(if tag.tilde_right { "~}}" } else { "}}" });
}

/// The pieces of a template that needs nothing of Handlebars but value lookups: every tag
/// a plain path, no whitespace control, no escaped mustaches.
pub(super) fn direct_pieces(
    src: &str,
    tags: &[Tag],
    placeholders: &[(usize, Placeholder)],
    wrapped: &[(usize, usize, usize)],
    len: usize,
) -> Option<Vec<Piece>> {
    let simple = |t: &Tag| {
        matches!(t.kind, TagKind::Output | TagKind::Raw)
            && !t.tilde_left
            && !t.tilde_right
            && is_simple_path(t.expr(src))
    };
    if src.contains("\\{{") || !tags.iter().all(simple) || wrapped.len() != tags.len() {
        return None;
    }
    let mut pieces = Vec::with_capacity(wrapped.len() * 2 + 1);
    let mut at = 0;
    for &(start, end, index) in wrapped {
        pieces.push(Piece::Text(at..start));
        let expr = tags[placeholders[index].0].expr(src);
        pieces.push(Piece::Value {
            placeholder: index,
            path: expr.into(),
        });
        at = end;
    }
    pieces.push(Piece::Text(at..len));
    Some(pieces)
}

fn is_simple_path(expr: &str) -> bool {
    // `this.a` is Handlebars' `a`, which a lookup of `this` then `a` would not find.
    !matches!(expr, "this" | "true" | "false" | "null" | "else")
        && !expr.starts_with("this.")
        && expr.split('.').all(|seg| {
            let mut cs = seg.chars();
            cs.next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

fn is_single_token(expr: &str) -> bool {
    let mut quote = None;
    for c in expr.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => return false,
            None => {}
        }
    }
    !expr.starts_with('(')
}

/// Bare names used by the template's expressions (first path segment), keywords and
/// literals excluded. Helper names are included; they only matter if a parameter shares them.
pub(super) fn referenced_names(src: &str, tags: &[Tag]) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for t in tags {
        let expr = t.expr(src);
        if expr.starts_with('!') {
            continue;
        }
        let mut quote = None;
        let mut word = String::new();
        let mut push = |w: &mut String, next: Option<char>| {
            let w2 = w
                .trim_start_matches(['#', '/', '^', '>', '(', '~'])
                .trim_start_matches("@root.");
            let w2 = w2.trim_start_matches("this.");
            let first = w2.split(['.', '/', '[']).next().unwrap_or("");
            if next != Some('=')
                && first
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                && !matches!(first, "else" | "this" | "true" | "false" | "null" | "as")
                && !names.contains(first)
            {
                names.insert(first.to_string());
            }
            w.clear();
        };
        for c in expr.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c.is_whitespace() || c == ')' || c == '=' || c == '|' => {
                    push(&mut word, Some(c))
                }
                None => word.push(c),
            }
        }
        push(&mut word, None);
    }
    names.into_iter().collect()
}
