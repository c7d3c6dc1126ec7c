//! Proofs kept between renders in the state directory, by SHA-256 of the template: a
//! render of a template proven before runs no pre-pass, no Handlebars and no parse (see
//! [`super::shape`]).
//!
//! The key is the template's own bytes, so what is kept for it is only as right as the
//! program that derived it: the file names the program's version and the identity of
//! its executable (size and modification time), and a file of another program, another
//! format, or a damaged one is ignored. It is only a cache, rewritten whole (through a
//! rename) when a render derived new proofs.
//!
//! It is read as one block of bytes and indexed; each template's entry is decoded by the
//! thread rendering it, so loading 10,000 proofs costs little more than reading the file.

use super::proof::Proof;
use super::shape;
use crate::state::StateDir;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The file in the state directory.
pub const FILE: &str = "render-proofs.bin";
/// The file of earlier versions (by hash of the pre-pass's output), removed when this
/// one is written.
const OLD_FILE: &str = "render-proofs.json";
/// Begins the file; changes whenever what is kept or what it means does.
const MAGIC: &[u8; 8] = b"KOPROOF2";
/// Proofs kept at most: those the last render used first.
const KEEP: usize = 100_000;

type Key = [u8; 32];
type KeyMap<V> = HashMap<Key, V, std::hash::BuildHasherDefault<KeyHash>>;

/// Keys are SHA-256 digests: their first bytes are a hash already, and hashing each of
/// 10,000 keys again at load showed in a render's time.
#[derive(Default)]
struct KeyHash(u64);

impl std::hash::Hasher for KeyHash {
    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= u64::from(*b) << (8 * i);
        }
    }

    /// The length an array's hash starts with: the same for every key.
    fn write_usize(&mut self, _: usize) {}

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The proofs known to a render: read from the state directory, and derived by it. An
/// entry's bytes are empty for a template that is not proven.
#[derive(Default)]
pub struct Proofs {
    kept: OnceLock<Kept>,
    /// Reading and indexing the file, begun by [`Proofs::load`].
    loading: Mutex<Option<std::thread::JoinHandle<Option<Kept>>>>,
    fresh: Mutex<KeyMap<Vec<u8>>>,
}

/// The proofs read from the file.
#[derive(Default)]
struct Kept {
    bytes: Vec<u8>,
    known: KeyMap<(Range<usize>, usize)>,
    used: Vec<AtomicBool>,
}

impl std::fmt::Debug for Proofs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proofs({} known)", self.kept().known.len())
    }
}

/// The key of a template's text.
pub fn key(text: &str) -> Key {
    Sha256::digest(text.as_bytes()).into()
}

impl Proofs {
    /// The proofs kept in `state` (none when there are none, or none of this program).
    /// They are read by a thread of their own while the caller goes on (listing the
    /// templates, say); the first use waits for them.
    pub fn load(state: &StateDir) -> Proofs {
        let path = state.path().join(FILE);
        let read = move || std::fs::read(path).ok().and_then(Kept::read);
        let loading = std::thread::Builder::new()
            .name("proofs".into())
            .spawn(read)
            .ok();
        Proofs {
            loading: Mutex::new(loading),
            ..Proofs::default()
        }
    }

    fn kept(&self) -> &Kept {
        self.kept.get_or_init(|| {
            let loading = self
                .loading
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            loading
                .and_then(|l| l.join().ok())
                .flatten()
                .unwrap_or_default()
        })
    }
}

impl Kept {
    fn read(bytes: Vec<u8>) -> Option<Kept> {
        let mut known = KeyMap::default();
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let mut r = shape::Reader(rest);
        if r.str()? != identity() {
            return None;
        }
        while !r.0.is_empty() {
            let key: Key = r.take(32)?.try_into().ok()?;
            let len = r.u32()?;
            let start = bytes.len() - r.0.len();
            r.take(len)?;
            let n = known.len();
            known.entry(key).or_insert((start..start + len, n));
        }
        let used = (0..known.len()).map(|_| AtomicBool::new(false)).collect();
        Some(Kept { bytes, known, used })
    }
}

