//! `OS::Heat::RandomString`: its properties as Heat reads them, its value
//! generated as Heat generates it, and the store that keeps values stable
//! across runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rand::rngs::OsRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{CryptoRng, Rng, TryRngCore};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::pyvalue::{py_int, py_str};

const CLASSES: &[(&str, &str)] = &[
    (
        "lettersdigits",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    ),
    (
        "letters",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ),
    ("lowercase", "abcdefghijklmnopqrstuvwxyz"),
    ("uppercase", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("digits", "0123456789"),
    ("hexdigits", "0123456789ABCDEF"),
    ("octdigits", "01234567"),
];

/// The properties that shape a RandomString, after Heat's defaults and its
/// translation of the deprecated `sequence` into a character class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RandomSpec {
    pub length: usize,
    /// (sequence, minimum count); Heat draws these minimums first.
    pub sequences: Vec<(String, usize)>,
    /// (class name, minimum count).
    pub classes: Vec<(String, usize)>,
    pub salt: Option<String>,
}

impl RandomSpec {
    /// Read the evaluated `properties` of a RandomString; the error is the message.
    pub(crate) fn from_properties(props: &Map<String, Value>) -> Result<RandomSpec, String> {
        let known = [
            "length",
            "sequence",
            "character_classes",
            "character_sequences",
            "salt",
        ];
        if let Some(bad) = props.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("unknown property `{bad}`"));
        }
        let get = |k: &str| props.get(k).filter(|v| !v.is_null());
        let length = match get("length") {
            None => 32,
            Some(v) => bounded_int(v, "length")?,
        };
        let sequence = get("sequence")
            .map(|v| string_prop(v, "sequence"))
            .transpose()?;
        if let Some(s) = &sequence {
            class_chars(s).ok_or_else(|| not_allowed("sequence", s))?;
        }
        let given = get("character_classes")
            .map(|v| list_of_maps(v, "character_classes"))
            .transpose()?;
        let mut classes = Vec::new();
        for item in given.iter().flatten() {
            classes.push(class_entry(item)?);
        }
        match (&sequence, &given) {
            (Some(s), _) => classes.push((s.clone(), 1)),
            // Heat's default for `character_classes`.
            (None, None) => classes.push(("lettersdigits".into(), 1)),
            (None, Some(_)) => {}
        }
        let mut sequences = Vec::new();
        for item in get("character_sequences")
            .map(|v| list_of_maps(v, "character_sequences"))
            .transpose()?
            .iter()
            .flatten()
        {
            sequences.push(sequence_entry(item)?);
        }
        if classes.is_empty() && sequences.is_empty() {
            return Err("no characters to choose from: `character_classes` and `character_sequences` are empty".into());
        }
        let minimums: usize = classes.iter().chain(&sequences).map(|(_, m)| m).sum();
        if minimums > length {
            return Err(format!(
                "`length` {length} cannot be smaller than the combined character class and character sequence minimums ({minimums})"
            ));
        }
        let salt = get("salt").map(|v| string_prop(v, "salt")).transpose()?;
        Ok(RandomSpec {
            length,
            sequences,
            classes,
            salt,
        })
    }

    /// A short digest of the spec, to notice when the template changed it.
    pub(crate) fn fingerprint(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Heat's algorithm: each sequence's and class's minimum first, then fill
    /// from the union of all their characters, then shuffle.
    pub(crate) fn generate<R: Rng + CryptoRng + ?Sized>(&self, rng: &mut R) -> String {
        let mut chars: Vec<char> = Vec::with_capacity(self.length);
        let mut all = BTreeSet::new();
        let pools = self.sequences.iter().map(|(s, m)| (s.as_str(), *m));
        let classes = self
            .classes
            .iter()
            .map(|(c, m)| (class_chars(c).unwrap_or_default(), *m));
        for (source, min) in pools.chain(classes) {
            // Heat draws from the set of characters, so repeats in a sequence add no weight.
            let pool: Vec<char> = source
                .chars()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            all.extend(pool.iter().copied());
            chars.extend((0..min).filter_map(|_| pool.choose(rng).copied()));
        }
        let combined: Vec<char> = all.into_iter().collect();
        while chars.len() < self.length {
            chars.extend(combined.choose(rng).copied());
        }
        chars.shuffle(rng);
        chars.into_iter().collect()
    }
}

pub(crate) fn class_chars(name: &str) -> Option<&'static str> {
    CLASSES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

fn not_allowed(what: &str, value: &str) -> String {
    let names: Vec<&str> = CLASSES.iter().map(|(n, _)| *n).collect();
    format!("`{what}` `{value}` is not one of {}", names.join(", "))
}

/// Heat's integer property: `int(value)`, then the 1..512 range.
fn bounded_int(v: &Value, what: &str) -> Result<usize, String> {
    let n = match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(s) => py_int(s),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
    .ok_or_else(|| format!("`{what}`: value `{}` is not an integer", py_str(v)))?;
    if !(1..=512).contains(&n) {
        return Err(format!("`{what}`: {n} is out of range (min: 1, max: 512)"));
    }
    Ok(n as usize)
}

