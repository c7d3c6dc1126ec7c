//! Writing the pre-pass's findings back into the template: each printing tag wrapped in
//! its context helper, the recorded quoting edits applied, and, for templates of plain
//! values only, the pieces that let them render without Handlebars.

use super::prepass::{Edit, Piece, Placeholder};
use super::tags::{Tag, TagKind};

/// Builds the rewritten template: the recorded edits, plus every printing tag wrapped in
/// its context helper.
/// Returns the text and, for each wrapped tag, its range in the text and placeholder index.
pub(super) fn apply_edits(
    src: &str,
    tags: &[Tag],
    mut edits: Vec<Edit>,
    placeholders: &[(usize, Placeholder)],
    file_id: usize,
) -> (String, Vec<(usize, usize, usize)>) {
    let mut wrapped_at = std::collections::HashMap::new();
    for (index, (t, p)) in placeholders.iter().enumerate() {
        let tag = &tags[*t];
        let expr = tag.expr(src);
        let arg = if is_single_token(expr) {
            expr.to_string()
        } else {
            format!("({expr})")
        };
        let text = format!(
            "{{{{{}{} {} {} {}{}}}}}",
            if tag.tilde_left { "~" } else { "" },
            p.context.helper(),
            arg,
            file_id,
            index,
            if tag.tilde_right { "~" } else { "" },
        );
        wrapped_at.insert(tag.start, index);
        edits.push(Edit {
            start: tag.start,
            end: tag.end,
            text,
        });
    }
    let mut wrapped = Vec::with_capacity(placeholders.len());
    // Insertions at a tag's start go before the tag's own replacement.
    edits.sort_by_key(|e| (e.start, e.end != e.start));
    let mut out = String::with_capacity(src.len() + edits.len() * 24);
    let mut at = 0;
    for e in edits {
        out.push_str(&src[at..e.start]);
        if e.end > e.start
            && let Some(&index) = wrapped_at.get(&e.start)
        {
            wrapped.push((out.len(), out.len() + e.text.len(), index));
        }
        out.push_str(&e.text);
        at = e.end.max(at);
    }
    out.push_str(&src[at..]);
    (out, wrapped)
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
            path: expr.split('.').map(str::to_string).collect(),
        });
        at = end;
    }
    pieces.push(Piece::Text(at..len));
    Some(pieces)
}

fn is_simple_path(expr: &str) -> bool {
    !matches!(expr, "this" | "true" | "false" | "null" | "else")
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
    let mut names = Vec::new();
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
            {
                names.push(first.to_string());
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
    names.sort();
    names.dedup();
    names
}
