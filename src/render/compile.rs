//! Compiling a large template in pieces, so that its compilation takes time in proportion
//! to its size.
//!
//! Handlebars records the line and column of every element it compiles by counting from
//! the start of the text it was given, so one compilation of a template with n elements
//! takes time in n²: a 1 MB template of helpers took minutes. A large template is
//! therefore cut into pieces of a few kilobytes, each compiled alone, and the pieces'
//! elements joined into one template, their lines shifted by the lines before them: the
//! same elements and positions the whole compilation gives.
//!
//! A cut is made only where it cannot change what Handlebars compiles: after a line break
//! in the text between two value tags outside every block, neither with whitespace
//! control or a backslash (standalone lines, `~` and escapes look at the text beside a
//! tag). A template with raw blocks or escaped mustaches is not cut. A piece that does not
//! compile makes the whole template compile at once, so errors are Handlebars' own.

use super::tags::{self, Tag, TagKind};
use handlebars::template::TemplateElement;
use handlebars::{Template, TemplateError};

/// The size of a piece: small enough that counting from its start stays cheap.
const PIECE: usize = 4096;

/// Compiles `text` as Handlebars would at once, in pieces when it is large.
pub fn compile(text: &str, name: &str) -> Result<Template, TemplateError> {
    compile_in(text, name, PIECE)
}

fn compile_in(text: &str, name: &str, piece: usize) -> Result<Template, TemplateError> {
    let whole = || Template::compile_with_name(text, name.to_string());
    if text.len() <= 2 * piece {
        return whole();
    }
    let Some(cuts) = cuts(text, piece) else {
        return whole();
    };
    let mut joined: Option<Template> = None;
    let (mut at, mut lines) = (0, 0);
    for cut in cuts.into_iter().chain([text.len()]) {
        let part = &text[at..cut];
        let Ok(mut t) = Template::compile_with_name(part, name.to_string()) else {
            return whole();
        };
        shift(&mut t, lines);
        match &mut joined {
            None => joined = Some(t),
            Some(j) => append(j, t),
        }
        lines += part.bytes().filter(|&b| b == b'\n').count();
        at = cut;
    }
    joined.map_or_else(whole, Ok)
}

/// Appends the elements of `next` to `joined`; text cut in two is made one again.
fn append(joined: &mut Template, next: Template) {
    use TemplateElement::RawString;
    let seam = matches!(
        (joined.elements.last(), next.elements.first()),
        (Some(RawString(_)), Some(RawString(_)))
    );
    let mut elements = next.elements.into_iter();
    let mut mapping = next.mapping.into_iter();
    if seam {
        if let (Some(RawString(tail)), Some(RawString(head))) =
            (joined.elements.last_mut(), elements.next())
        {
            tail.push_str(&head);
        }
        mapping.next();
    }
    joined.elements.extend(elements);
    joined.mapping.extend(mapping);
}

/// Moves every element of `t`, inner templates too, `lines` lines down.
fn shift(t: &mut Template, lines: usize) {
    use TemplateElement::*;
    for m in &mut t.mapping {
        m.0 += lines;
    }
    for e in &mut t.elements {
        match e {
            HtmlExpression(h) | Expression(h) | HelperBlock(h) => {
                for inner in h.template.iter_mut().chain(h.inverse.iter_mut()) {
                    shift(inner, lines);
                }
            }
            DecoratorExpression(d) | DecoratorBlock(d) | PartialExpression(d) | PartialBlock(d) => {
                if let Some(inner) = &mut d.template {
                    shift(inner, lines);
                }
            }
            _ => {}
        }
    }
}

/// Where to cut `text` (offsets just after a line break), or `None` when it cannot be
/// cut safely.
fn cuts(text: &str, piece: usize) -> Option<Vec<usize>> {
    if text.contains("{{{{") || text.contains("\\{{") {
        return None;
    }
    let tags = tags::scan(text).ok()?;
    let mut cuts = Vec::new();
    let (mut depth, mut last) = (0usize, 0);
    for pair in tags.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        depth = nesting(text, before, depth)?;
        if depth > 0 || !plain(text, before) || !plain(text, after) {
            continue;
        }
        if before.tilde_right || after.tilde_left || after.start - last < piece {
            continue;
        }
        if let Some(nl) = text[before.end..after.start].rfind('\n') {
            last = before.end + nl + 1;
            cuts.push(last);
        }
    }
    Some(cuts)
}

/// The block depth after `tag`; `None` when blocks close more than they open.
fn nesting(text: &str, tag: &Tag, depth: usize) -> Option<usize> {
    let expr = tag.expr(text);
    match tag.kind {
        TagKind::Control if expr.starts_with('#') => Some(depth + 1),
        TagKind::Control if expr.starts_with('^') && expr[1..].trim() != "" => Some(depth + 1),
        TagKind::Control if expr.starts_with('/') => depth.checked_sub(1),
        _ => Some(depth),
    }
}

/// A value tag whose end both scanners find in the same place.
fn plain(text: &str, tag: &Tag) -> bool {
    matches!(tag.kind, TagKind::Output | TagKind::Raw) && !tag.expr(text).contains('\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cut or not, a template compiles to the same elements at the same positions.
    #[test]
    fn pieces_compile_to_the_whole() {
        let parts = [
            "a: {{x}}\n",
            "b: {{__ko_value (default \"d\" y) 0 1}}\n",
            "{{#if x}}\nc: {{y}}\n{{else}}\nd: 1\n{{/if}}\n",
            "  {{! note }}\n",
            "e: {{~x}}  \n",
            "f: {{x~}}\n  g\n",
            "{{#each l}}\n- {{this}}\n{{/each}}\n",
            "h: \"{{{x}}}\"\r\n",
            "i: é{{x}}ü\n\n",
            "{{> p}}\n",
            "k: {{x}} {{y}}\n",
            "{{#if x}}\nl: 1\n{{else if y}}\nl: 2\n{{/if}}\n",
            "{{#*inline \"q\"}}\nm: {{x}}\n{{/inline}}\n",
            "{{!-- {{#if x}} --}}\nn: {{x}}\n",
            "{{#> layout}}\no: {{x}}\n{{/layout}}\n",
            "{{#each l as |v|}}\n  - {{v}}\n{{/each}}\n",
        ];
        let (mut seed, mut cut_rounds) = (7u64, 0);
        for round in 0..200 {
            let mut text = String::new();
            for _ in 0..(20 + round % 40) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(parts[(seed >> 33) as usize % parts.len()]);
            }
            let whole = Template::compile_with_name(&text, "t".into());
            let cut = compile_in(&text, "t", 16);
            cut_rounds += usize::from(cuts(&text, 16).is_some_and(|c| !c.is_empty()));
            assert!(whole.is_ok(), "template {text:?}");
            assert_eq!(whole.ok(), cut.ok(), "template {text:?}");
        }
        assert!(cut_rounds > 150, "only {cut_rounds} templates were cut");
    }

    #[test]
    fn an_unbalanced_template_fails_as_a_whole() {
        let text = "a: {{x}}\n".repeat(10) + "{{/if}}\n" + &"b: {{y}}\n".repeat(10);
        let whole = Template::compile_with_name(&text, "t".into()).unwrap_err();
        let cut = compile_in(&text, "t", 16).unwrap_err();
        assert_eq!(whole.pos(), cut.pos());
        assert_eq!(whole.reason().to_string(), cut.reason().to_string());
    }
}
