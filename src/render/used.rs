//! The parameters a render used, for the unused-parameter check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// The parameters the templates use, marked by the threads rendering them.
pub(super) struct Used<'a> {
    index: HashMap<&'a str, usize, std::hash::BuildHasherDefault<Fnv>>,
    marks: Vec<AtomicBool>,
}

/// FNV-1a: names are short, and each template marks a dozen of them.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl<'a> Used<'a> {
    pub(super) fn new(params: &'a serde_json::Map<String, serde_json::Value>) -> Self {
        Used {
            index: params
                .keys()
                .enumerate()
                .map(|(i, k)| (k.as_str(), i))
                .collect(),
            marks: params.keys().map(|_| AtomicBool::new(false)).collect(),
        }
    }

    pub(super) fn mark(&self, name: &str) {
        // Looked at first: both threads writing the same line of memory for every
        // template would make them wait on each other.
        if let Some(&i) = self.index.get(name)
            && !self.marks[i].load(Ordering::Relaxed)
        {
            self.marks[i].store(true, Ordering::Relaxed);
        }
    }

    /// The parameters no template used, in their order.
    pub(super) fn unused(
        &self,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<String> {
        params
            .keys()
            .zip(&self.marks)
            .filter(|(_, m)| !m.load(Ordering::Relaxed))
            .map(|(k, _)| k.clone())
            .collect()
    }
}
