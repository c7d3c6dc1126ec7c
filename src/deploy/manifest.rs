//! The rendered tree as Kubernetes objects: identity, body, declared dependencies.

use crate::render::objects;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Annotation listing the objects this one waits for: `"Kind/name, Kind/name"`.
pub const DEPENDS_ON: &str = "kube-openstack/depends-on";

/// `Kind/name`, the way kubectl names objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    pub kind: String,
    pub name: String,
}

impl ObjectId {
    pub fn new(kind: &str, name: &str) -> ObjectId {
        ObjectId {
            kind: kind.to_string(),
            name: name.to_string(),
        }
    }

    /// Parses `Kind/name`.
    pub fn parse(text: &str) -> Option<ObjectId> {
        let (kind, name) = text.trim().split_once('/')?;
        let valid = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains('/');
        (valid(kind) && valid(name)).then(|| ObjectId::new(kind, name))
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// One object of the rendered tree.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Relative to the tree's root.
    pub file: PathBuf,
    pub id: ObjectId,
    pub api_version: String,
    pub body: Value,
    /// From the `depends-on` annotation, in the order written.
    pub depends_on: Vec<ObjectId>,
    /// For one-shot pods, Jobs and long-running workloads: a digest of the Secrets and
    /// ConfigMaps of the tree it reads, so a change of configuration reruns or restarts
    /// it (see [`attach_config_digests`]).
    pub config_digest: Option<String>,
}

impl Manifest {
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.body
            .pointer("/metadata/annotations")?
            .get(key)?
            .as_str()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("rendered tree `{}` not found", .0.display())]
    NoTree(PathBuf),
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{file}`: {message}")]
    Parse { file: String, message: String },
    #[error("`{}` is not UTF-8 text: invalid byte at offset {offset} (line {line})", file.display())]
    NotUtf8 {
        file: PathBuf,
        offset: usize,
        line: usize,
    },
    /// The value itself is not shown: it may be anything, a secret included.
    #[error("`{file}` line {line}: `{field}` is not valid: {why}")]
    Invalid {
        file: String,
        line: usize,
        field: &'static str,
        why: String,
    },
    #[error("`{}`: {id}: annotation `{DEPENDS_ON}`: `{entry}` is not `Kind/name`", file.display())]
    BadReference {
        file: PathBuf,
        id: ObjectId,
        entry: String,
    },
    #[error("{id} is defined twice: `{}` and `{}`", first.display(), second.display())]
    Duplicate {
        id: ObjectId,
        first: PathBuf,
        second: PathBuf,
    },
}

impl crate::report::Hint for ManifestError {
    fn hint(&self) -> Option<String> {
        match self {
            ManifestError::NoTree(_) => Some("render the templates first (`kube-openstack render`), or name the tree with `--manifests DIR`".into()),
            _ => None,
        }
    }
}

/// Reads every object of a rendered tree (`.yaml`, `.yml`, `.json` files), sorted by path.
pub fn load_tree(dir: &Path) -> Result<Vec<Manifest>, ManifestError> {
    if !dir.is_dir() {
        return Err(ManifestError::NoTree(dir.to_path_buf()));
    }
    let files = crate::render::output::read_tree(dir).map_err(|source| ManifestError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    from_files(files)
}

/// The objects of a rendered tree given as files by relative path (on disk or in memory).
pub fn from_files(files: BTreeMap<PathBuf, Vec<u8>>) -> Result<Vec<Manifest>, ManifestError> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<ObjectId, PathBuf> = BTreeMap::new();
    for (rel, bytes) in files {
        let is_manifest = rel
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
        if !is_manifest {
            continue;
        }
        let text = text_of(&rel, bytes)?;
        for m in parse_file(&rel, &text)? {
            if let Some(first) = seen.insert(m.id.clone(), rel.clone()) {
                return Err(ManifestError::Duplicate {
                    id: m.id,
                    first,
                    second: rel,
                });
            }
            out.push(m);
        }
    }
    attach_config_digests(&mut out);
    Ok(out)
}

/// The text of a manifest file; bytes that are not UTF-8 are an error naming where,
/// never replaced (a replaced byte would be applied as something else). A byte-order mark
/// at the start (editors on Windows write one) is not part of the text, as YAML says;
/// left in, the parser took it for the start of a second document.
pub fn text_of(rel: &Path, mut bytes: Vec<u8>) -> Result<String, ManifestError> {
    if bytes.starts_with("\u{feff}".as_bytes()) {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        ManifestError::NotUtf8 {
            file: rel.to_path_buf(),
            offset,
            line,
        }
    })
}

/// Parses the documents of one file.
pub fn parse_file(rel: &Path, text: &str) -> Result<Vec<Manifest>, ManifestError> {
    let display = rel.display().to_string();
    let objects = objects::parse(&display, text).map_err(|diags| ManifestError::Parse {
        file: display.clone(),
        message: diags
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    let mut out = Vec::new();
    for o in objects {
        let body: Value = crate::yaml::from_str(&o.text).map_err(|e| ManifestError::Parse {
            file: display.clone(),
            // The position, not the object's name, and none of the values: any may be secret.
            message: format!(
                "line {}: {}",
                o.line,
                crate::redact::without_values(&e.to_string())
            ),
        })?;
        check_identity(&display, &o, &body)?;
        let id = ObjectId::new(&o.kind, &o.name);
        let mut m = Manifest {
            file: rel.to_path_buf(),
            id,
            api_version: o.api_version,
            body,
            depends_on: Vec::new(),
            config_digest: None,
        };
        if let Some(list) = m.annotation(DEPENDS_ON).map(str::to_string) {
            for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let dep = ObjectId::parse(entry).ok_or_else(|| ManifestError::BadReference {
                    file: m.file.clone(),
                    id: m.id.clone(),
                    entry: entry.to_string(),
                })?;
                m.depends_on.push(dep);
            }
        }
        out.push(m);
    }
    Ok(out)
}

/// The fields that end up in request paths must be what Kubernetes accepts: a name
/// like `../../etc` or an API version with a space would otherwise change the request.
fn check_identity(file: &str, o: &objects::Object, body: &Value) -> Result<(), ManifestError> {
    use super::names;
    let invalid = |field, why| ManifestError::Invalid {
        file: file.to_string(),
        line: o.line,
        field,
        why,
    };
    // The render's reader takes `apiVersion: 1` for the text `1`; the API server does not.
    for field in ["apiVersion", "kind"] {
        if !body.get(field).is_some_and(Value::is_string) {
            return Err(invalid(field, "it must be a string".into()));
        }
    }
    names::api_version(&o.api_version).map_err(|why| invalid("apiVersion", why))?;
    names::kind(&o.kind).map_err(|why| invalid("kind", why))?;
    let meta = body.get("metadata");
    let name = match meta.and_then(|m| m.get("name")) {
        Some(Value::String(name)) => name,
        Some(_) => return Err(invalid("metadata.name", "a name is a string".into())),
        None => {
            return Err(invalid(
                "metadata.name",
                "deploying needs a name (`generateName` alone cannot be applied twice)".into(),
            ));
        }
    };
    names::object_name(&o.kind, name).map_err(|why| invalid("metadata.name", why))?;
    match meta.and_then(|m| m.get("namespace")) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(ns)) => {
            names::namespace(ns).map_err(|why| invalid("metadata.namespace", why))
        }
        Some(_) => Err(invalid(
            "metadata.namespace",
            "a namespace is a string".into(),
        )),
    }
}

/// The namespace a manifest names itself, if any.
pub fn own_namespace(m: &Manifest) -> Option<&str> {
    m.body
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
}

/// Sets [`Manifest::config_digest`] of every one-shot object and long-running workload
/// of `tree`: the data of the
/// Secrets and ConfigMaps (of the tree) that its pod spec uses, in reference order.
pub fn attach_config_digests(tree: &mut [Manifest]) {
    use sha2::{Digest, Sha256};
    let digests: Vec<Option<String>> = tree
        .iter()
        .map(|m| {
            if !super::order::is_one_shot(&m.id.kind, &m.body)
                && !super::order::is_long_running(&m.id.kind)
            {
                return None;
            }
            let mut hasher = Sha256::new();
            for r in super::infer::references(m) {
                if let Some(used) = tree.iter().find(|o| o.id == r) {
                    hasher.update(r.to_string().as_bytes());
                    for field in ["data", "stringData", "binaryData"] {
                        hasher.update(
                            used.body
                                .get(field)
                                .map(|v| v.to_string())
                                .unwrap_or_default()
                                .as_bytes(),
                        );
                    }
                }
            }
            Some(
                hasher
                    .finalize()
                    .iter()
                    .take(8)
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            )
        })
        .collect();
    for (m, d) in tree.iter_mut().zip(digests) {
        m.config_digest = d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_text() {
        let rel = Path::new("a.yaml");
        let text = text_of(
            rel,
            b"\xef\xbb\xbfapiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n".to_vec(),
        )
        .unwrap();
        let objects = parse_file(rel, &text).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].id.name, "a");
        // Only at the start: elsewhere it stays, and is refused as the parser sees fit.
        assert!(
            text_of(rel, b"a: \xef\xbb\xbf\n".to_vec())
                .unwrap()
                .contains('\u{feff}')
        );
    }

    #[test]
    fn reads_declared_dependencies_and_rejects_malformed_ones() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    kube-openstack/depends-on: \"ReplicationController/db, Secret/s\"\n";
        let m = parse_file(Path::new("p.yaml"), text).unwrap();
        assert_eq!(
            m[0].depends_on,
            vec![
                ObjectId::new("ReplicationController", "db"),
                ObjectId::new("Secret", "s")
            ]
        );
        let bad = text.replace("Secret/s", "Secret s");
        let err = parse_file(Path::new("p.yaml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("p.yaml") && err.contains("Pod/p") && err.contains("`Secret s`"),
            "{err}"
        );
    }
}
