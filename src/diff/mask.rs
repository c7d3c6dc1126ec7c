//! Masking secrets by value: every occurrence of a secret, wherever it sits (an env value,
//! inside a database URI, a config file, a command line), becomes `***` plus a short keyed
//! hash, so a changed secret still shows as changed without showing either value.
//!
//! Masking by kind (what helm-diff and kubectl do for `Secret` objects) would leak the
//! passwords that sit in env values and URIs.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct Masker {
    matcher: Option<AhoCorasick>,
    replacements: Vec<String>,
}

impl Masker {
    /// `secrets` are plain values; their base64 forms (as in `Secret.data`) are masked too.
    pub fn new(secrets: impl IntoIterator<Item = String>, key: &[u8]) -> Masker {
        let mut patterns: Vec<String> = Vec::new();
        for s in secrets {
            if s.is_empty() {
                continue;
            }
            let b64 = base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
            patterns.push(s);
            patterns.push(b64);
        }
        patterns.sort();
        patterns.dedup();
        let replacements = patterns
            .iter()
            .map(|p| format!("***{}", short_hash(key, p)))
            .collect();
        // Leftmost-longest: a secret that contains another is masked whole.
        let matcher = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .expect("valid patterns")
        });
        Masker {
            matcher,
            replacements,
        }
    }

    /// A masker that masks nothing (`--show-secrets`).
    pub fn none() -> Masker {
        Masker {
            matcher: None,
            replacements: Vec::new(),
        }
    }

    pub fn mask(&self, text: &str) -> String {
        match &self.matcher {
            Some(m) => m.replace_all(text, &self.replacements),
            None => text.to_string(),
        }
    }
}

fn short_hash(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(value.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The values held by `Secret` objects (`stringData`, and `data` decoded), so secrets that
/// are no longer parameters (an old render's passwords) are masked too.
pub fn secret_object_values(doc: &str) -> Vec<String> {
    let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(doc) else {
        return Vec::new();
    };
    if v.get("kind").and_then(|k| k.as_str()) != Some("Secret") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let strings = |field: &str| -> Vec<String> {
        v.get(field)
            .and_then(|m| m.as_mapping())
            .map(|m| {
                m.values()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    out.extend(strings("stringData"));
    for encoded in strings("data") {
        if let Ok(Ok(plain)) = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map(String::from_utf8)
        {
            out.push(plain);
        }
        out.push(encoded);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_and_the_base64_form() {
        let m = Masker::new(vec!["s3cret".to_string()], b"key");
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cret");
        let out = m.mask(&format!(
            "uri: mysql://u:s3cret@h/db\nenv: s3cret\ndata: {b64}\n"
        ));
        assert!(!out.contains("s3cret") && !out.contains(&b64), "{out}");
        assert_eq!(out.matches("***").count(), 3);
    }

    #[test]
    fn a_changed_secret_shows_a_different_mask() {
        let m = Masker::new(
            vec!["old-value".to_string(), "new-value".to_string()],
            b"key",
        );
        assert_ne!(m.mask("old-value"), m.mask("new-value"));
        assert_eq!(m.mask("old-value"), m.mask("old-value"));
    }

    #[test]
    fn longest_secret_wins() {
        let m = Masker::new(vec!["abc".to_string(), "abcdef".to_string()], b"key");
        assert_eq!(m.mask("abcdef").matches("***").count(), 1);
    }

    #[test]
    fn secret_objects_give_their_values() {
        let doc = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: one}\ndata: {b: dHdv}\n";
        let values = secret_object_values(doc);
        assert!(
            values.contains(&"one".to_string()) && values.contains(&"two".to_string()),
            "{values:?}"
        );
    }
}
