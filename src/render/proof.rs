//! A template's proof: what its structure guarantees for every render of it, derived once.
//!
//! The pre-pass escapes each value for its YAML position, so no value can change the
//! structure of the document it lands in. What is left to prove is that the template
//! itself, every placeholder an opaque scalar, is a Kubernetes object: valid YAML, no key
//! given twice, `apiVersion`, `kind` and `metadata.name` present. That is checked once, by
//! the parser the full check uses, on the template with each placeholder replaced by a
//! marker; a render then checks each value against what its position needs ([`Need`])
//! instead of parsing its whole output.
//!
//! What the proof cannot cover is left to the full parse of the output: placeholders in
//! keys (two values could make the same key), inside a tagged value, triple-stashed, or
//! making up only part of an identity field; a template using the marker characters; and,
//! per render, a value its position does not admit (a list or map alone in a plain
//! scalar could nest deeper than the parser reads, a number as a name).

use super::objects::{self, Object};
use super::prepass::{Context, Piece, Prepared};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::fmt::Write;

mod walk;

/// Brackets a placeholder's number in the marked template: private-use characters, which
/// YAML prints as they are; a template holding them is not proven.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// What a placeholder's value must be for the proof to cover the render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Need {
    /// Anything: the value is escaped inside a string, a block scalar or a comment.
    #[serde(rename = "a")]
    Any,
    /// A string, number, boolean or null: alone in a plain scalar, where a list or a map
    /// would become a flow collection.
    #[serde(rename = "s")]
    Scalar,
    /// A string: the whole of an identity field (`name: {{name}}`), which it becomes.
    #[serde(rename = "t")]
    Text,
}

/// An identity field of an object: the template's own text, or a placeholder's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Field {
    #[serde(rename = "l")]
    Literal(String),
    #[serde(rename = "v")]
    Value(usize),
}

/// What identifies an object: `apiVersion`, `kind`, and `metadata.name` (or `generateName`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub api_version: Field,
    pub kind: Field,
    pub name: Field,
}

/// A proven template: for each document, its object's identity (`None` for a document of
/// comments only), and for each placeholder (by number), what its value must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    pub docs: Vec<Option<Identity>>,
    pub needs: Vec<Need>,
}

/// Derives the proof of a template the pre-pass made `prepared` of, with `pieces` its
/// direct form; `None` when the template is not proven (its renders are parsed in full).
pub fn derive(prepared: &Prepared, pieces: &[Piece]) -> Option<Proof> {
    if prepared.text.contains([OPEN, CLOSE]) {
        return None;
    }
    let mut marked = String::with_capacity(prepared.text.len() + pieces.len() * 8);
    let mut needs = vec![Need::Any; prepared.placeholders.len()];
    for piece in pieces {
        match piece {
            Piece::Text(range) => marked.push_str(&prepared.text[range.clone()]),
            Piece::Value { placeholder, .. } => {
                let i = *placeholder;
                match prepared.placeholders.get(i)?.context {
                    Context::Raw => return None,
                    // A string is written double-quoted there, a number plain: one scalar either way.
                    Context::Value => {
                        needs[i] = Need::Scalar;
                        write!(marked, "\"{OPEN}{i}{CLOSE}\"").ok()?;
                    }
                    _ => write!(marked, "{OPEN}{i}{CLOSE}").ok()?,
                }
            }
        }
    }
    let mut docs = Vec::new();
    for (_, doc) in objects::documents(&marked) {
        crate::yaml::check_depth(doc).ok()?;
        docs.push(walk::document(doc, &marked, &mut needs)?);
    }
    Some(Proof { docs, needs })
}

/// The placeholder number of a marker that is the whole of `text`.
fn whole_marker(text: &str) -> Option<usize> {
    text.strip_prefix(OPEN)?.strip_suffix(CLOSE)?.parse().ok()
}

/// One object's identity as rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

impl Proof {
    /// The identities of the documents of a render whose placeholders took `values` (by
    /// number), when every value is one its position admits; `None` otherwise.
    pub fn admit(&self, values: &[Option<&Json>]) -> Option<Vec<Option<Ident>>> {
        if values.len() != self.needs.len() {
            return None;
        }
        for (need, value) in self.needs.iter().zip(values) {
            let fits = match (need, (*value)?) {
                (Need::Any, _) => true,
                (Need::Scalar, v) => !v.is_array() && !v.is_object(),
                (Need::Text, v) => v.is_string(),
            };
            if !fits {
                return None;
            }
        }
        let field = |f: &Field| match f {
            Field::Literal(s) => s.clone(),
            // `get`: a proof read from a damaged file may name any placeholder.
            Field::Value(i) => values
                .get(*i)
                .copied()
                .flatten()
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        let ident = |id: &Identity| Ident {
            api_version: field(&id.api_version),
            kind: field(&id.kind),
            name: field(&id.name),
        };
        Some(self.docs.iter().map(|d| d.as_ref().map(ident)).collect())
    }
}

/// The objects of a rendered text whose documents a proof identified: what
/// [`objects::parse`] returns for it, without parsing. `None` when the text does not have
/// the documents the proof expects.
pub fn objects(text: &str, idents: Vec<Option<Ident>>) -> Option<Vec<Object>> {
    let docs = objects::documents(text);
    if docs.len() != idents.len() {
        return None;
    }
    let mut found = Vec::new();
    for ((first_line, doc), ident) in docs.into_iter().zip(idents) {
        if let Some(id) = ident {
            found.push(Object {
                line: first_line + objects::leading_blank_lines(doc),
                api_version: id.api_version,
                kind: id.kind,
                name: id.name,
                text: doc.trim_start_matches('\n').to_string(),
            });
        }
    }
    Some(found)
}

#[cfg(test)]
#[path = "proof_tests.rs"]
mod tests;
