//! Splits rendered YAML into documents and checks each is a Kubernetes object.

use super::Diagnostic;

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

/// Parses every document of a rendered file; comment-only documents are dropped.
/// `display` is the template path; `Err` lists every bad document.
pub fn parse(display: &str, text: &str) -> Result<Vec<Object>, Vec<Diagnostic>> {
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    for (first_line, doc) in documents(text) {
        match parse_one(doc) {
            Ok(Some(mut o)) => {
                // The text starts at the first line that is not blank.
                let blank = doc.len() - doc.trim_start_matches('\n').len();
                o.line = first_line + blank;
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
/// (so invalid YAML is caught) but skipped rather than built into a value tree, which is
/// most of the cost of parsing.
#[derive(serde::Deserialize)]
struct Head {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<Metadata>,
}

#[derive(serde::Deserialize)]
struct Metadata {
    name: Option<String>,
    #[serde(rename = "generateName")]
    generate_name: Option<String>,
}

fn parse_one(doc: &str) -> Result<Option<Object>, (usize, String)> {
    // A document of comments only is null: not an object, and not an error.
    let head: Option<Head> = match serde_yaml::from_str(doc) {
        Ok(h) => h,
        Err(e) => {
            let line = e.location().map_or(1, |l| l.line());
            let what = if e.to_string().contains("invalid type") {
                "not a Kubernetes object"
            } else {
                "not valid YAML"
            };
            return Err((line, format!("{what}: {e}")));
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
