//! Secrets: which values are secret, and masking them.
//!
//! - [`is_secret`] ([`looks_secret`], [`description_says_secret`]): the one heuristic every parameter
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

/// Whether a value is secret, by its name and (where the source has one) its
/// description: the one heuristic every source uses when it carries no mark of its own
/// (parameter files, the OpenStack CLI's output, overrides, `-p`, stack outputs).
pub fn is_secret(name: &str, description: Option<&str>) -> bool {
    looks_secret(name) || description.is_some_and(description_says_secret)
}

/// Whether a parameter's (or a stack output's) name says it holds a secret: it contains
/// a word that does (`password`, `secret`, `token`, `credential`...), or its last word is
/// one (`db_pass`, `admin_passwd`, `root_pw`, `swift_auth`, `api_key`). Words are split
/// as a person reads them, so `rabbitPass`, `dbPw2` and `SWIFT_AUTH` say what
/// `rabbit_pass`, `db_pw_2` and `swift_auth` say.
pub fn looks_secret(name: &str) -> bool {
    let words = words(name);
    let snake = format!("_{}_", words.join("_"));
    let anywhere = [
        "password",
        "passwd",
        "passphrase",
        "passcode",
        "secret",
        "token",
        "_key_",
        "salt",
        "_hash_path_",
        "credential",
        "_db_uri_",
        "private_key",
        "privkey",
    ];
    // A number at the end (`db_pass2`) does not change what the name holds.
    let last_word = words
        .iter()
        .rev()
        .find(|w| !w.bytes().all(|b| b.is_ascii_digit()))
        .map(String::as_str)
        .unwrap_or_default();
    let last = [
        "pass", "pw", "pwd", "auth", "key", "apikey", "cred", "creds", "pin", "otp",
    ];
    anywhere.iter().any(|w| snake.contains(w)) || last.contains(&last_word)
}

