//! Splits a Handlebars template into literal text and `{{...}}` tags.
//!
//! This is not a Handlebars parser: it only finds where each tag starts and ends and what
//! kind it is, which is all the YAML pre-pass needs. The real compilation is left to the
//! `handlebars` crate, so anything odd here still gets its precise syntax error from there.

/// What a tag does to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    /// `{{expr}}`: prints a value that we must escape for its YAML position.
    Output,
    /// `{{{expr}}}`: prints a value unescaped; the author handles it.
    Raw,
    /// Block open/close, `else`, partials, comments, decorators: print no value of their own.
    Control,
    /// `{{> name}}`: prints a partial (a [`TagKind::Control`] for YAML purposes).
    Partial,
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub start: usize,
    pub end: usize,
    pub kind: TagKind,
    /// Whitespace-control markers, kept when the tag is rewritten.
    pub tilde_left: bool,
    pub tilde_right: bool,
    /// The expression between the braces (and tildes), trimmed.
    pub expr_start: usize,
    pub expr_end: usize,
}

impl Tag {
    pub fn expr<'a>(&self, src: &'a str) -> &'a str {
        &src[self.expr_start..self.expr_end]
    }
}

/// An unterminated tag; the position is a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnclosedTag(pub usize);

/// Finds every tag in `src`, in order.
pub fn scan(src: &str) -> Result<Vec<Tag>, UnclosedTag> {
    let bytes = src.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while let Some(off) = memchr2(bytes, i) {
        let start = off;
        // `\{{` is an escaped mustache: literal text for Handlebars too.
        if start > 0 && bytes[start - 1] == b'\\' {
            i = start + 2;
            continue;
        }
        let tag = scan_tag(src, start)?;
        i = tag.end;
        tags.push(tag);
    }
    Ok(tags)
}

