//! Reading YAML the way Kubernetes reads it, strictly: a key given twice in one mapping is
//! an error (serde would keep the last one silently), reported with the line of the
//! second one.
//!
//! [`Unique`] walks any document, keeping nothing, and fails on the first duplicate key;
//! [`check`] runs it over a text. Parsers that build their own value use [`KeySet`].
//!
//! Every text goes through [`from_str`] or [`documents`], which refuse flow collections
//! nested deeper than serde_yaml reads anyway ([`MAX_DEPTH`]) before parsing: libyaml's
//! scanner takes time that grows with the square of that nesting, so a few hundred
//! kilobytes of `[[[[` would hold any command for minutes.

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// The message a duplicate key fails with: `duplicate key `NAME``, to which serde_yaml
/// adds the mapping's path and position (`data: duplicate key `x` at line 5 column 3`).
pub const DUPLICATE: &str = "duplicate key";

/// The keys seen in one mapping.
#[derive(Default)]
pub struct KeySet(HashSet<String>);

impl KeySet {
    /// Records `key`; a key seen before is an error.
    pub fn insert<E: de::Error>(&mut self, key: Key) -> Result<(), E> {
        match key.0 {
            Some(text) if !self.0.insert(text.clone()) => {
                Err(E::custom(format!("{DUPLICATE} `{text}`")))
            }
            _ => Ok(()),
        }
    }
}

/// A mapping key as text (`None` for a key that is itself a mapping or a sequence, which
/// is not compared).
pub struct Key(Option<String>);

