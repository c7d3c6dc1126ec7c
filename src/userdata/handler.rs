//! The `#part-handler` that `userdata --with-handler` puts first in the bundle.
//!
//! cloud-init part handlers must be Python. This one does not talk to Kubernetes (at
//! boot there is no API server yet): it writes each Kubernetes part into a directory,
//! and `kube-openstack watch` applies what lands there once the cluster answers.

use super::Part;
use std::path::PathBuf;

/// Where the handler writes the Kubernetes parts unless told otherwise.
pub const DEFAULT_INCOMING_DIR: &str = "/var/lib/kube-openstack/incoming/";

const TEMPLATE: &str = include_str!("part-handler.py");

/// The handler part, claiming `types` (cloud-init routes each part by exact type, so the
/// handler lists every Kubernetes type the bundle carries).
pub fn part_handler(incoming_dir: &str, types: &[String]) -> Part {
    // JSON string and list literals are valid Python literals.
    let body = TEMPLATE
        .replacen(
            "__INCOMING__",
            &serde_json::to_string(incoming_dir).expect("a string"),
            1,
        )
        .replacen(
            "__TYPES__",
            &serde_json::to_string(types).expect("strings"),
            1,
        );
    Part {
        filename: "kube-openstack-part-handler.py".into(),
        content_type: "text/part-handler".into(),
        body: body.into_bytes(),
        origin: PathBuf::from("(generated part handler)"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn directory_and_types_are_python_literals() {
        let part = super::part_handler("/var/lib/x \"q\"/", &["text/x-kube-pod".into()]);
        let text = String::from_utf8(part.body).unwrap();
        assert!(text.starts_with("#part-handler\n"));
        assert!(text.contains(r#"INCOMING = "/var/lib/x \"q\"/""#), "{text}");
        assert!(text.contains(r#"TYPES = ["text/x-kube-pod"]"#), "{text}");
    }
}
