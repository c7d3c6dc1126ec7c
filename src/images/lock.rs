//! The digest lock: what each pushed image's reference resolved to
//! (`images.lock.json` in the state directory), for `render --pin-images`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "images.lock.json";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is damaged; run `kube-openstack images` to write it again", path.display())]
    Damaged {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// One pushed image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedImage {
    /// `REGISTRY/PREFIX/NAME:TAG`, as the rendered tree names it.
    pub reference: String,
    /// `sha256:...` of the manifest the registry holds for it.
    pub digest: String,
    /// The content hash of the context it was built from.
    pub content_hash: String,
}

impl LockedImage {
    /// `REGISTRY/PREFIX/NAME@sha256:...`.
    pub fn pinned(&self) -> String {
        format!(
            "{}@{}",
            super::context::strip_tag(&self.reference),
            self.digest
        )
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct DigestLock {
    /// By image name.
    pub images: BTreeMap<String, LockedImage>,
}

impl DigestLock {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(LOCK_FILE)
    }

    /// The lock in `state_dir`, empty when there is none yet.
    pub fn load(state_dir: &Path) -> Result<DigestLock, LockError> {
        let path = Self::path(state_dir);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| LockError::Damaged { path, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DigestLock::default()),
            Err(source) => Err(LockError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Writes to a temporary name and renames, so a reader never sees half a file.
    pub fn save(&self, state_dir: &Path) -> Result<(), LockError> {
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| LockError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(io("create", state_dir))?;
        let path = Self::path(state_dir);
        let tmp = state_dir.join(format!(".{LOCK_FILE}.{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("write", &tmp))?;
        let mut text = serde_json::to_string_pretty(self).expect("plain data serializes");
        text.push('\n');
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("replace", &path))
    }

    /// The entry whose reference is `reference` exactly.
    pub fn by_reference(&self, reference: &str) -> Option<&LockedImage> {
        self.images.values().find(|i| i.reference == reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_and_pins() {
        let t = tempfile::tempdir().unwrap();
        assert!(DigestLock::load(t.path()).unwrap().images.is_empty());
        let mut lock = DigestLock::default();
        let image = LockedImage {
            reference: "localhost:4999/ko/a:latest".into(),
            digest: "sha256:ab".into(),
            content_hash: "00".into(),
        };
        lock.images.insert("a".into(), image.clone());
        lock.save(t.path()).unwrap();
        let back = DigestLock::load(t.path()).unwrap();
        assert_eq!(back.images["a"], image);
        assert_eq!(
            back.by_reference("localhost:4999/ko/a:latest")
                .unwrap()
                .pinned(),
            "localhost:4999/ko/a@sha256:ab"
        );
        std::fs::write(DigestLock::path(t.path()), "{").unwrap();
        assert!(matches!(
            DigestLock::load(t.path()),
            Err(LockError::Damaged { .. })
        ));
    }
}
