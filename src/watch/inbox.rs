//! The watched directory as a durable queue of manifest files.
//!
//! A file stays where it was dropped until its objects are applied; only then is it
//! renamed into `applied/` (or, with its error beside it, into `failed/`). A watcher
//! killed mid-apply therefore finds the file again on restart and applies it again,
//! which server-side apply makes harmless: nothing is ever lost.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub const APPLIED: &str = "applied";
pub const FAILED: &str = "failed";

/// How long a file's size and modification time must stay still before a file that
/// no event vouched for (found at start-up, or by polling) counts as complete.
pub const SETTLE: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct Inbox {
    dir: PathBuf,
    /// Size and mtime last seen per file, to tell a finished file from one being written.
    seen: HashMap<PathBuf, (u64, SystemTime)>,
}

impl Inbox {
    /// Opens `dir`, creating it and its `applied/` and `failed/` folders (mode 0700:
    /// the files may hold Secrets).
    pub fn open(dir: &Path) -> std::io::Result<Inbox> {
        for sub in [dir.to_path_buf(), dir.join(APPLIED), dir.join(FAILED)] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&sub)?;
        }
        Ok(Inbox {
            dir: dir.to_path_buf(),
            seen: HashMap::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Files waiting in the directory, sorted by name; temporary and hidden names skipped.
    pub fn waiting(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if entry.file_type()?.is_file() && !is_temporary(&name.to_string_lossy()) {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(files)
    }

    /// The waiting files that are complete: those an event vouched for (`closed`:
    /// closed after writing, or renamed in), and those whose size and mtime have not
    /// changed since the previous call and are older than [`SETTLE`].
    pub fn complete(&mut self, closed: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
        let now = SystemTime::now();
        let mut ready = Vec::new();
        let mut still = HashMap::new();
        for path in self.waiting()? {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let stamp = (meta.len(), meta.modified()?);
            let settled = self.seen.get(&path) == Some(&stamp)
                && now.duration_since(stamp.1).unwrap_or_default() >= SETTLE;
            if closed.contains(&path) || settled {
                ready.push(path.clone());
            }
            still.insert(path, stamp);
        }
        self.seen = still;
        Ok(ready)
    }

    /// Whether some waiting file is not complete yet (so the caller polls again soon).
    pub fn has_unsettled(&self) -> bool {
        !self.seen.is_empty()
    }

    /// Moves an applied file into `applied/` (a newer file of the same name replaces
    /// the older one there: it is what the cluster now holds).
    pub fn applied(&mut self, file: &Path) -> std::io::Result<PathBuf> {
        let target = self.dir.join(APPLIED).join(file_name(file));
        std::fs::rename(file, &target)?;
        self.seen.remove(file);
        Ok(target)
    }

    /// Moves a file that cannot be applied into `failed/`, with `NAME.error` beside it
    /// holding `message`. The error file is written first, so a crash in between leaves
    /// the file in the queue (tried again), never in `failed/` without its reason.
    pub fn failed(&mut self, file: &Path, message: &str) -> std::io::Result<PathBuf> {
        let failed = self.dir.join(FAILED);
        let name = file_name(file);
        let mut error = tempfile::NamedTempFile::new_in(&failed)?;
        error.write_all(message.as_bytes())?;
        if !message.ends_with('\n') {
            error.write_all(b"\n")?;
        }
        error
            .persist(failed.join(format!("{name}.error")))
            .map_err(|e| e.error)?;
        let target = failed.join(&name);
        std::fs::rename(file, &target)?;
        self.seen.remove(file);
        Ok(target)
    }
}

/// Names writers use while a file is incomplete, and hidden files: never applied.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || [
            ".tmp",
            ".swp",
            ".swx",
            ".part",
            ".partial",
            ".crdownload",
            ".dpkg-new",
            ".error",
        ]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_and_hidden_names_are_skipped() {
        for name in [
            ".x.yaml",
            ".incoming-abc",
            "x.yaml~",
            "#x.yaml#",
            "x.yaml.tmp",
            "x.swp",
            "x.part",
            "x.error",
        ] {
            assert!(is_temporary(name), "{name}");
        }
        for name in ["x.yaml", "mariadb-rc.yaml", "web.pod", "a"] {
            assert!(!is_temporary(name), "{name}");
        }
    }

    #[test]
    fn a_file_is_complete_when_an_event_says_so_or_once_it_has_settled() {
        let dir = tempfile::tempdir().unwrap();
        let mut inbox = Inbox::open(dir.path()).unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, "kind: A\n").unwrap();
        std::fs::write(&b, "kind: B\n").unwrap();
        std::fs::write(dir.path().join(".writing"), "x").unwrap();
        // Only the file an event vouched for is ready at first.
        assert_eq!(
            inbox.complete(std::slice::from_ref(&a)).unwrap(),
            vec![a.clone()]
        );
        assert!(inbox.has_unsettled());
        // Still, and old enough: ready without an event.
        let old = SystemTime::now() - Duration::from_secs(5);
        for f in [&a, &b] {
            std::fs::File::options()
                .write(true)
                .open(f)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        inbox.complete(&[]).unwrap();
        assert_eq!(inbox.complete(&[]).unwrap(), vec![a.clone(), b.clone()]);
        // A file that grows between two looks is not.
        std::fs::write(&b, "kind: B\nmore: yes\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&b)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(inbox.complete(&[]).unwrap(), vec![a.clone()]);
    }

    #[test]
    fn applied_and_failed_files_move_with_their_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut inbox = Inbox::open(dir.path()).unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, "one").unwrap();
        std::fs::write(&b, "two").unwrap();
        inbox.applied(&a).unwrap();
        inbox.failed(&b, "b.yaml:1: not YAML").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("applied/a.yaml")).unwrap(),
            "one"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("failed/b.yaml")).unwrap(),
            "two"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("failed/b.yaml.error")).unwrap(),
            "b.yaml:1: not YAML\n"
        );
        assert!(inbox.waiting().unwrap().is_empty());
        // A newer file of the same name replaces the applied one.
        std::fs::write(&a, "three").unwrap();
        inbox.applied(&a).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("applied/a.yaml")).unwrap(),
            "three"
        );
    }
}
