//! What a render wrote: the record kept in the output's marker file (every file's path
//! and SHA-256), and the files of an output directory that record does not account for.
//!
//! A render replaces its output directory as a whole; the record is how it knows that
//! doing so destroys nothing it did not write itself. A file someone added to the output
//! since, or one edited there, is a stranger: the render refuses to go on, or with
//! `--force` moves it aside first, and says where.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Marks a directory as made by `render`; holds the [`Record`].
pub const MARKER: &str = ".kube-openstack-render";
const ABOUT: &str = "This directory is written by `kube-openstack render`; it is replaced as a whole on every render. `files` lists what the render wrote: anything else found here is moved aside, never deleted.";

/// Every file a render wrote, by path relative to the output, with its SHA-256.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Record {
    #[serde(default)]
    about: String,
    pub files: BTreeMap<PathBuf, String>,
}

impl Record {
    pub fn add(&mut self, rel: &Path, content: &[u8]) {
        self.add_digest(rel, digest(content));
    }

    /// Records a file whose [`digest`] is already known.
    pub fn add_digest(&mut self, rel: &Path, sum: String) {
        self.files.insert(rel.to_path_buf(), sum);
    }

    /// The marker file's text.
    pub fn to_text(&self) -> String {
        text(self.files.iter())
    }
}

/// The marker file's text for files written in any order, each once: the text of their
/// [`Record`], made without building it.
pub fn record_text(mut files: Vec<(PathBuf, String)>) -> String {
    // By bytes with `/` lowest, which is the order of paths by component (the record's),
    // without comparing components (which took a tenth of a render once).
    use rayon::slice::ParallelSliceMut;
    files.par_sort_unstable_by(|a, b| by_component(&a.0, &b.0));
    text(files.iter().map(|(p, s)| (p, s)))
}

/// The text of a record of `files`, in order.
fn text<'a, I>(files: I) -> String
where
    I: Iterator<Item = (&'a PathBuf, &'a String)> + Clone,
{
    struct Files<I>(I);
    impl<'a, I> serde::Serialize for Files<I>
    where
        I: Iterator<Item = (&'a PathBuf, &'a String)> + Clone,
    {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.clone())
        }
    }
    #[derive(serde::Serialize)]
    struct Text<F> {
        about: &'static str,
        files: F,
    }
    let record = Text {
        about: ABOUT,
        files: Files(files),
    };
    let mut text = serde_json::to_string_pretty(&record).unwrap_or_default();
    text.push('\n');
    text
}

/// The order of paths (relative, as a render writes them) by component, from their bytes:
/// `/` ends a component, so it goes before every other byte.
fn by_component(a: &Path, b: &Path) -> std::cmp::Ordering {
    let rank = |c: u8| match c {
        b'/' => 0,
        c if c < b'/' => c + 1,
        c => c,
    };
    let (a, b) = (a.as_os_str().as_bytes(), b.as_os_str().as_bytes());
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => rank(a[i]).cmp(&rank(b[i])),
        None => a.len().cmp(&b.len()),
    }
}

/// What stands at the output path before a render.
#[derive(Debug)]
pub enum Previous {
    /// Nothing, or an empty directory.
    Nothing,
    /// A render's output: its record, or `None` for a marker from before records, whose
    /// files are all taken as the render's.
    Render(Option<Record>),
    /// A directory that holds files and no marker.
    Foreign,
}

/// Reads the output directory's marker, if any.
pub fn previous(dir: &Path) -> std::io::Result<Previous> {
    match std::fs::read(dir.join(MARKER)) {
        Ok(bytes) => Ok(Previous::Render(serde_json::from_slice(&bytes).ok())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let empty = match std::fs::read_dir(dir) {
                Ok(mut entries) => entries.next().is_none(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => return Err(e),
            };
            Ok(if empty {
                Previous::Nothing
            } else {
                Previous::Foreign
            })
        }
        Err(e) => Err(e),
    }
}

/// The files (and links) under `dir` that the last render did not write, or that changed
/// since it wrote them, sorted. Directories themselves are not counted.
pub fn strangers(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let record = match previous(dir)? {
        Previous::Nothing | Previous::Render(None) => return Ok(Vec::new()),
        Previous::Render(Some(record)) => Some(record),
        Previous::Foreign => None,
    };
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        if entry.file_type().is_dir() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(dir) else {
            continue;
        };
        if rel.as_os_str() == MARKER {
            continue;
        }
        let ours = match (&record, entry.file_type().is_file()) {
            (Some(record), true) => record
                .files
                .get(rel)
                .is_some_and(|sum| std::fs::read(entry.path()).is_ok_and(|b| &digest(&b) == sum)),
            _ => false,
        };
        if !ours {
            out.push(rel.to_path_buf());
        }
    }
    Ok(out)
}

