//! Splits rendered YAML into documents and checks each is a Kubernetes object.

use super::Diagnostic;
use crate::yaml;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// One Kubernetes object as rendered: its identity and its document text.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The line of the rendered file where its document starts.
    pub line: usize,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub text: String,
}

impl Object {
    /// `Kind/name`, the way kubectl names objects.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// Splits `text` at document markers, keeping each document's first line number.
pub fn documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (line_no, line) in (1..).zip(text.split_inclusive('\n')) {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == "---" || bare.starts_with("--- ") || bare == "..." {
            docs.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = line_no + 1;
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start..]));
    docs
}

/// How many empty lines a document starts with: its text starts after them.
pub fn leading_blank_lines(doc: &str) -> usize {
    doc.len() - doc.trim_start_matches('\n').len()
}

/// Parses every document of a rendered file; comment-only documents are dropped.
/// `display` is the template path; `Err` lists every bad document.
pub fn parse(display: &str, text: &str) -> Result<Vec<Object>, Vec<Diagnostic>> {
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for (first_line, doc) in documents(text) {
        match parse_one(doc, first_line) {
            Ok(Some(mut o)) => {
                o.line = first_line + leading_blank_lines(doc);
                objects.push(o)
            }
            Ok(None) => {}
            Err((line, message)) => {
                let line = first_line + line.saturating_sub(1);
                errors.push(Diagnostic::at(
                    display,
                    0,
                    0,
                    format!("rendered line {line}: {message}"),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(objects)
    } else {
        Err(errors)
    }
}

/// Just the fields that identify an object. The rest of the document is still parsed
/// (so invalid YAML is caught, and a key given twice in a mapping, which Kubernetes
/// refuses) but skipped rather than built into a value tree, which is most of the cost
/// of parsing.
struct Head {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<Metadata>,
}

#[derive(Default)]
struct Metadata {
    name: Option<String>,
    generate_name: Option<String>,
}

/// A mapping whose keys must be unique, handing each `(key, value access)` to `field`.
fn unique_map<'de, A, F>(mut map: A, mut field: F) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    F: FnMut(&str, &mut A) -> Result<bool, A::Error>,
{
    let mut keys = yaml::KeySet::default();
    while let Some(key) = map.next_key::<yaml::Key>()? {
        let text = key.text().map(str::to_string);
        keys.insert(key)?;
        let taken = match &text {
            Some(k) => field(k, &mut map)?,
            None => false,
        };
        if !taken {
            map.next_value::<yaml::Unique>()?;
        }
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Head, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Head;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Kubernetes object (a mapping)")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Head, A::Error> {
                let mut head = Head {
                    api_version: None,
                    kind: None,
                    metadata: None,
                };
                unique_map(map, |key, map| {
                    match key {
                        "apiVersion" => head.api_version = map.next_value()?,
                        "kind" => head.kind = map.next_value()?,
                        "metadata" => head.metadata = map.next_value()?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                Ok(head)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Metadata, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metadata;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("struct Metadata (a mapping)")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Metadata, A::Error> {
                let mut meta = Metadata::default();
                unique_map(map, |key, map| {
                    match key {
                        "name" => meta.name = map.next_value()?,
                        "generateName" => meta.generate_name = map.next_value()?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                Ok(meta)
            }
        }
        d.deserialize_map(V)
    }
}

/// One document, starting at line `offset` of its file.
fn parse_one(doc: &str, offset: usize) -> Result<Option<Object>, (usize, String)> {
    yaml::check_depth(doc).map_err(|e| (e.line, format!("not valid YAML: {e}")))?;
    // A document of comments only is null: not an object, and not an error.
    let head: Option<Head> = match serde_yaml::from_str(doc) {
        Ok(h) => h,
        Err(e) => {
            let line = e.location().map_or(1, |l| l.line());
            let message = e.to_string();
            if let Some(d) = yaml::duplicate(doc, &message, Some(line)) {
                // Lines within the document: the caller adds where it starts.
                // Not the key itself: a template may have put a secret there.
                let first = if d.first == d.second {
                    String::new()
                } else {
                    format!(" (first at line {})", d.first + offset - 1)
                };
                return Err((d.second, format!("{}{}{first}", d.path, yaml::DUPLICATE)));
            }
            let what = if message.contains("invalid type") {
                "not a Kubernetes object"
            } else {
                "not valid YAML"
            };
            // The message quotes what it found: a secret, if a template put one there.
            return Err((
                line,
                format!("{what}: {}", crate::redact::without_values(&message)),
            ));
        }
    };
    let Some(head) = head else { return Ok(None) };
    let name = head.metadata.and_then(|m| m.name.or(m.generate_name));
    match (head.api_version, head.kind, name) {
        (Some(api_version), Some(kind), Some(name)) => Ok(Some(Object {
            line: 0,
            api_version,
            kind,
            name,
            text: doc.trim_start_matches('\n').to_string(),
        })),
        (a, k, n) => {
            let missing: Vec<&str> = [
                a.is_none().then_some("`apiVersion`"),
                k.is_none().then_some("`kind`"),
                n.is_none().then_some("`metadata.name`"),
            ]
            .into_iter()
            .flatten()
            .collect();
            Err((
                1,
                format!("not a Kubernetes object: missing {}", missing.join(", ")),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_and_skips_comment_only_ones() {
        let text =
            "# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\n\n";
        let objects = parse("t.yaml", text).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].id(), "Service/a");
    }

    #[test]
    fn reports_what_is_missing_and_where() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\nkind: Pod\n";
        let errors = parse("t.yaml", text).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.contains("rendered line 6"),
            "{}",
            errors[0].message
        );
        assert!(errors[0].message.contains("`apiVersion`"));
        assert!(errors[0].message.contains("`metadata.name`"));
    }

    #[test]
    fn invalid_yaml_names_the_rendered_line() {
        let errors = parse("t.yaml", "a: 1\n---\nb: [\n").unwrap_err();
        assert_eq!(errors.len(), 2, "both documents are reported: {errors:?}");
        assert!(
            errors[1].message.contains("not valid YAML"),
            "{}",
            errors[1].message
        );
    }
}