/// The lowercase words of a name: split at anything not a letter or digit, where a
/// lowercase letter meets an uppercase one (`dbPass`), before the last capital of a run
/// of them (`DBPassword`), and where letters meet digits (`pw2`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if let Some(&prev) = i
            .checked_sub(1)
            .and_then(|p| chars.get(p))
            .filter(|_| !word.is_empty())
        {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (prev.is_lowercase() && c.is_uppercase())
                || (prev.is_uppercase() && c.is_uppercase() && next_lower)
                || (prev.is_ascii_digit() != c.is_ascii_digit());
            if boundary {
                words.push(std::mem::take(&mut word));
            }
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether an output's description says it holds a secret.
pub fn description_says_secret(description: &str) -> bool {
    let d = description.to_lowercase();
    [
        "password",
        "passwd",
        "passphrase",
        "secret",
        "private key",
        "api key",
        "access key",
        "token",
        "credential",
    ]
    .iter()
    .any(|w| d.contains(w))
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

    /// A masker with an explicit key. `secrets` are plain values; every form a rendered
    /// file can hold them in is masked too (see [`encodings`]).
    pub fn new(secrets: impl IntoIterator<Item = String>, key: &[u8]) -> Masker {
        let mut patterns: Vec<String> = Vec::new();
        for s in secrets {
            if s.is_empty() {
                continue;
            }
            patterns.extend(encodings(&s));
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

/// Every form in which a rendered (or fetched) text can hold `secret`, so masking by value
/// does not miss a password because it contains `"`, `\` or a line break:
/// - as it is;
/// - escaped for a YAML double-quoted scalar, as the renderer writes it (also `quote`,
///   and `squote` for values it cannot single-quote), and as a YAML emitter writes it
///   (`toYaml`: `\a`, `\e`, `\N`, `\L`...);
/// - in a comment (line breaks as `\n`);
/// - single-quoted (`'` doubled);
/// - as JSON (`toJson`), with the `\u` escapes the renderer adds for YAML's sake;
/// - base64 (standard and URL-safe, padded or not: `b64enc`, `Secret.data`);
/// - percent-encoded, upper- or lower-case hex, `+` or `%20` for a space (in URLs);
/// - in upper or lower case (`upper`, `lower`);
/// - over the lines of a literal block scalar, at any indentation up to 32 columns.
pub fn encodings(secret: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `upper` and `lower` leave a password no less a password, in every encoding.
    for form in [
        secret.to_string(),
        secret.to_uppercase(),
        secret.to_lowercase(),
    ] {
        if !out.contains(&form) {
            out.extend(encodings_of(&form));
        }
    }
    out.retain(|e| !e.is_empty());
    out.sort();
    out.dedup();
    out
}

fn encodings_of(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut out = vec![
        secret.to_string(),
        yaml_double_quoted(secret, false),
        yaml_double_quoted(secret, true),
        comment(secret),
        secret.replace('\'', "''"),
        json(secret),
    ];
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        out.push(engine.encode(secret.as_bytes()));
    }
    for lower in [false, true] {
        for strict in [false, true] {
            let encoded = percent(secret, lower, strict);
            out.push(encoded.replace("%20", "+"));
            out.push(encoded);
        }
    }
    if secret.contains('\n') {
        let lines: Vec<&str> = secret.split('\n').collect();
        for indent in 0..=32 {
            out.push(lines.join(&format!("\n{}", " ".repeat(indent))));
        }
    }
    out
}

/// Characters a YAML double-quoted scalar must escape (as the renderer decides).
fn needs_escape(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || (0x7F..=0x9F).contains(&u)
        || matches!(u, 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF)
}

/// `s` escaped for a YAML double-quoted scalar: the renderer's escapes, or (`emitter`)
/// those a YAML emitter prefers where YAML has a short one.
fn yaml_double_quoted(s: &str, emitter: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\t' => Some("\\t"),
            '\r' => Some("\\r"),
            '\0' => Some("\\0"),
            _ if !emitter => None,
            '\u{7}' => Some("\\a"),
            '\u{8}' => Some("\\b"),
            '\u{b}' => Some("\\v"),
            '\u{c}' => Some("\\f"),
            '\u{1b}' => Some("\\e"),
            '\u{85}' => Some("\\N"),
            '\u{a0}' => Some("\\_"),
            '\u{2028}' => Some("\\L"),
            '\u{2029}' => Some("\\P"),
            _ => None,
        };
        match short {
            Some(e) => out.push_str(e),
            None if needs_escape(c) && (c as u32) <= 0xFF => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            None if needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            None => out.push(c),
        }
    }
    out
}

/// `s` in a YAML comment, as the renderer writes it: line breaks and control characters
/// escaped.
fn comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c if c != '\t' && needs_escape(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `s` as a JSON string's content (no quotes), with `\u` escapes for what YAML 1.1
/// would read as a line break or refuse, as `toJson` writes it.
fn json(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default();
    let mut out = String::with_capacity(inner.len());
    for c in inner.chars() {
        let u = c as u32;
        if (0x7F..=0x9F).contains(&u) || matches!(u, 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF) {
            out.push_str(&format!("\\u{u:04x}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` percent-encoded: RFC 3986's unreserved characters kept, or (`strict`) only
/// letters and digits, as encoders differ.
fn percent(s: &str, lower: bool, strict: bool) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let set = if strict { NON_ALPHANUMERIC } else { UNRESERVED };
    let upper = utf8_percent_encode(s, set).to_string();
    if !lower {
        return upper;
    }
    // Only the hex digits after each `%` change case.
    let mut out = String::with_capacity(upper.len());
    let mut hex = 0;
    for c in upper.chars() {
        if c == '%' {
            hex = 2;
            out.push(c);
        } else if hex > 0 {
            hex -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
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
    let Ok(v) = crate::yaml::from_str::<serde_yaml::Value>(doc) else {
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
            "db_pass",
            "admin_passwd",
            "root_pw",
            "mysql_root_pwd",
            "swift_auth",
            "api_key",
            "tls.key",
            "rabbitPass",
            "dbPw",
            "DBPassword",
            "swiftAuth",
            "privateKey",
            "ssh-private-key",
            "apiKey",
            "db_pass2",
            "ROOT_PW_2",
            "keystoneDbUri",
            "heat_auth_encryption_key",
            "ldap_passcode",
            "sim_pin",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in [
            "keystone_host",
            "keystone",
            "monkey_count",
            "bypass_proxy",
            "compass",
            "auth_url",
            "swift_auth_url",
            "pinned_version",
        ] {
            assert!(!looks_secret(name), "{name}");
        }
        assert_eq!(words("DBPassword_v2x"), ["db", "password", "v", "2", "x"]);
        assert_eq!(words("rabbitPass"), ["rabbit", "pass"]);
        assert_eq!(words("ROOT_PW_2"), ["root", "pw", "2"]);
        assert!(description_says_secret("The API key of the backup user"));
        assert!(description_says_secret("passphrase of the TLS key"));
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
