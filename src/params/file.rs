//! Parameters from a file: a YAML or JSON map of names to values, or exactly what
//! `openstack stack output show --all -f json STACK` prints (a map of output names to
//! JSON strings holding `{"output_key", "description", "output_value"}`).

use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read parameters file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not valid YAML or JSON", path.display())]
    Parse {
        path: PathBuf,
        /// The parser's message without the values it quoted: they may be secrets.
        #[source]
        source: crate::redact::ValueFree,
    },
    #[error("`{}`: {message}", path.display())]
    Duplicate { path: PathBuf, message: String },
    #[error("`{}` must hold a map of parameter names to values", path.display())]
    NotAMap { path: PathBuf },
    #[error("`{}`: output `{key}` has no value: {reason}", path.display())]
    OutputError {
        path: PathBuf,
        key: String,
        reason: String,
    },
}

/// A value of a parameters file, with the description the OpenStack CLI's format gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Json,
    pub description: Option<String>,
}

/// Reads a parameters file into name -> value.
pub fn read(path: &Path) -> Result<BTreeMap<String, Json>, FileError> {
    Ok(read_described(path)?
        .into_iter()
        .map(|(k, e)| (k, e.value))
        .collect())
}

/// Reads a parameters file into name -> value and description.
pub fn read_described(path: &Path) -> Result<BTreeMap<String, Entry>, FileError> {
    let text = crate::files::read_to_string(path).map_err(|source| FileError::Read {
        path: path.into(),
        source,
    })?;
    parse_described(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<BTreeMap<String, Json>, FileError> {
    Ok(parse_described(text, path)?
        .into_iter()
        .map(|(k, e)| (k, e.value))
        .collect())
}

/// The file's value: JSON read as JSON, anything else as YAML (a key given twice is an
/// error either way, not the last one winning silently).
fn value_of(text: &str, path: &Path) -> Result<Json, FileError> {
    crate::yaml::check(text).map_err(|message| {
        if message.contains(crate::yaml::DUPLICATE) {
            FileError::Duplicate {
                path: path.into(),
                message,
            }
        } else {
            FileError::Parse {
                path: path.into(),
                source: crate::redact::ValueFree::new(&message),
            }
        }
    })?;
    // JSON is YAML 1.2, but a YAML 1.1 reader folds a raw U+0085, U+2028 or U+2029 in a
    // string into a space: a file that is JSON is read as JSON, so no value changes.
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(_) => crate::yaml::from_str(text).map_err(|e| FileError::Parse {
            path: path.into(),
            source: crate::redact::ValueFree::new(&e),
        }),
    }
}

fn parse_described(text: &str, path: &Path) -> Result<BTreeMap<String, Entry>, FileError> {
    let value = value_of(text, path)?;
    let Json::Object(map) = value else {
        return Err(FileError::NotAMap { path: path.into() });
    };
    let cli_format = !map.is_empty() && map.values().all(|v| cli_output(v).is_some());
    let mut out = BTreeMap::new();
    for (k, v) in map {
        if !cli_format {
            let entry = Entry {
                value: v,
                description: None,
            };
            out.insert(k, entry);
            continue;
        }
        // The CLI's JSON inside the string is read by serde_json, where a repeated key
        // wins silently: look for one the way the file itself is checked.
        if let Some(message) = v
            .as_str()
            .and_then(|inner| crate::yaml::check(inner).err())
            .filter(|m| m.contains(crate::yaml::DUPLICATE))
        {
            return Err(FileError::Duplicate {
                path: path.into(),
                message: format!("output `{k}`: {message}"),
            });
        }
        let output = cli_output(&v).expect("checked above");
        if let Some(err) = output.get("output_error").and_then(Json::as_str) {
            return Err(FileError::OutputError {
                path: path.into(),
                key: k,
                reason: err.to_string(),
            });
        }
        match output.get("output_value") {
            Some(Json::Null) | None => {
                return Err(FileError::OutputError {
                    path: path.into(),
                    key: k,
                    reason: "the value is null".into(),
                });
            }
            Some(value) => {
                let description = output
                    .get("description")
                    .and_then(Json::as_str)
                    .map(String::from);
                out.insert(
                    k,
                    Entry {
                        value: value.clone(),
                        description,
                    },
                )
            }
        };
    }
    Ok(out)
}

/// The decoded output when `v` is a JSON string holding `{"output_key", "output_value", ...}`.
fn cli_output(v: &Json) -> Option<serde_json::Map<String, Json>> {
    let Json::Object(m) = serde_json::from_str::<Json>(v.as_str()?).ok()? else {
        return None;
    };
    (m.contains_key("output_key") && m.contains_key("output_value")).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_json_file_keeps_every_character_of_its_values() {
        for c in ['\u{85}', '\u{2028}', '\u{2029}', '\u{feff}'] {
            let v = format!("a{c}b");
            let text = format!("{{\"pw\": \"{v}\"}}");
            let m = parse(&text, Path::new("p.json")).unwrap();
            assert_eq!(m["pw"], json!(v), "{c:?}");
        }
        let twice = parse("{\"a\": 1, \"a\": 2}", Path::new("p.json"));
        assert!(
            matches!(twice, Err(FileError::Duplicate { .. })),
            "{twice:?}"
        );
    }

    #[test]
    fn reads_a_yaml_map_keeping_types() {
        let m = parse("a: x\nn: 3\nl: [1, 2]\n", Path::new("p.yaml")).unwrap();
        assert_eq!(m["a"], json!("x"));
        assert_eq!(m["n"], json!(3));
        assert_eq!(m["l"], json!([1, 2]));
    }

    #[test]
    fn reads_what_the_openstack_cli_prints() {
        let inner = |k: &str, v: Json| {
            json!({"output_key": k, "description": "d", "output_value": v}).to_string()
        };
        let text = json!({"pw": inner("pw", json!("s3cr:t")), "list": inner("list", json!(["a"]))})
            .to_string();
        let m = parse(&text, Path::new("o.json")).unwrap();
        assert_eq!(m["pw"], json!("s3cr:t"));
        assert_eq!(m["list"], json!(["a"]));
    }

    #[test]
    fn cli_output_with_an_error_names_the_key() {
        let bad =
            json!({"output_key": "x", "output_value": null, "output_error": "boom"}).to_string();
        let text = json!({"x": bad}).to_string();
        let err = parse(&text, Path::new("o.json")).unwrap_err();
        assert!(
            err.to_string().contains("output `x`") && err.to_string().contains("boom"),
            "{err}"
        );
    }

    #[test]
    fn a_key_repeated_inside_the_cli_format_is_an_error() {
        let inner = r#"{"output_key": "pw", "output_value": "one", "output_value": "two"}"#;
        let text = json!({"pw": inner}).to_string();
        let err = parse(&text, Path::new("o.json")).unwrap_err().to_string();
        assert!(
            err.contains("output `pw`") && err.contains("duplicate key `output_value`"),
            "{err}"
        );
        assert!(!err.contains("one") && !err.contains("two"), "{err}");
    }

    #[test]
    fn a_list_is_refused() {
        assert!(matches!(
            parse("- a\n", Path::new("p.yaml")),
            Err(FileError::NotAMap { .. })
        ));
    }

    #[test]
    fn the_recorded_cli_output_of_a_real_stack_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/openstack-stack-output-show-all.json");
        let m = read(&path).unwrap();
        assert_eq!(m.len(), 8);
        assert_eq!(m["full_name"], json!("probe-csiqswhhcniv-3B396ABB"));
        assert_eq!(m["secret_len"], json!(12));
        assert_eq!(m["as_map"], json!({"a": "csiqswhhcniv", "length": 12}));
        assert_eq!(m["as_list"], json!(["csiqswhhcniv", "3B396ABB"]));
    }
}