fn string_prop(v: &Value, what: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        // Heat turns booleans and integers into text, but not floats.
        Value::Bool(_) => Ok(py_str(v)),
        Value::Number(n) if !n.is_f64() => Ok(py_str(v)),
        _ => Err(format!("`{what}` must be a string")),
    }
}

fn list_of_maps<'v>(v: &'v Value, what: &str) -> Result<Vec<&'v Map<String, Value>>, String> {
    let err = || format!("`{what}` must be a list of maps");
    let Value::Array(items) = v else {
        return Err(err());
    };
    items
        .iter()
        .map(|i| i.as_object().ok_or_else(err))
        .collect()
}

fn class_entry(m: &Map<String, Value>) -> Result<(String, usize), String> {
    if let Some(bad) = m.keys().find(|k| *k != "class" && *k != "min") {
        return Err(format!("`character_classes`: unknown key `{bad}`"));
    }
    let class = match m.get("class").filter(|v| !v.is_null()) {
        None => "lettersdigits".to_string(),
        Some(v) => string_prop(v, "class")?,
    };
    class_chars(&class).ok_or_else(|| not_allowed("class", &class))?;
    Ok((class, min_of(m, "character_classes")?))
}

fn sequence_entry(m: &Map<String, Value>) -> Result<(String, usize), String> {
    if let Some(bad) = m.keys().find(|k| *k != "sequence" && *k != "min") {
        return Err(format!("`character_sequences`: unknown key `{bad}`"));
    }
    let sequence = match m.get("sequence").filter(|v| !v.is_null()) {
        None => return Err("`character_sequences`: `sequence` is required".into()),
        Some(v) => string_prop(v, "sequence")?,
    };
    if sequence.is_empty() {
        return Err("`character_sequences`: `sequence` must not be empty".into());
    }
    Ok((sequence, min_of(m, "character_sequences")?))
}

fn min_of(m: &Map<String, Value>, what: &str) -> Result<usize, String> {
    match m.get("min").filter(|v| !v.is_null()) {
        None => Ok(1),
        Some(v) => bounded_int(v, &format!("{what}` `min")),
    }
}

/// Generated values by resource name (group members as `group/0`), each with
/// the fingerprint of the properties that shaped it. Persisted by the caller.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GeneratedValues {
    values: BTreeMap<String, GeneratedValue>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedValue {
    pub value: String,
    /// Empty when unknown (e.g. a value imported from a real stack).
    #[serde(default)]
    pub fingerprint: String,
}

impl fmt::Debug for GeneratedValues {
    /// Names only: the values are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl GeneratedValues {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget the value of `resource` so the next evaluation generates a new
    /// one; returns the old value (to keep masking it).
    pub fn regenerate(&mut self, resource: &str) -> Option<String> {
        self.values.remove(resource).map(|g| g.value)
    }

    /// Like [`regenerate`](Self::regenerate), also forgetting the members of a
    /// `OS::Heat::ResourceGroup` named `resource` (`resource/0`, ...).
    pub fn regenerate_all(&mut self, resource: &str) -> Vec<String> {
        let prefix = format!("{resource}/");
        let keys: Vec<String> = self
            .values
            .keys()
            .filter(|k| *k == resource || k.starts_with(&prefix))
            .cloned()
            .collect();
        keys.iter().filter_map(|k| self.regenerate(k)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn get(&self, resource: &str) -> Option<&str> {
        self.values.get(resource).map(|g| g.value.as_str())
    }

    /// Every stored value, e.g. to mask them in output.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.values().map(|g| g.value.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// The value for `key`: the stored one if any (never changed, even when
    /// the properties changed: stability wins, with a warning), else a new one.
    pub(crate) fn obtain(
        &mut self,
        key: &str,
        spec: &RandomSpec,
        warnings: &mut Vec<String>,
    ) -> String {
        let fingerprint = spec.fingerprint();
        if let Some(stored) = self.values.get_mut(key) {
            if stored.fingerprint.is_empty() {
                stored.fingerprint = fingerprint;
            } else if stored.fingerprint != fingerprint {
                let resource = key.split('/').next().unwrap_or(key);
                warnings.push(format!(
                    "the properties of resource `{key}` changed since its value was generated; the stored value is kept; `kube-openstack params regenerate {resource}` applies them"
                ));
            }
            return stored.value.clone();
        }
        // Passwords live long: draw straight from the operating system's
        // CSPRNG so no user-space generator state exists to leak or repeat.
        let value = spec.generate(&mut OsRng.unwrap_err());
        self.values.insert(
            key.to_string(),
            GeneratedValue {
                value: value.clone(),
                fingerprint,
            },
        );
        value
    }

    /// A stored value, used when the properties cannot be evaluated locally.
    pub(crate) fn stored(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_string)
    }
}
