//! `render --pin-images`: a post-pass over rendered documents that replaces each `image:`
//! value naming a pushed image by its digest reference (`REPO@sha256:...`), so every node
//! runs exactly what was built.
//!
//! Only whole `image:` scalars are touched: the value is read as YAML, compared with the
//! lock's references, and written back double-quoted (a digest reference holds only
//! characters that need no escaping), so the document's structure cannot change.

use super::context::strip_tag;
use super::lock::DigestLock;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("no pushed digest for {}", .0.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", "))]
pub struct Unpinned(pub Vec<String>);

/// Pins the `image:` values of `text` found in `lock`, and names the images of the lock's
/// registry and prefix that it does not hold (another tag, never pushed), which the caller
/// treats as errors; other images (e.g. `docker.io/library/mariadb:11.4`) are left as
/// written.
pub fn pin_text(text: &str, lock: &DigestLock) -> (String, Vec<String>) {
    let ours: Vec<&str> = lock.images.values().map(|i| parent(&i.reference)).collect();
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    for line in text.split_inclusive('\n') {
        let Some((head, value)) = image_value(line) else {
            out.push_str(line);
            continue;
        };
        if let Some(locked) = lock.by_reference(&value) {
            let eol = if line.ends_with("\r\n") {
                "\r\n"
            } else if line.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            out.push_str(&format!("{head}\"{}\"{eol}", locked.pinned()));
            continue;
        }
        if !value.contains('@') && ours.contains(&parent(&value)) && !missing.contains(&value) {
            missing.push(value);
        }
        out.push_str(line);
    }
    (out, missing)
}

/// `REGISTRY/PREFIX` of `REGISTRY/PREFIX/NAME:TAG`.
fn parent(reference: &str) -> &str {
    let repo = strip_tag(reference);
    repo.rfind('/').map_or("", |i| &repo[..i])
}

/// For `   - image: "x"` returns (`   - image: `, `x`), the value read as a YAML scalar.
fn image_value(line: &str) -> Option<(&str, String)> {
    let body = line.trim_end_matches(['\n', '\r']);
    let key_start = body.len() - body.trim_start_matches([' ', '-']).len();
    let rest = &body[key_start..];
    let after_key = rest.strip_prefix("image:")?;
    let value_text = after_key.trim_start();
    if value_text.is_empty() || value_text.starts_with(['|', '>', '&', '*', '!', '#']) {
        return None;
    }
    let value: String = crate::yaml::from_str(value_text).ok()?;
    let head_len = body.len() - value_text.len();
    Some((&body[..head_len], value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::lock::LockedImage;

    fn lock() -> DigestLock {
        let mut l = DigestLock::default();
        let digest = format!("sha256:{}", "a".repeat(64));
        l.images.insert(
            "keystone".into(),
            LockedImage {
                reference: "localhost:4999/ko/keystone:latest".into(),
                digest,
                content_hash: String::new(),
            },
        );
        l
    }

    #[test]
    fn pushed_images_are_pinned_and_external_ones_left_alone() {
        let text = "spec:\n  containers:\n    - image: \"localhost:4999/ko/keystone:latest\" # keystone\n      name: k\n    - name: db\n      image: docker.io/library/mariadb:11.4\n";
        let (pinned, missing) = pin_text(text, &lock());
        assert!(missing.is_empty());
        let expected = format!(
            "    - image: \"localhost:4999/ko/keystone@sha256:{}\"\n",
            "a".repeat(64)
        );
        assert!(pinned.contains(&expected), "{pinned}");
        assert!(pinned.contains("image: docker.io/library/mariadb:11.4\n"));
        let doc: serde_yaml::Value = serde_yaml::from_str(&pinned).unwrap();
        assert_eq!(doc["spec"]["containers"][0]["name"], "k", "structure kept");
    }

    #[test]
    fn an_image_of_the_registry_without_a_digest_is_an_error() {
        let text = "image: localhost:4999/ko/glance:latest\nother: 1\n";
        assert_eq!(
            pin_text(text, &lock()),
            (
                text.to_string(),
                vec!["localhost:4999/ko/glance:latest".to_string()]
            )
        );
        let tag = "image: 'localhost:4999/ko/keystone:v2'\n";
        assert_eq!(
            pin_text(tag, &lock()).1.len(),
            1,
            "another tag was not pushed"
        );
        let note = "description: \"image: localhost:4999/ko/keystone:latest\"\n";
        assert_eq!(
            pin_text(note, &lock()),
            (note.to_string(), vec![]),
            "only image keys"
        );
    }
}
