//! Which MIME type a user-data part gets, compatible with `write-mime-multipart` and
//! cloud-init: the first line's marker, then the file extension, then (for YAML) the
//! Kubernetes `kind`, then the default type.

use std::path::Path;

/// First-line markers, longest first where one is a prefix of another
/// (`#cloud-config-archive` before `#cloud-config`, `#include-once` before `#include`).
/// cloud-init's own markers plus the three the 2014 part handler understood.
const MARKERS: &[(&str, &str)] = &[
    ("#cloud-config-archive", "text/cloud-config-archive"),
    ("#cloud-config", "text/cloud-config"),
    ("#include-once", "text/x-include-once-url"),
    ("#include", "text/x-include-url"),
    ("#upstart-job", "text/upstart-job"),
    ("#part-handler", "text/part-handler"),
    ("#cloud-boothook", "text/cloud-boothook"),
    ("## template: jinja", "text/jinja2"),
    ("#kube-pod", "text/x-kube-pod"),
    ("#kube-service", "text/x-kube-service"),
    ("#kube-replica", "text/x-kube-replica"),
    ("#!", "text/x-shellscript"),
];

/// The part types cloud-init (and the 2014 part handler) give a meaning to, for messages.
pub fn known_types() -> Vec<&'static str> {
    let mut types: Vec<&str> = MARKERS.iter().map(|(_, t)| *t).collect();
    types.sort();
    types.dedup();
    types
}

/// Extensions with a meaning of their own here, before the usual registry of types.
const EXTENSIONS: &[(&str, &str)] = &[
    ("pod", "text/x-kube-pod"),
    ("service", "text/x-kube-service"),
    ("replica", "text/x-kube-replica"),
    ("md", "text/x-markdown"),
    ("sh", "text/x-shellscript"),
];

/// Extensions whose type comes from their content (the Kubernetes `kind`), not a registry.
const YAML_EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// The MIME type for a part named `path` holding `body`.
pub fn content_type(path: &Path, body: &[u8], default_type: &str) -> String {
    if let Some(marker) = by_marker(body) {
        return marker.to_string();
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if let Some(ext) = extension.as_deref() {
        if let Some((_, t)) = EXTENSIONS.iter().find(|(e, _)| *e == ext) {
            return t.to_string();
        }
        if !YAML_EXTENSIONS.contains(&ext)
            && let Some(guess) = mime_guess::from_ext(ext).first()
        {
            return guess.essence_str().to_string();
        }
    }
    if let Some(kind) = kubernetes_kind(body) {
        return kube_type(&kind);
    }
    default_type.to_string()
}

/// `text/x-kube-<kind in lower case>`: the type a Kubernetes object travels as.
pub fn kube_type(kind: &str) -> String {
    format!("text/x-kube-{}", kind.to_ascii_lowercase())
}

/// Whether a type names a Kubernetes object (what the part handler collects).
pub fn is_kube_type(content_type: &str) -> bool {
    content_type.starts_with("text/x-kube-")
}

fn by_marker(body: &[u8]) -> Option<&'static str> {
    let first_line = body.split(|&b| b == b'\n').next().unwrap_or_default();
    MARKERS
        .iter()
        .find(|(marker, _)| first_line.starts_with(marker.as_bytes()))
        .map(|(_, t)| *t)
}

/// The `kind` of the first YAML document when it looks like a Kubernetes object
/// (a mapping with string `apiVersion` and `kind`).
fn kubernetes_kind(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let first = crate::yaml::documents(text).ok()?.next()?;
    let value = <serde_yaml::Value as serde::Deserialize>::deserialize(first).ok()?;
    let map = value.as_mapping()?;
    map.get("apiVersion")?.as_str()?;
    let kind = map.get("kind")?.as_str()?;
    (!kind.is_empty() && kind.chars().all(|c| c.is_ascii_alphanumeric())).then(|| kind.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(name: &str, body: &str) -> String {
        content_type(Path::new(name), body.as_bytes(), "application/octet-stream")
    }

    #[test]
    fn first_line_markers_win_over_the_extension() {
        assert_eq!(
            detect("setup.yaml", "#cloud-config\npackages: [git]\n"),
            "text/cloud-config"
        );
        assert_eq!(
            detect("x.yaml", "#cloud-config-archive\n- type: x\n"),
            "text/cloud-config-archive"
        );
        assert_eq!(
            detect("run.txt", "#!/bin/sh\necho hi\n"),
            "text/x-shellscript"
        );
        assert_eq!(
            detect("a", "#include\nhttp://example.invalid/x\n"),
            "text/x-include-url"
        );
        assert_eq!(
            detect("a", "#include-once\nhttp://example.invalid/x\n"),
            "text/x-include-once-url"
        );
        assert_eq!(detect("a", "#kube-pod\n{}"), "text/x-kube-pod");
        assert_eq!(detect("a", "#kube-service\n{}"), "text/x-kube-service");
        assert_eq!(detect("a", "#kube-replica\n{}"), "text/x-kube-replica");
        assert_eq!(
            detect("a", "#part-handler\ndef list_types(): pass\n"),
            "text/part-handler"
        );
        assert_eq!(detect("a", "#cloud-boothook\n"), "text/cloud-boothook");
        assert_eq!(detect("a", "#upstart-job\n"), "text/upstart-job");
    }

    #[test]
    fn extensions_then_the_usual_types() {
        assert_eq!(detect("web.pod", "{}"), "text/x-kube-pod");
        assert_eq!(detect("web.service", "{}"), "text/x-kube-service");
        assert_eq!(detect("web.replica", "{}"), "text/x-kube-replica");
        assert_eq!(detect("README.md", "# Title\n"), "text/x-markdown");
        assert_eq!(detect("notes.txt", "hello\n"), "text/plain");
        assert_eq!(detect("logo.png", "\u{89}PNG"), "image/png");
    }

    #[test]
    fn yaml_gets_the_kubernetes_kind() {
        let rc = "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: x}\n";
        assert_eq!(detect("x.yaml", rc), "text/x-kube-replicationcontroller");
        assert_eq!(
            detect("x", "apiVersion: apps/v1\nkind: Deployment\n"),
            "text/x-kube-deployment"
        );
        assert_eq!(
            detect("x.json", r#"{"apiVersion": "v1", "kind": "Secret"}"#),
            "text/x-kube-secret"
        );
        // YAML that is not a Kubernetes object falls through to the default.
        assert_eq!(detect("x.yaml", "just: data\n"), "application/octet-stream");
        assert_eq!(detect("x.yaml", "kind: Pod\n"), "application/octet-stream");
    }

    #[test]
    fn anything_else_gets_the_default_type() {
        assert_eq!(detect("blob", "\0\u{1}binary"), "application/octet-stream");
        let custom = content_type(Path::new("blob"), b"data", "text/plain");
        assert_eq!(custom, "text/plain");
    }
}
