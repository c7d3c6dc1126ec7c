//! What a message may show of a value: nothing, when the value may be a secret.
//!
//! - [`without_values`]: a parser's message with the values it quotes taken out. serde's
//!   messages quote what they found (`invalid type: string "<password>", expected ...`);
//!   that is the password when a template put one where YAML wanted a map, or when a
//!   damaged state file is read. The position, the expected type and field names stay.
//! - [`urls`]: URLs in a text without user info, query string or fragment, any of which
//!   may hold a credential or a token (`http://user:pass@host/`, `?token=...`).

/// A parser's error, with the values it quoted taken out (see [`without_values`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ValueFree(String);

impl ValueFree {
    pub fn new(error: &dyn std::fmt::Display) -> ValueFree {
        ValueFree(without_values(&error.to_string()))
    }
}

/// How serde describes a value it found, and what to say instead.
const QUOTED: &[(&str, char, &str)] = &[
    ("string \"", '"', "a string"),
    ("character `", '`', "a character"),
    ("integer `", '`', "an integer"),
    ("floating point `", '`', "a number"),
    ("boolean `", '`', "a boolean"),
    ("unknown variant `", '`', "an unknown variant"),
    ("duplicate entry with key \"", '"', "a duplicate entry"),
];

/// `message` with every value serde quoted in it replaced by what kind of value it was.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    'scan: while !rest.is_empty() {
        for (opening, close, instead) in QUOTED {
            if let Some(after) = rest.strip_prefix(opening) {
                // Strings are written with Rust's escapes: `\"` does not close them.
                let mut escaped = false;
                for (i, c) in after.char_indices() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' && *close == '"' {
                        escaped = true;
                    } else if c == *close {
                        out.push_str(instead);
                        rest = &after[i + c.len_utf8()..];
                        continue 'scan;
                    }
                }
                // Unterminated (cut off): drop the rest rather than show part of it.
                out.push_str(instead);
                return out;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `text` with the user info, query string and fragment of every URL in it removed.
pub fn urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters just before `://`.
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[at + 3..]
            .find(|c: char| c.is_whitespace() || matches!(c, '`' | '"' | '\'' | ')' | '>' | ']'))
            .map_or(rest.len(), |i| at + 3 + i);
        out.push_str(&rest[..scheme_start]);
        let candidate = &rest[scheme_start..end];
        match url::Url::parse(candidate) {
            Ok(mut url) if scheme_start < at => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.set_query(None);
                url.set_fragment(None);
                let mut shown = url.to_string();
                // `Url` adds a `/` to a bare host; keep the text as it was written.
                if !candidate.ends_with('/') && shown.ends_with('/') && url.path() == "/" {
                    shown.pop();
                }
                out.push_str(&shown);
            }
            _ => out.push_str(&strip_userinfo(candidate)),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A URL-like text that does not parse: drop whatever sits between `://` and an `@`,
/// and everything from a `?` or `#` on.
fn strip_userinfo(text: &str) -> String {
    let text = &text[..text.find(['?', '#']).unwrap_or(text.len())];
    match (text.find("://"), text.rfind('@')) {
        (Some(s), Some(a)) if a > s => format!("{}{}", &text[..s + 3], &text[a + 1..]),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_messages_lose_their_values_and_keep_the_rest() {
        let cases = [
            (
                "metadata: invalid type: string \"s3cr\\\"et: #1\", expected struct Metadata at line 3 column 11",
                "metadata: invalid type: a string, expected struct Metadata at line 3 column 11",
            ),
            (
                "invalid type: integer `1234`, expected a string at line 1 column 7",
                "invalid type: an integer, expected a string at line 1 column 7",
            ),
            (
                "invalid value: floating point `1.5`, expected u32",
                "invalid value: a number, expected u32",
            ),
            (
                "unknown variant `hunter2`, expected one of `a`, `b`",
                "an unknown variant, expected one of `a`, `b`",
            ),
            (
                "invalid type: character `x`, expected",
                "invalid type: a character, expected",
            ),
            ("invalid type: string \"cut off", "invalid type: a string"),
            (
                "missing field `name` at line 2 column 1",
                "missing field `name` at line 2 column 1",
            ),
            (
                "expected `,` or `}` at line 1 column 20",
                "expected `,` or `}` at line 1 column 20",
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(without_values(message), expected);
        }
        // Real parsers' messages.
        let yaml = serde_yaml::from_str::<std::collections::BTreeMap<String, String>>(
            "metadata: {a: 1}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(!without_values(&yaml).contains("a: 1"), "{yaml}");
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct M {
            m: std::collections::BTreeMap<String, String>,
        }
        let err = serde_yaml::from_str::<M>("m: 'p@ss\"w\\\\ord'\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p@ss"), "{err}");
        assert!(
            !without_values(&err).contains("p@ss"),
            "{}",
            without_values(&err)
        );
        let err = serde_json::from_str::<u32>("\"pa\\\"ss\"")
            .unwrap_err()
            .to_string();
        assert!(
            !without_values(&err).contains("pa"),
            "{}",
            without_values(&err)
        );
    }

    #[test]
    fn urls_lose_credentials_queries_and_fragments() {
        let cases = [
            (
                "cannot download http://user:pass@127.0.0.1:8080/t.tar.gz: 404",
                "cannot download http://127.0.0.1:8080/t.tar.gz: 404",
            ),
            (
                "error sending request for url (https://h/x?token=abc&y=1)",
                "error sending request for url (https://h/x)",
            ),
            (
                "`include https://u@h/a.yaml#frag`: no",
                "`include https://h/a.yaml`: no",
            ),
            (
                "at https://example.com, then",
                "at https://example.com, then",
            ),
            ("no url here", "no url here"),
            (
                "two: http://a:b@x/ and ftp://c:d@y/z",
                "two: http://x/ and ftp://y/z",
            ),
            ("`http://u:p@[bad/x?token=t`", "`http://[bad/x`"),
        ];
        for (text, expected) in cases {
            assert_eq!(urls(text), expected, "{text}");
        }
    }
}