/// Moves `files` (relative to `dir`) into a new directory beside it, keeping their
/// relative paths; returns that directory.
pub fn move_aside(dir: &Path, files: &[PathBuf]) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let parent = dir.parent().unwrap_or(Path::new("."));
    let mut aside = parent.join(format!("{name}.kept-{seconds}"));
    let mut n = 1;
    while aside.exists() {
        aside = parent.join(format!("{name}.kept-{seconds}-{n}"));
        n += 1;
    }
    // Private: a file someone put beside rendered secrets may be one too.
    std::fs::DirBuilder::new().mode(0o700).create(&aside)?;
    for rel in files {
        let to = aside.join(rel);
        if let Some(p) = to.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(p)?;
        }
        std::fs::rename(dir.join(rel), &to)?;
    }
    Ok(aside)
}

/// The SHA-256 of `content`, in lowercase hex.
pub fn digest(content: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(64);
    for b in Sha256::digest(content) {
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strangers_are_files_not_recorded_or_changed_since() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("out");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        assert!(
            strangers(&dir).unwrap().is_empty(),
            "empty: nothing to lose"
        );
        std::fs::write(dir.join("a.yaml"), "a").unwrap();
        std::fs::write(dir.join("sub/b.yaml"), "b").unwrap();
        assert_eq!(strangers(&dir).unwrap().len(), 2, "no marker: all foreign");
        let mut record = Record::default();
        record.add(Path::new("a.yaml"), b"a");
        record.add(Path::new("sub/b.yaml"), b"b");
        std::fs::write(dir.join(MARKER), record.to_text()).unwrap();
        assert!(strangers(&dir).unwrap().is_empty());
        std::fs::write(dir.join("sub/b.yaml"), "edited").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        std::os::unix::fs::symlink("a.yaml", dir.join("link")).unwrap();
        assert_eq!(
            strangers(&dir).unwrap(),
            vec![
                PathBuf::from("link"),
                PathBuf::from("notes.txt"),
                PathBuf::from("sub/b.yaml")
            ]
        );
        // A marker from before records: everything is taken as the render's.
        std::fs::write(dir.join(MARKER), "written by render\n").unwrap();
        assert!(strangers(&dir).unwrap().is_empty());
    }

    #[test]
    fn paths_sort_by_bytes_as_by_component() {
        let names = [
            "a", "a-b", "a.b", "a/b", "a/b/c", "a/b-c", "ab", "a.", "b", "-", "a/-/x",
        ];
        for x in names {
            for y in names {
                let (x, y) = (Path::new(x), Path::new(y));
                assert_eq!(by_component(x, y), x.cmp(y), "{x:?} {y:?}");
            }
        }
        let mut record = Record::default();
        let mut files = Vec::new();
        for (i, n) in names.iter().enumerate() {
            record.add_digest(Path::new(n), i.to_string());
            files.push((PathBuf::from(n), i.to_string()));
        }
        files.reverse();
        assert_eq!(record_text(files), record.to_text());
    }

    #[test]
    fn moved_aside_files_keep_their_paths() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("out");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/notes.txt"), "mine").unwrap();
        let aside = move_aside(&dir, &[PathBuf::from("sub/notes.txt")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(aside.join("sub/notes.txt")).unwrap(),
            "mine"
        );
        assert!(!dir.join("sub/notes.txt").exists());
        let again = move_aside(&dir, &[]).unwrap();
        assert_ne!(aside, again, "a second move gets its own directory");
    }
}
