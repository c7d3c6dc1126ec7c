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

/// A record built whole, as the tests build one to compare with what a render writes
/// ([`write_record`]) and reads back ([`previous`]).
#[cfg(test)]
impl Record {
    pub fn add(&mut self, rel: &Path, content: &[u8]) {
        self.files.insert(rel.to_path_buf(), digest(content));
    }

    /// The marker file's text, as serde makes it (nothing but a newline when a path is
    /// not UTF-8, which JSON cannot hold).
    pub fn to_text(&self) -> String {
        let record = Record {
            about: ABOUT.to_string(),
            files: self.files.clone(),
        };
        let mut text = serde_json::to_string_pretty(&record).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// A file's entry in the record, made by the thread that wrote the file: where it goes
/// in the record's order, and its line of the record's text.
pub struct Entry {
    order: Vec<u8>,
    /// `None` for a path JSON cannot hold (not UTF-8).
    line: Option<Vec<u8>>,
}

impl Entry {
    /// The entry of the file `path` (relative to the output) holding `content`.
    pub fn new(path: &Path, content: &[u8]) -> Entry {
        let sum = digest(content);
        // As serde_json's pretty printer writes a map's entry (a test holds them equal).
        let mut line = Vec::with_capacity(path.as_os_str().len() + sum.len() + 12);
        line.extend_from_slice(b"    ");
        let line = serde_json::to_writer(&mut line, path).ok().map(|()| {
            line.extend_from_slice(b": \"");
            line.extend_from_slice(sum.as_bytes());
            line.push(b'"');
            line
        });
        Entry {
            order: order_key(path),
            line,
        }
    }
}

/// Writes the marker file's text for files written in any order, each once: the text of
/// their [`Record`], made without building it or holding all of it at once.
pub fn write_record(mut entries: Vec<Entry>, to: impl std::io::Write) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut to = std::io::BufWriter::with_capacity(64 * 1024, to);
    if entries.iter().any(|e| e.line.is_none()) {
        // A path JSON cannot hold leaves the record empty, as serde would.
        to.write_all(b"\n")?;
        return to.flush();
    }
    entries.sort_unstable_by(|a, b| a.order.cmp(&b.order));
    let about = serde_json::to_string(ABOUT).unwrap_or_default();
    write!(to, "{{\n  \"about\": {about},\n  \"files\": {{")?;
    if entries.is_empty() {
        to.write_all(b"}\n}\n")?;
        return to.flush();
    }
    for (i, line) in entries.iter().filter_map(|e| e.line.as_ref()).enumerate() {
        to.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        to.write_all(line)?;
    }
    to.write_all(b"\n  }\n}\n")?;
    to.flush()
}

/// A path's bytes made to sort, as bytes, in the order of paths by component (the
/// record's): `/` ends a component, so it becomes the lowest byte and the bytes below it
/// move up one (a path holds no NUL). Comparing these is one `memcmp`, where comparing
/// components took a tenth of a render once.
fn order_key(path: &Path) -> Vec<u8> {
    let rank = |c: u8| match c {
        b'/' => 0,
        c if c < b'/' => c + 1,
        c => c,
    };
    path.as_os_str()
        .as_bytes()
        .iter()
        .map(|&c| rank(c))
        .collect()
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
                assert_eq!(order_key(x).cmp(&order_key(y)), x.cmp(y), "{x:?} {y:?}");
            }
        }
    }

    /// The record written from entries in any order is the text serde makes of it.
    #[test]
    fn written_record_is_the_records_text() {
        let text = |files: &[(&[u8], &str)]| {
            let mut record = Record::default();
            let mut entries = Vec::new();
            for (name, content) in files {
                let path = Path::new(std::ffi::OsStr::from_bytes(name));
                record.add(path, content.as_bytes());
                entries.push(Entry::new(path, content.as_bytes()));
            }
            entries.reverse();
            let mut written = Vec::new();
            write_record(entries, &mut written).unwrap();
            (String::from_utf8(written).unwrap(), record.to_text())
        };
        let names: [&[u8]; 12] = [
            b"a",
            b"a-b",
            b"a.b",
            b"a/b",
            b"a/b/c",
            b"a/b-c",
            b"ab",
            b"a.",
            b"b",
            b"-",
            b"a/-/x",
            b"dir/a \"quoted\"\\ name\x07",
        ];
        let files: Vec<_> = names.iter().map(|n| (*n, "content")).collect();
        let (written, expected) = text(&files);
        assert_eq!(written, expected);
        assert!(written.contains(&digest(b"content")));
        let (written, expected) = text(&[]);
        assert_eq!(written, expected, "no files");
        // A name JSON cannot hold: serde gives up on the whole record, and so does this.
        let (written, expected) = text(&[(b"a", "x"), (b"b\xff.yaml", "y")]);
        assert_eq!(written, expected, "a name not UTF-8");
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
