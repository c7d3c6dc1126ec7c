//! Escaping a value for the YAML position its placeholder sits in.
//!
//! The rules follow YAML 1.1 as Kubernetes reads it (sigs.k8s.io/yaml): besides `\n`,
//! YAML 1.1 also breaks lines at CR, NEL (U+0085), LS (U+2028) and PS (U+2029), and any
//! character outside the printable set must be escaped.

use serde_json::Value as Json;
use std::fmt::Write;

/// Why a value cannot be placed where its placeholder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaceable(pub &'static str);

/// Appends `s` escaped for the inside of a double-quoted scalar.
pub fn double_quoted_into(s: &str, out: &mut String) {
    // Most values are printable ASCII with no quote or backslash: copied as they are,
    // without decoding a character at a time.
    if s.bytes()
        .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
    {
        out.push_str(s);
        return;
    }
    // Copy runs of safe characters at once.
    let mut run = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\t' => Some("\\t"),
            '\r' => Some("\\r"),
            '\0' => Some("\\0"),
            c if needs_escape(c) => None,
            _ => continue,
        };
        out.push_str(&s[run..i]);
        match esc {
            Some(e) => out.push_str(e),
            None if (c as u32) <= 0xFF => write!(out, "\\x{:02X}", c as u32).expect("string write"),
            None => write!(out, "\\u{:04X}", c as u32).expect("string write"),
        }
        run = i + c.len_utf8();
    }
    out.push_str(&s[run..]);
}

/// Characters outside YAML's printable set, and the YAML 1.1 line breaks.
pub fn needs_escape(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || (0x7F..=0x9F).contains(&u)
        || matches!(u, 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF)
}

/// Characters that end a line in YAML 1.1 other than `\n`.
fn is_other_line_break(c: char) -> bool {
    matches!(c, '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Appends `v` as a YAML flow value that reads back as the same JSON value: strings are
/// double-quoted, so `yes`, `null`, `0x1F` or `1e3` stay strings.
pub fn flow_value_into(v: &Json, out: &mut String) {
    match v {
        Json::String(s) => {
            out.push('"');
            double_quoted_into(s, out);
            out.push('"');
        }
        Json::Number(n) => {
            let text = n.to_string();
            // YAML 1.1 reads `1e300` as a string: give every float exponent a fraction.
            match text.find(['e', 'E']) {
                Some(e) if !text[..e].contains('.') => {
                    out.push_str(&text[..e]);
                    out.push_str(".0");
                    out.push_str(&text[e..]);
                }
                _ => out.push_str(&text),
            }
        }
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Null => out.push_str("null"),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow_value_into(item, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('"');
                double_quoted_into(k, out);
                out.push_str("\": ");
                flow_value_into(item, out);
            }
            out.push('}');
        }
    }
}

/// Appends `s` as content of a literal block scalar indented by `indent`: every line of
/// the value after the first is indented so that it stays inside the block.
pub fn literal_into(s: &str, indent: usize, out: &mut String) -> Result<(), Unplaceable> {
    check_block_chars(s)?;
    let mut lines = s.split('\n');
    out.push_str(lines.next().unwrap_or(""));
    for line in lines {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', indent));
        out.push_str(line);
    }
    Ok(())
}

/// Appends `s` inside a folded block scalar, where a line break would be folded away.
pub fn folded_into(s: &str, out: &mut String) -> Result<(), Unplaceable> {
    if s.contains('\n') {
        return Err(Unplaceable(
            "a folded block scalar (`>`) cannot keep its line breaks; use `|`",
        ));
    }
    check_block_chars(s)?;
    out.push_str(s);
    Ok(())
}

fn check_block_chars(s: &str) -> Result<(), Unplaceable> {
    if s.chars().any(is_other_line_break) {
        return Err(Unplaceable(
            "it contains a carriage return or a Unicode line break, which a block scalar cannot hold; \
             place it in a quoted scalar",
        ));
    }
    if s.chars().any(|c| c != '\n' && c != '\t' && needs_escape(c)) {
        return Err(Unplaceable(
            "it contains a control character, which a block scalar cannot hold; place it in a quoted scalar",
        ));
    }
    Ok(())
}

/// Appends `s` inside a comment: line breaks are written as `\n` so nothing leaves it.
pub fn comment_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            // A control character is not allowed even in a comment; a tab is.
            c if is_other_line_break(c) || (c != '\t' && needs_escape(c)) => {
                write!(out, "\\u{:04X}", c as u32).expect("string write")
            }
            c => out.push(c),
        }
    }
}

/// The text of a value printed inside a string: strings as they are, other values as
/// their YAML flow form.
pub fn text_of(v: &Json) -> std::borrow::Cow<'_, str> {
    match v {
        Json::String(s) => std::borrow::Cow::Borrowed(s),
        Json::Null => std::borrow::Cow::Borrowed(""),
        other => {
            let mut s = String::new();
            flow_value_into(other, &mut s);
            std::borrow::Cow::Owned(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dq(s: &str) -> String {
        let mut out = String::new();
        double_quoted_into(s, &mut out);
        out
    }

    #[test]
    fn double_quoted_escapes_quotes_backslashes_and_breaks() {
        assert_eq!(dq("a\"b\\c\nd\te"), "a\\\"b\\\\c\\nd\\te");
        assert_eq!(dq("\u{7}\u{85}\u{2028}é"), "\\x07\\x85\\u2028é");
        assert_eq!(
            dq("plain: # {x} [y] & * ! | > % @"),
            "plain: # {x} [y] & * ! | > % @"
        );
    }

    #[test]
    fn flow_values_keep_their_type() {
        let mut out = String::new();
        flow_value_into(
            &json!({"k\"": [1, 2.5, 1e300, true, null, "yes"]}),
            &mut out,
        );
        assert_eq!(out, r#"{"k\"": [1, 2.5, 1.0e+300, true, null, "yes"]}"#);
    }

    #[test]
    fn literal_indents_continuation_lines() {
        let mut out = String::new();
        literal_into("a\n b\n\nc", 4, &mut out).unwrap();
        assert_eq!(out, "a\n     b\n    \n    c");
    }

    #[test]
    fn block_scalars_refuse_what_they_cannot_hold() {
        let mut out = String::new();
        assert!(literal_into("a\rb", 2, &mut out).is_err());
        assert!(literal_into("a\u{1b}b", 2, &mut out).is_err());
        assert!(folded_into("a\nb", &mut out).is_err());
        assert!(folded_into("a b", &mut out).is_ok());
    }

    #[test]
    fn comments_keep_values_on_their_line() {
        let mut out = String::new();
        comment_into("a\nkind: x\u{2028}", &mut out);
        assert_eq!(out, "a\\nkind: x\\u2028");
    }
}
