//! The state directory (`.kube-openstack/`, mode 0700), which every stage keeps its files
//! in: generated parameter values, the key that makes masked secrets comparable, the
//! secrets earlier renders wrote, the image digests, `up`'s record. Files are written to a
//! temporary name and renamed, and a lock stops two runs from writing at once: a command
//! that writes takes it alone (exclusive), commands that only read share it.

use serde::Serialize;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "lock";
const MASK_KEY_FILE: &str = "mask.key";
const RENDERED_SECRETS_FILE: &str = "rendered-secrets.json";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is damaged; move it away to start afresh (generated values would change)", path.display())]
    Damaged {
        path: PathBuf,
        /// The parser's message without the values it quoted: they are secrets here.
        #[source]
        source: crate::redact::ValueFree,
    },
    #[error("another kube-openstack ({holder}) is using `{}`; wait for it to finish", path.display())]
    Locked { path: PathBuf, holder: String },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + use<> {
    let path = path.to_path_buf();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

/// Held while a run may write state (or, shared, reads it); released on drop.
#[derive(Debug)]
pub struct StateLock {
    file: fs::File,
    exclusive: bool,
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // The holder's pid goes with it, so a later refusal names no process gone since.
        if self.exclusive {
            let _ = self.file.set_len(0);
        }
    }
}