impl Key {
    pub fn text(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key(Some("null".into())))
            }
            fn visit_none<E>(self) -> Result<Key, E> {
                Ok(Key(Some("null".into())))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
                Key::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Key, A::Error> {
                UniqueVisitor.visit_seq(seq).map(|_| Key(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Key, A::Error> {
                UniqueVisitor.visit_map(map).map(|_| Key(None))
            }
            fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Key, A::Error> {
                UniqueVisitor.visit_enum(data).map(|_| Key(None))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

/// Any YAML value, kept nowhere, whose mappings have no duplicate key.
pub struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_none<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Unique, D::Error> {
        Unique::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut keys = KeySet::default();
        while let Some(key) = map.next_key::<Key>()? {
            keys.insert(key)?;
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Unique, A::Error> {
        // A tagged value (`!tag value`): its value is checked like any other.
        let (_, variant) = data.variant::<Key>()?;
        de::VariantAccess::newtype_variant_seed(variant, UniqueSeed)
    }
}

struct UniqueSeed;

impl<'de> DeserializeSeed<'de> for UniqueSeed {
    type Value = Unique;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Unique, D::Error> {
        Unique::deserialize(d)
    }
}

/// How deep flow collections (`[...]`, `{...}`) may nest: serde_yaml's recursion limit,
/// past which it refuses a value anyway.
pub const MAX_DEPTH: usize = 128;

/// Flow collections nested deeper than [`MAX_DEPTH`]; where the first level too deep opens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("collections nested more than {MAX_DEPTH} deep at line {line} column {column}")]
pub struct TooDeep {
    pub line: usize,
    pub column: usize,
}

/// `serde_yaml::from_str`, with nesting deeper than [`MAX_DEPTH`] refused first.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_yaml::Error> {
    check_depth(text).map_err(<serde_yaml::Error as de::Error>::custom)?;
    serde_yaml::from_str(text)
}

/// The documents of a text (`serde_yaml::Deserializer::from_str`), with nesting deeper
/// than [`MAX_DEPTH`] refused first.
pub fn documents(text: &str) -> Result<serde_yaml::Deserializer<'_>, TooDeep> {
    check_depth(text)?;
    Ok(serde_yaml::Deserializer::from_str(text))
}

/// Fails on flow collections nested deeper than [`MAX_DEPTH`], saying where. Reads the
/// tokens of libyaml's scanner (the one serde_yaml parses with, so both agree on what
/// opens a collection) and stops at the first level too deep, before the scan turns slow.
pub fn check_depth(text: &str) -> Result<(), TooDeep> {
    // A text with few openers cannot nest deeply: most never need the scan.
    if text.bytes().filter(|b| matches!(b, b'[' | b'{')).count() <= MAX_DEPTH {
        return Ok(());
    }
    use std::mem::MaybeUninit;
    use unsafe_libyaml as unsafe_y;
    let mut parser = MaybeUninit::<unsafe_y::yaml_parser_t>::uninit();
    let mut token = MaybeUninit::<unsafe_y::yaml_token_t>::uninit();
    // SAFETY: the calls follow libyaml's contract: the parser is initialized before use and
    // deleted once; the input outlives the parser; every token scanned is deleted.
    unsafe {
        if unsafe_y::yaml_parser_initialize(parser.as_mut_ptr()).fail {
            return Ok(()); // out of memory: the parse that follows says so
        }
        let parser = parser.as_mut_ptr();
        unsafe_y::yaml_parser_set_input_string(parser, text.as_ptr(), text.len() as u64);
        let mut depth = 0usize;
        let result = loop {
            // A syntax error: serde_yaml stops at it too, and says what it is.
            if unsafe_y::yaml_parser_scan(parser, token.as_mut_ptr()).fail {
                break Ok(());
            }
            let t = token.as_mut_ptr();
            let (kind, mark) = ((*t).type_, (*t).start_mark);
            unsafe_y::yaml_token_delete(t);
            match kind {
                unsafe_y::YAML_FLOW_SEQUENCE_START_TOKEN
                | unsafe_y::YAML_FLOW_MAPPING_START_TOKEN => {
                    depth += 1;
                }
                unsafe_y::YAML_FLOW_SEQUENCE_END_TOKEN | unsafe_y::YAML_FLOW_MAPPING_END_TOKEN => {
                    depth = depth.saturating_sub(1);
                }
                unsafe_y::YAML_STREAM_END_TOKEN | unsafe_y::YAML_NO_TOKEN => break Ok(()),
                _ => {}
            }
            if depth > MAX_DEPTH {
                break Err(TooDeep {
                    line: mark.line as usize + 1,
                    column: mark.column as usize + 1,
                });
            }
        };
        unsafe_y::yaml_parser_delete(parser);
        result
    }
}

/// Checks a YAML (or JSON) text for duplicate keys; the error says which key and where.
pub fn check(text: &str) -> Result<(), String> {
    for doc in documents(text).map_err(|e| e.to_string())? {
        if let Err(e) = Unique::deserialize(doc) {
            let line = e.location().map(|l| l.line());
            return Err(locate_duplicate(text, &e.to_string(), line));
        }
    }
    Ok(())
}

/// A key given twice in one mapping, with the lines of both (within the text searched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Where the mapping sits (`data: `), as serde_yaml says it; may be empty.
    pub path: String,
    pub key: String,
    pub first: usize,
    pub second: usize,
}

/// serde_yaml puts a mapping's error at the mapping's start (`start_line` of `text`);
/// for a duplicate key, finds the lines of both occurrences below that start.
pub fn duplicate(text: &str, message: &str, start_line: Option<usize>) -> Option<Duplicate> {
    let at = message.find(DUPLICATE)?;
    let key = message[at..].split('`').nth(1)?.to_string();
    let start = start_line?;
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '-']).len();
    let column = lines.get(start.saturating_sub(1)).map_or(0, |l| indent(l));
    let is_key_line = |l: &&str| {
        let body = l.get(column..).unwrap_or_default();
        indent(l) == column
            && [
                format!("{key}:"),
                format!("\"{key}\":"),
                format!("'{key}':"),
            ]
            .iter()
            .any(|k| body.starts_with(k.as_str()))
    };
    let found: Vec<usize> = lines
        .iter()
        .enumerate()
        .skip(start.saturating_sub(1))
        .filter(|(_, l)| is_key_line(l))
        .map(|(i, _)| i + 1)
        .take(2)
        .collect();
    let (first, second) = match found.as_slice() {
        [first, second] => (*first, *second),
        // A flow mapping (`{a: 1, a: 2}`): both on its line.
        _ => (start, start),
    };
    Some(Duplicate {
        path: message[..at].to_string(),
        key,
        first,
        second,
    })
}

/// A duplicate key's message: which key, where again, where first.
pub fn locate_duplicate(text: &str, message: &str, start_line: Option<usize>) -> String {
    match duplicate(text, message, start_line) {
        Some(d) => format!(
            "{}{DUPLICATE} `{}` at line {} (first at line {})",
            d.path, d.key, d.second, d.first
        ),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_collections_nested_too_deep_are_refused_with_where() {
        let nested = |open: &str, close: &str, n: usize| {
            format!("a: 1\nb: {}x{}\n", open.repeat(n), close.repeat(n))
        };
        // At the limit: read as before.
        assert_eq!(check_depth(&nested("[", "]", MAX_DEPTH)), Ok(()));
        for (open, close, width) in [("[", "]", 1), ("{k: ", "}", 4), ("[{k: ", "}]", 5)] {
            // Deep enough that libyaml alone would scan for minutes.
            let text = nested(open, close, 200_000 / width);
            let err = check_depth(&text).unwrap_err();
            assert_eq!(err.line, 2, "{open}");
            assert!(
                err.column > MAX_DEPTH && err.column < 5 * MAX_DEPTH,
                "{open}: {err}"
            );
            assert!(
                from_str::<serde_json::Value>(&text)
                    .unwrap_err()
                    .to_string()
                    .contains("nested more than 128 deep at line 2")
            );
            assert!(
                check(&text)
                    .unwrap_err()
                    .contains("nested more than 128 deep")
            );
        }
        // Across lines, as JSON would be written.
        let text = format!("{}1{}", "[\n".repeat(1000), "]\n".repeat(1000));
        assert_eq!(check_depth(&text).unwrap_err().line, MAX_DEPTH + 1);
        // Brackets that open nothing: in quotes, block scalars, comments, plain scalars.
        let many = "[".repeat(1000);
        for fine in [
            format!("a: \"{many}\"\nb: '{many}'\n"),
            format!("a: |\n  {many}\n# {many}\nb: x{many}\n"),
            format!("a: [{}]\n", vec!["[1]"; 1000].join(", ")),
        ] {
            assert_eq!(check_depth(&fine), Ok(()), "{fine:.40}");
            assert!(from_str::<serde_json::Value>(&fine).is_ok());
        }
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth_with_their_line() {
        let cases = [
            (
                "a: 1\na: 2\n",
                "duplicate key `a` at line 2 (first at line 1)",
            ),
            (
                "data:\n  x: 1\n  y: 2\n  x: 3\n",
                "duplicate key `x` at line 4 (first at line 2)",
            ),
            (
                "spec:\n  containers:\n  - name: a\n    image: b\n    name: c\n",
                "duplicate key `name` at line 5 (first at line 3)",
            ),
            ("a: {b: 1, b: 2}\n", "duplicate key `b`"),
            (
                "\"a\": 1\n'a': 2\n",
                "duplicate key `a` at line 2 (first at line 1)",
            ),
            ("1: x\n1: y\n", "duplicate key `1`"),
            (
                "---\nok: 1\n---\nb: 1\nb: 1\n",
                "duplicate key `b` at line 5 (first at line 4)",
            ),
            ("{\"a\": 1, \"a\": 2}", "duplicate key `a`"),
        ];
        for (text, expected) in cases {
            let err = check(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        for fine in [
            "a: 1\nb:\n  a: 1\n",
            "- a: 1\n- a: 2\n",
            "a: &x {k: 1}\nb: *x\n",
            "a: !!binary aGk=\n",
            "",
            "# only a comment\n",
        ] {
            assert!(check(fine).is_ok(), "{fine:?}: {:?}", check(fine));
        }
    }
}