fn memchr2(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'{' {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn scan_tag(src: &str, start: usize) -> Result<Tag, UnclosedTag> {
    let bytes = src.as_bytes();
    let rest = &src[start..];
    // Comments may contain anything, including `}}` inside `{{!-- --}}`.
    for (open, close) in [
        ("{{!--", "--}}"),
        ("{{~!--", "--}}"),
        ("{{!", "}}"),
        ("{{~!", "}}"),
    ] {
        if rest.starts_with(open) {
            let body = start + open.len();
            let end = src[body..].find(close).ok_or(UnclosedTag(start))? + body + close.len();
            return Ok(control(start, end, body, body));
        }
    }
    let triple = rest.starts_with("{{{") && !rest.starts_with("{{{{");
    let open_len = if triple { 3 } else { 2 };
    let close = if triple { "}}}" } else { "}}" };
    let mut p = start + open_len;
    let tilde_left = bytes.get(p) == Some(&b'~');
    if tilde_left {
        p += 1;
    }
    let expr_from = p;
    // Find the closing braces, skipping string literals (`{{default "}}" x}}`).
    let mut quote: Option<u8> = None;
    while p < bytes.len() {
        let b = bytes[p];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            // Bytes, not `&str`: `p` may sit inside a multi-byte character.
            None if bytes[p..].starts_with(close.as_bytes())
                || (bytes[p] == b'~' && bytes[p + 1..].starts_with(close.as_bytes())) =>
            {
                let tilde_right = bytes[p] == b'~';
                let expr_to = p;
                let end = p + usize::from(tilde_right) + close.len();
                let (es, ee) = trim_span(src, expr_from, expr_to);
                let kind = if triple {
                    TagKind::Raw
                } else {
                    classify(&src[es..ee])
                };
                return Ok(Tag {
                    start,
                    end,
                    kind,
                    tilde_left,
                    tilde_right,
                    expr_start: es,
                    expr_end: ee,
                });
            }
            None => {}
        }
        p += 1;
    }
    Err(UnclosedTag(start))
}

/// The prefix of the renderer's own helpers (the position helpers that escape each value,
/// the partial guards that bound nesting): a template that called them could escape
/// nothing, or undo the count that stops partials including each other without end.
pub const RESERVED_PREFIX: &str = "__ko_";

/// The start of the first tag naming one of the renderer's own helpers (outside string
/// literals), if any.
pub fn reserved_use(src: &str, tags: &[Tag]) -> Option<usize> {
    tags.iter()
        .find(|t| names_reserved(t.expr(src)))
        .map(|t| t.start)
}

fn names_reserved(expr: &str) -> bool {
    let b = expr.as_bytes();
    let mut quote: Option<u8> = None;
    (0..b.len()).any(|i| match quote {
        Some(q) => {
            if b[i] == q {
                quote = None;
            }
            false
        }
        None if b[i] == b'"' || b[i] == b'\'' => {
            quote = Some(b[i]);
            false
        }
        None => b[i..].starts_with(RESERVED_PREFIX.as_bytes()),
    })
}

fn control(start: usize, end: usize, es: usize, ee: usize) -> Tag {
    Tag {
        start,
        end,
        kind: TagKind::Control,
        tilde_left: false,
        tilde_right: false,
        expr_start: es,
        expr_end: ee,
    }
}

fn trim_span(src: &str, mut s: usize, mut e: usize) -> (usize, usize) {
    let b = src.as_bytes();
    while s < e && b[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && b[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

fn classify(expr: &str) -> TagKind {
    match expr.as_bytes().first() {
        Some(b'>') => TagKind::Partial,
        Some(b'#' | b'/' | b'^' | b'!' | b'*' | b'{') => TagKind::Control,
        _ if expr == "else" || expr.starts_with("else ") => TagKind::Control,
        _ => TagKind::Output,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TagKind, String)> {
        scan(src)
            .unwrap()
            .iter()
            .map(|t| (t.kind, t.expr(src).to_string()))
            .collect()
    }

    #[test]
    fn multi_byte_characters_after_an_open_tag_do_not_panic() {
        for src in [
            "{{é",
            "{{\u{85}",
            "{{{é",
            "a: {{\u{2028}",
            "}{{😀}}",
            "{{x é}}",
            "{{~é~}}",
        ] {
            let _ = scan(src);
        }
        assert_eq!(scan("{{é").unwrap_err(), UnclosedTag(0));
        assert_eq!(kinds("{{é}}"), vec![(TagKind::Output, "é".to_string())]);
    }

    #[test]
    fn finds_output_raw_and_control_tags() {
        let k = kinds("a: {{x}}\n{{#if y}}b: {{{z}}}{{else}}{{/if}} {{> labels name=\"k\"}}");
        assert_eq!(
            k,
            vec![
                (TagKind::Output, "x".into()),
                (TagKind::Control, "#if y".into()),
                (TagKind::Raw, "z".into()),
                (TagKind::Control, "else".into()),
                (TagKind::Control, "/if".into()),
                (TagKind::Partial, "> labels name=\"k\"".into()),
            ]
        );
    }

    #[test]
    fn string_literals_may_hold_closing_braces() {
        let k = kinds(r#"{{default "}}" x}} {{y}}"#);
        assert_eq!(k[0], (TagKind::Output, r#"default "}}" x"#.into()));
        assert_eq!(k[1], (TagKind::Output, "y".into()));
    }

    #[test]
    fn comments_and_whitespace_control() {
        let src = "{{!-- a }} b --}}{{~ x ~}}";
        let tags = scan(src).unwrap();
        assert_eq!(tags[0].kind, TagKind::Control);
        assert_eq!(tags[0].end, 17);
        assert!(tags[1].tilde_left && tags[1].tilde_right);
        assert_eq!(tags[1].expr(src), "x");
    }

    #[test]
    fn escaped_mustache_is_text() {
        assert!(kinds(r"a: \{{x}}").is_empty());
    }

    #[test]
    fn the_renderers_own_helpers_are_found_outside_strings_only() {
        for (src, found) in [
            ("{{__ko_partial_leave}}", Some(0)),
            ("a {{#if (__ko_raw x 0 0)}}{{/if}}", Some(2)),
            ("{{x}} {{> p k=(__ko_value y)}}", Some(6)),
            ("{{#__ko_partial_leave}}{{/__ko_partial_leave}}", Some(0)),
            ("{{default \"__ko_value\" x}} {{'__ko_'}}", None),
            ("{{!-- __ko_value --}} {{__kox}}", None),
        ] {
            let tags = scan(src).unwrap();
            assert_eq!(reserved_use(src, &tags), found, "{src}");
        }
    }

    #[test]
    fn unclosed_tag_is_reported_with_its_offset() {
        assert_eq!(scan("ab {{x").unwrap_err(), UnclosedTag(3));
    }
}
