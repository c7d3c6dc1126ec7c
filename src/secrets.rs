//! Secrets: which values are secret, and masking them.
//!
//! - [`looks_secret`] and [`description_says_secret`]: the one heuristic every parameter
//!   source uses when the source itself carries no mark;
//! - [`Masker`]: every occurrence of a secret, wherever it sits (an env value, inside a
//!   database URI, a config file, a command line), becomes `***` plus a short keyed hash, so
//!   a changed secret still shows as changed without showing either value.
//!   [`Masker::build`] is how a run makes one.
//!
//! Masking by kind (what helm-diff and kubectl do for `Secret` objects) would leak the
//! passwords that sit in env values and URIs.

use crate::state::{StateDir, StoreError};
use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Whether a parameter's (or a stack output's) name says it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "_key",
        "salt",
        "hash_path",
        "credential",
        "_db_uri",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Whether an output's description says it holds a secret.
pub fn description_says_secret(description: &str) -> bool {
    let d = description.to_lowercase();
    ["password", "secret", "private key", "token"].iter().any(|w| d.contains(w))
        // "the Keystone URL for the Swift users" is not a password; "password of" is.
        && !d.starts_with("url")
}

pub struct Masker {
    matcher: Option<AhoCorasick>,
    replacements: Vec<String>,
}

impl Masker {
    /// The masker of a run, and the one way a command makes one: `secrets` (plain values)
    /// masked with the state directory's key, so a secret shows the same mask on every
    /// run; nothing masked when `reveal` (`--show-secrets`). With nothing to mask, the key
    /// is not even made.
    pub fn build(
        state: &StateDir,
        secrets: impl IntoIterator<Item = String>,
        reveal: bool,
    ) -> Result<Masker, StoreError> {
        let secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        if reveal || secrets.is_empty() {
            return Ok(Masker::none());
        }
        Ok(Masker::new(secrets, &state.mask_key()?))
    }

    /// A masker with an explicit key. `secrets` are plain values; their base64 forms (as
    /// in `Secret.data`) are masked too.
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
    fn a_run_masker_keeps_its_masks_between_runs_and_reveals_on_request() {
        let t = tempfile::tempdir().unwrap();
        let state = StateDir::new(t.path().join("state"));
        let none = Masker::build(&state, Vec::new(), false).unwrap();
        assert_eq!(none.mask("s3cret"), "s3cret");
        assert!(!state.path().exists(), "no key made for nothing to mask");
        let first = Masker::build(&state, vec!["s3cret".into()], false).unwrap();
        let again = Masker::build(&state, vec!["s3cret".into()], false).unwrap();
        assert!(first.mask("s3cret").starts_with("***"));
        assert_eq!(first.mask("s3cret"), again.mask("s3cret"));
        let shown = Masker::build(&state, vec!["s3cret".into()], true).unwrap();
        assert_eq!(shown.mask("s3cret"), "s3cret");
    }

    #[test]
    fn names_and_descriptions_that_say_secret() {
        for name in [
            "keystone_db_password",
            "Admin_Token",
            "swift_hash_path_prefix",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        assert!(!looks_secret("keystone_host"));
        assert!(description_says_secret("Password of the admin user"));
        assert!(!description_says_secret(
            "URL of the Keystone the password is for"
        ));
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