impl StateDir {
    pub fn new(path: impl Into<PathBuf>) -> StateDir {
        StateDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state directory and the files directly in it that others than the owner may
    /// read or enter (mode wider than 0700 / 0600), with their mode. They hold generated
    /// passwords and the mask key: the caller warns (see README for why not refuse).
    pub fn loose_permissions(&self) -> Vec<(PathBuf, u32)> {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
        let mut out = Vec::new();
        match mode(&self.path) {
            Ok(m) if m & 0o077 != 0 => out.push((self.path.clone(), m)),
            Ok(_) => {}
            Err(_) => return out,
        }
        for entry in fs::read_dir(&self.path).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_file())
                && let Ok(m) = mode(&path)
                && m & 0o077 != 0
            {
                out.push((path, m));
            }
        }
        out.sort();
        out
    }

    fn ensure(&self) -> Result<(), StoreError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
            .map_err(io("create", &self.path))
    }

    /// Takes the state lock alone, failing at once (naming the holder) if another run
    /// has it, reading or writing.
    pub fn lock(&self) -> Result<StateLock, StoreError> {
        let (path, mut file) = self.lock_file()?;
        if let Err(e) = file.try_lock() {
            return Err(self.refused(&path, e));
        }
        file.set_len(0).map_err(io("write", &path))?;
        write!(file, "pid {}", std::process::id()).map_err(io("write", &path))?;
        Ok(StateLock {
            file,
            exclusive: true,
        })
    }

    /// Takes the state lock shared with other readers, for a command that only reads
    /// the state: it fails at once only while a run that writes holds the lock.
    pub fn lock_shared(&self) -> Result<StateLock, StoreError> {
        let (path, file) = self.lock_file()?;
        if let Err(e) = file.try_lock_shared() {
            return Err(self.refused(&path, e));
        }
        Ok(StateLock {
            file,
            exclusive: false,
        })
    }

    fn lock_file(&self) -> Result<(PathBuf, fs::File), StoreError> {
        self.ensure()?;
        let path = self.path.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io("open", &path))?;
        Ok((path, file))
    }

    fn refused(&self, path: &Path, e: fs::TryLockError) -> StoreError {
        match e {
            fs::TryLockError::WouldBlock => {
                let holder = fs::read_to_string(path).unwrap_or_default();
                let holder = match holder.trim() {
                    "" => "another process".to_string(),
                    pid => pid.to_string(),
                };
                StoreError::Locked {
                    path: self.path.clone(),
                    holder,
                }
            }
            fs::TryLockError::Error(e) => io("lock", path)(e),
        }
    }

    /// The key for masked-secret hashes, made on first use so hashes are stable between runs.
    pub fn mask_key(&self) -> Result<Vec<u8>, StoreError> {
        let path = self.path.join(MASK_KEY_FILE);
        match fs::read(&path) {
            Ok(key) if key.len() >= 16 => return Ok(key),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", &path)(e)),
        }
        // Made once even by readers running side by side: the first key in place wins.
        let key: [u8; 32] = rand::random();
        self.ensure()?;
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{MASK_KEY_FILE}."))
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(&self.path)
            .map_err(io("create a temporary file in", &self.path))?;
        tmp.write_all(&key).map_err(io("write", tmp.path()))?;
        tmp.as_file().sync_all().map_err(io("write", tmp.path()))?;
        match tmp.persist_noclobber(&path) {
            Ok(_) => Ok(key.to_vec()),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                fs::read(&path).map_err(io("read", &path))
            }
            Err(e) => Err(io("write", &path)(e.error)),
        }
    }

    /// Adds the secret values a render wrote, so later diffs mask them even after the
    /// parameters changed (the previous render on disk still holds the old values).
    pub fn remember_rendered_secrets(&self, secrets: &[String]) -> Result<(), StoreError> {
        let mut all = self.rendered_secrets()?;
        let before = all.len();
        all.extend(secrets.iter().cloned());
        all.sort();
        all.dedup();
        if all.len() == before {
            return Ok(());
        }
        self.write_atomic(
            RENDERED_SECRETS_FILE,
            &serde_json::to_vec(&all).expect("serializable"),
        )
    }

    pub fn rendered_secrets(&self) -> Result<Vec<String>, StoreError> {
        let path = self.path.join(RENDERED_SECRETS_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Damaged {
                path,
                source: crate::redact::ValueFree::new(&e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Reads a JSON state file; `None` when it does not exist yet.
    pub fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StoreError> {
        let path = self.path.join(name);
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Damaged {
                        path,
                        source: crate::redact::ValueFree::new(&e),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Writes a JSON state file atomically, mode 0600.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        self.write_atomic(
            name,
            &serde_json::to_vec_pretty(value).expect("serializable"),
        )
    }

    /// Writes a state file of any format atomically, mode 0600.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.write_atomic(name, bytes)
    }

    /// Writes `name` through a temporary file and a rename, mode 0600.
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.ensure()?;
        let target = self.path.join(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(&self.path)
            .map_err(io("create a temporary file in", &self.path))?;
        tmp.write_all(bytes).map_err(io("write", tmp.path()))?;
        tmp.as_file().sync_all().map_err(io("write", tmp.path()))?;
        tmp.persist(&target)
            .map_err(|e| io("replace", &target)(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_files_round_trip_with_private_modes() {
        let t = tempfile::tempdir().unwrap();
        let dir = StateDir::new(t.path().join(".kube-openstack"));
        dir.write_json("some.json", &vec!["old".to_string()])
            .unwrap();
        let back: Option<Vec<String>> = dir.read_json("some.json").unwrap();
        assert_eq!(back, Some(vec!["old".to_string()]));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&dir.path().join("some.json")), 0o600);
    }

    #[test]
    fn a_damaged_state_file_is_an_error_not_a_silent_reset() {
        let t = tempfile::tempdir().unwrap();
        let dir = StateDir::new(t.path());
        fs::write(t.path().join("some.json"), "{not json").unwrap();
        assert!(matches!(
            dir.read_json::<Vec<String>>("some.json"),
            Err(StoreError::Damaged { .. })
        ));
    }

    #[test]
    fn readers_share_the_lock_and_a_writer_waits_for_none_of_them() {
        let t = tempfile::tempdir().unwrap();
        let dir = StateDir::new(t.path().join("state"));
        let a = dir.lock_shared().unwrap();
        let b = dir.lock_shared().unwrap();
        assert!(matches!(dir.lock(), Err(StoreError::Locked { .. })));
        drop((a, b));
        let writing = dir.lock().unwrap();
        match dir.lock_shared() {
            Err(StoreError::Locked { holder, .. }) => {
                assert_eq!(holder, format!("pid {}", std::process::id()))
            }
            other => panic!("expected a lock error, got {other:?}"),
        }
        drop(writing);
        // The writer's pid went with it.
        let _reading = dir.lock_shared().unwrap();
        match dir.lock() {
            Err(StoreError::Locked { holder, .. }) => assert_eq!(holder, "another process"),
            other => panic!("expected a lock error, got {other:?}"),
        }
    }

    #[test]
    fn the_mask_key_is_made_once() {
        let t = tempfile::tempdir().unwrap();
        let dir = StateDir::new(t.path().join("state"));
        let key = dir.mask_key().unwrap();
        assert_eq!(dir.mask_key().unwrap(), key);
        assert_eq!(key.len(), 32);
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let t = tempfile::tempdir().unwrap();
        let dir = StateDir::new(t.path());
        let _held = dir.lock().unwrap();
        match dir.lock() {
            Err(StoreError::Locked { holder, .. }) => {
                assert_eq!(holder, format!("pid {}", std::process::id()))
            }
            other => panic!("expected a lock error, got {other:?}"),
        }
    }

    #[test]
    fn rendered_secrets_accumulate() {
        let t = tempfile::tempdir().unwrap();
        let dir = StateDir::new(t.path());
        dir.remember_rendered_secrets(&["a".into()]).unwrap();
        dir.remember_rendered_secrets(&["b".into(), "a".into()])
            .unwrap();
        assert_eq!(
            dir.rendered_secrets().unwrap(),
            vec!["a".to_string(), "b".to_string()]
        );
    }

    #[test]
    fn the_mask_key_is_stable() {
        let t = tempfile::tempdir().unwrap();
        let dir = StateDir::new(t.path());
        assert_eq!(dir.mask_key().unwrap(), dir.mask_key().unwrap());
    }
}
