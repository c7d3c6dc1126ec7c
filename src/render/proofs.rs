//! Proofs kept between renders in the state directory, by hash of the pre-pass's output:
//! a render of a template rendered before derives nothing and parses nothing.
//!
//! The key is the rewritten template (every placeholder wrapped in the helper of its
//! position), so a pre-pass that places a value differently finds no old proof. A file
//! of another format or another version of the program is ignored, and so is a damaged
//! one: it is only a cache, rewritten whole (through a rename) when a render derived new
//! proofs.

use super::proof::Proof;
use crate::state::StateDir;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The file in the state directory.
pub const FILE: &str = "render-proofs.json";
/// Changes whenever what a proof means does (the marks, the escaping, the check).
const FORMAT: u32 = 1;
/// Proofs kept at most: those the last render used first.
const KEEP: usize = 100_000;

type Key = [u8; 32];
type Entry = Option<Arc<Proof>>;

/// The proofs known to a render: read from the state directory, and derived by it.
#[derive(Default)]
pub struct Proofs {
    known: HashMap<Key, (Entry, AtomicBool)>,
    fresh: Mutex<HashMap<Key, Entry>>,
}

impl std::fmt::Debug for Proofs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proofs({} known)", self.known.len())
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    format: u32,
    version: String,
    /// By hex SHA-256 of the rewritten template; `null` for a template not proven.
    proofs: BTreeMap<String, Option<Proof>>,
}

impl Proofs {
    /// The proofs kept in `state` (none when there are none, or none of this version).
    pub fn load(state: &StateDir) -> Proofs {
        let stored: Option<Stored> = std::fs::read(state.path().join(FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let Some(stored) = stored.filter(|s| s.format == FORMAT && s.version == version()) else {
            return Proofs::default();
        };
        let known = stored
            .proofs
            .into_iter()
            .filter_map(|(hex, p)| Some((unhex(&hex)?, (p.map(Arc::new), AtomicBool::new(false)))))
            .collect();
        Proofs {
            known,
            fresh: Mutex::default(),
        }
    }

    /// The proof of the template the pre-pass rewrote into `prepared`: known, or derived.
    pub fn proof(&self, prepared: &str, derive: impl FnOnce() -> Option<Proof>) -> Entry {
        let key: Key = Sha256::digest(prepared.as_bytes()).into();
        if let Some((entry, used)) = self.known.get(&key) {
            used.store(true, Ordering::Relaxed);
            return entry.clone();
        }
        if let Some(entry) = self.fresh().get(&key) {
            return entry.clone();
        }
        let entry = derive().map(Arc::new);
        self.fresh().insert(key, entry.clone());
        entry
    }

    fn fresh(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.fresh.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the proofs in `state` when the render derived any: those it used or
    /// derived, then older ones up to [`KEEP`].
    pub fn save(&self, state: &StateDir) -> Result<(), crate::state::StoreError> {
        let fresh = self.fresh();
        if fresh.is_empty() {
            return Ok(());
        }
        let mut proofs: BTreeMap<String, Option<Proof>> = BTreeMap::new();
        let plain = |e: &Entry| e.as_deref().cloned();
        let used = self
            .known
            .iter()
            .filter(|(_, (_, u))| u.load(Ordering::Relaxed));
        let unused = self
            .known
            .iter()
            .filter(|(_, (_, u))| !u.load(Ordering::Relaxed));
        for (key, entry) in fresh.iter().chain(used.map(|(k, (e, _))| (k, e))) {
            proofs.insert(hex(key), plain(entry));
        }
        for (key, (entry, _)) in unused.take(KEEP.saturating_sub(proofs.len())) {
            proofs.insert(hex(key), plain(entry));
        }
        let stored = Stored {
            format: FORMAT,
            version: version(),
            proofs,
        };
        state.write_bytes(FILE, &serde_json::to_vec(&stored).expect("serializable"))
    }
}

fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

fn hex(key: &Key) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Key> {
    let mut key = [0u8; 32];
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::proof::{Need, Proof};

    #[test]
    fn proofs_are_kept_between_renders_and_a_damaged_file_is_ignored() {
        let t = tempfile::tempdir().unwrap();
        let state = StateDir::new(t.path());
        let proof = Proof {
            docs: vec![None],
            needs: vec![Need::Scalar],
        };
        let first = Proofs::load(&state);
        assert_eq!(
            first.proof("a", || Some(proof.clone())).as_deref(),
            Some(&proof)
        );
        assert_eq!(first.proof("b", || None), None);
        first.save(&state).unwrap();
        let second = Proofs::load(&state);
        let derive = || panic!("a kept proof is not derived again");
        assert_eq!(second.proof("a", derive).as_deref(), Some(&proof));
        assert_eq!(second.proof("b", derive), None, "nor is a kept refusal");
        std::fs::write(t.path().join(FILE), "{damaged").unwrap();
        let third = Proofs::load(&state);
        assert_eq!(third.proof("a", || None), None, "derived again");
    }
}