impl Proofs {
    /// What is kept for `key`, if anything (noting that this render used it).
    fn entry(&self, key: &Key) -> Option<Cow<'_, [u8]>> {
        let kept = self.kept();
        if let Some((range, n)) = kept.known.get(key) {
            kept.used[*n].store(true, Ordering::Relaxed);
            return Some(Cow::Borrowed(&kept.bytes[range.clone()]));
        }
        self.fresh().get(key).map(|b| Cow::Owned(b.clone()))
    }

    /// Renders `text` by what is kept for it (see [`shape::render`]); `None` when nothing
    /// is, or it does not cover this render.
    pub fn render(
        &self,
        text: &str,
        data: &Json,
        used: &mut dyn FnMut(&str),
    ) -> Option<(String, Vec<Option<super::proof::Ident>>)> {
        let kept = self.entry(&key(text))?;
        shape::render(&kept, text, data, used)
    }

    /// The proof of `text`: kept, or derived by `derive` (with its kept bytes) and kept.
    pub fn proof(
        &self,
        text: &str,
        derive: impl FnOnce() -> Option<(Proof, Vec<u8>)>,
    ) -> Option<Arc<Proof>> {
        let key = key(text);
        if let Some(kept) = self.entry(&key) {
            return shape::proof(&kept).map(Arc::new);
        }
        let (proof, bytes) = match derive() {
            Some((proof, bytes)) => (Some(Arc::new(proof)), bytes),
            None => (None, Vec::new()),
        };
        self.fresh().insert(key, bytes);
        proof
    }

    fn fresh(&self) -> std::sync::MutexGuard<'_, KeyMap<Vec<u8>>> {
        self.fresh.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the proofs in `state` when the render derived any: those it used or
    /// derived, then older ones up to [`KEEP`].
    pub fn save(&self, state: &StateDir) -> Result<(), crate::state::StoreError> {
        let fresh = self.fresh();
        if fresh.is_empty() {
            return Ok(());
        }
        let mut w = shape::Writer(MAGIC.to_vec());
        w.str(identity());
        let mut entry = |key: &Key, bytes: &[u8]| {
            w.0.extend_from_slice(key);
            w.u32(bytes.len());
            w.0.extend_from_slice(bytes);
        };
        let kept = self.kept();
        let mut old: Vec<_> = kept.known.iter().collect();
        // Those this render used first, then the others in the order they were kept.
        old.sort_by_key(|(_, (_, n))| (!kept.used[*n].load(Ordering::Relaxed), *n));
        for (key, bytes) in fresh.iter() {
            entry(key, bytes);
        }
        let room = KEEP.saturating_sub(fresh.len());
        for (key, (range, _)) in old
            .into_iter()
            .filter(|(k, _)| !fresh.contains_key(*k))
            .take(room)
        {
            entry(key, &kept.bytes[range.clone()]);
        }
        state.write_bytes(FILE, &w.0)?;
        // Proofs of earlier versions are not read any more: their space is given back.
        let _ = std::fs::remove_file(state.path().join(OLD_FILE));
        Ok(())
    }
}

/// This program: its version and its executable's size and modification time, so that a
/// build that changed how templates are rewritten or proven reads no proof of another.
fn identity() -> &'static str {
    static IDENTITY: OnceLock<String> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let exe = std::env::current_exe().and_then(std::fs::metadata);
        let (size, modified) = match &exe {
            Ok(m) => (
                m.len(),
                m.modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos()),
            ),
            Err(_) => (0, 0),
        };
        format!("{} {size} {modified}", env!("CARGO_PKG_VERSION"))
    })
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
        let kept = || Some((proof.clone(), shape::encode_proof(&proof)));
        let first = Proofs::load(&state);
        assert_eq!(first.proof("a", kept).as_deref(), Some(&proof));
        assert_eq!(first.proof("b", || None), None);
        first.save(&state).unwrap();
        let second = Proofs::load(&state);
        let derive = || panic!("a kept proof is not derived again");
        assert_eq!(second.proof("a", derive).as_deref(), Some(&proof));
        assert_eq!(second.proof("b", derive), None, "nor is a kept refusal");
        let mut bytes = std::fs::read(t.path().join(FILE)).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(t.path().join(FILE), bytes).unwrap();
        let third = Proofs::load(&state);
        assert_eq!(third.proof("a", || None), None, "derived again");
    }
}
