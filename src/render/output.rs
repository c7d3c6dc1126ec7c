//! Writing a rendered tree: into a temporary sibling directory first, swapped in only when
//! every file rendered, so the output is never half-written and mirrors the input exactly.
//!
//! Rendered files hold secrets: files are created 0600 and directories 0700, and the
//! staging directory is a [`ScratchDir`]: removed on an error, on SIGINT/SIGTERM/SIGHUP,
//! on a write past `ulimit -f`, and (after SIGKILL) by the next render into the same
//! place. Nothing the render did not write is ever deleted: see [`super::written`].

use super::RenderedFile;
use super::at;
use super::written::{self, Previous};
use crate::scratch::{self, ScratchDir};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use written::MARKER;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("refusing to render into the input directory `{}`", .0.display())]
    InPlace(PathBuf),
    #[error("refusing to render into `{}`, which is inside the input directory `{}`", .output.display(), .input.display())]
    InsideInput { output: PathBuf, input: PathBuf },
    #[error("refusing to render into `{}`, which contains the input directory `{}`", .output.display(), .input.display())]
    ContainsInput { output: PathBuf, input: PathBuf },
    #[error("refusing to replace `{}`: it is not empty and does not look like a previous render (no `{MARKER}` file)", .0.display())]
    NotARender(PathBuf),
    #[error("refusing to replace `{}`: {} not written by the last render (or changed since): {}", dir.display(), if files.len() == 1 { "1 file was".to_string() } else { format!("{} files were", files.len()) }, shown(files))]
    Strangers { dir: PathBuf, files: Vec<PathBuf> },
    #[error("refusing to render into `{}`: the state directory `{}` {}; a render replaces its output as a whole, and the generated values would go with it", output.display(), state.display(), if *inside { "is inside it" } else { "contains it" })]
    StateOverlap {
        output: PathBuf,
        state: PathBuf,
        inside: bool,
    },
    #[error("`{}` exists and is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Up to five paths, then how many more.
fn shown(files: &[PathBuf]) -> String {
    let mut text: Vec<String> = files
        .iter()
        .take(5)
        .map(|f| format!("`{}`", f.display()))
        .collect();
    if files.len() > 5 {
        text.push(format!("and {} more", files.len() - 5));
    }
    text.join(", ")
}

fn io<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> OutputError + use<'p> {
    move |source| OutputError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Absolute, normalised form of a path that may not exist yet.
fn absolute(path: &Path) -> Result<PathBuf, OutputError> {
    let abs = std::path::absolute(path).map_err(io("resolve", path))?;
    // Resolve symlinks in the longest existing prefix, so `a/../b` and links compare right.
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(p), Some(n)) => {
                rest.push(n.to_os_string());
                existing = p;
            }
            _ => break,
        }
    }
    let mut resolved = existing.canonicalize().map_err(io("resolve", existing))?;
    resolved.extend(rest.iter().rev());
    Ok(resolved)
}

/// Checks that rendering `input` into `output` is safe, before anything is written:
/// neither directory holds the other, nor the state directory `state`, and what the
/// output holds was written by a render (or `force` moves the rest aside).
pub fn check_target(
    input: &Path,
    output: &Path,
    state: &Path,
    force: bool,
) -> Result<(), OutputError> {
    check_input_apart(input, output)?;
    check_state_apart(output, state)?;
    match fs::symlink_metadata(output) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("inspect", output)(e)),
        Ok(m) if !m.is_dir() => Err(OutputError::NotADirectory(output.to_path_buf())),
        // With --force, whatever the render did not write is moved aside at commit.
        Ok(_) if force => Ok(()),
        Ok(_) => refuse_strangers(output),
    }
}

/// Refuses an output directory that is the input directory, lies inside it, or holds it.
pub fn check_input_apart(input: &Path, output: &Path) -> Result<(), OutputError> {
    let (inp, out) = (absolute(input)?, absolute(output)?);
    if inp == out {
        return Err(OutputError::InPlace(output.to_path_buf()));
    }
    if out.starts_with(&inp) {
        return Err(OutputError::InsideInput {
            output: output.to_path_buf(),
            input: input.to_path_buf(),
        });
    }
    // Replacing a parent of the input would delete the templates: never, even with --force.
    if inp.starts_with(&out) {
        return Err(OutputError::ContainsInput {
            output: output.to_path_buf(),
            input: input.to_path_buf(),
        });
    }
    Ok(())
}

/// Refuses an output directory holding files the last render did not write.
fn refuse_strangers(output: &Path) -> Result<(), OutputError> {
    if let Previous::Foreign = written::previous(output).map_err(io("inspect", output))? {
        return Err(OutputError::NotARender(output.to_path_buf()));
    }
    let files = written::strangers(output).map_err(io("list", output))?;
    if files.is_empty() {
        Ok(())
    } else {
        Err(OutputError::Strangers {
            dir: output.to_path_buf(),
            files,
        })
    }
}

/// Refuses an output directory that holds the state directory, or lies inside it: the
/// output is replaced as a whole, so the generated values (or the state) would be lost.
/// Checked again by [`check_target`]; commands call it first, before the parameters are
/// read, since reading them writes the state directory.
pub fn check_state_apart(output: &Path, state: &Path) -> Result<(), OutputError> {
    let (out, st) = (absolute(output)?, absolute(state)?);
    if st.starts_with(&out) || out.starts_with(&st) {
        return Err(OutputError::StateOverlap {
            output: output.to_path_buf(),
            state: state.to_path_buf(),
            inside: st.starts_with(&out),
        });
    }
    Ok(())
}

/// A temporary directory beside the output, receiving files until [`Staging::commit`].
/// Dropped without commit, it is removed and the output is left as it was.
pub struct Staging {
    dir: ScratchDir,
    target: PathBuf,
    force: bool,
    /// Each file written, in no order: the record is made at commit.
    written: Mutex<Vec<written::Entry>>,
    /// The staging tree's root, and its directories made so far (by relative path).
    root: Arc<fs::File>,
    dirs: at::HeldDirs,
    swept: Vec<PathBuf>,
}

/// What a commit did besides swapping the tree in.
#[derive(Debug, Default)]
pub struct Committed {
    /// Where files the previous render had not written were moved (with `--force`).
    pub kept: Option<(PathBuf, usize)>,
    /// The previous tree, when it could not be removed (it holds the old secrets).
    pub left: Option<(PathBuf, std::io::Error)>,
}

impl Staging {
    /// A staging directory for `target`; `force` moves aside, at commit, files the
    /// previous render did not write instead of refusing. Staging directories that an
    /// interrupted render left beside `target` are removed first ([`Staging::swept`]).
    pub fn new(target: &Path, force: bool) -> Result<Staging, OutputError> {
        let target = std::path::absolute(target).map_err(io("resolve", target))?;
        let parent = target
            .parent()
            .ok_or_else(|| OutputError::NotADirectory(target.clone()))?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io("create", parent))?;
        let prefix = staging_prefix(&target);
        let swept = scratch::sweep(parent, &prefix);
        let dir = ScratchDir::new_in(parent, &prefix)
            .map_err(io("create a temporary directory in", parent))?;
        let root = at::open_dir(dir.path()).map_err(io("open", dir.path()))?;
        Ok(Staging {
            dir,
            target,
            force,
            written: Mutex::new(Vec::new()),
            root: Arc::new(root),
            dirs: at::HeldDirs::default(),
            swept,
        })
    }

    /// Staging directories of interrupted renders removed by [`Staging::new`].
    pub fn swept(&self) -> &[PathBuf] {
        &self.swept
    }

    /// Writes one file (callable from several threads at once).
    pub fn write(&self, file: &RenderedFile) -> std::io::Result<()> {
        let parent = file.path.parent().unwrap_or(Path::new(""));
        let dir = self.dir_of(parent)?;
        let name = file.path.file_name().unwrap_or_default();
        // Made in its directory, by name: the kernel walks one component, not the
        // whole path (a tenth of the system time of a render of many small files).
        let mut f = at::create(&dir, name, 0o600)?;
        f.write_all(&file.content)?;
        // Made before taking the lock, so that threads do not wait on each other's hashing.
        let entry = written::Entry::new(&file.path, &file.content);
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
        Ok(())
    }

    /// The directory `rel` of the staging tree, made (0700) if it is not yet.
    fn dir_of(&self, rel: &Path) -> std::io::Result<Arc<fs::File>> {
        // Directories below the root only, each made in its parent: once the root is
        // gone (removed on a signal while other threads still render), nothing can be
        // made in it, so writing fails rather than making it again.
        let root = || Ok(self.root.clone());
        self.dirs
            .get(root, rel, |dir, name| at::make_dir(dir, name, 0o700))
    }

    /// Swaps the staged tree in place of the target, then removes the old tree. Files of
    /// the target the previous render did not write are moved aside first (with
    /// `force`), or the commit is refused and nothing changes.
    pub fn commit(self) -> Result<Committed, OutputError> {
        let mut done = Committed::default();
        let strangers = written::strangers(&self.target).map_err(io("list", &self.target))?;
        if !strangers.is_empty() {
            if !self.force {
                return Err(OutputError::Strangers {
                    dir: self.target.clone(),
                    files: strangers,
                });
            }
            let aside = written::move_aside(&self.target, &strangers)
                .map_err(io("move aside files of", &self.target))?;
            done.kept = Some((aside, strangers.len()));
        }
        let marker = self.dir.path().join(MARKER);
        let written = self.written.into_inner().unwrap_or_else(|e| e.into_inner());
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&marker)
            .and_then(|f| written::write_record(written, f))
            .map_err(io("write", &marker))?;
        if self.target.exists() {
            exchange(self.dir.path(), &self.target).map_err(io("replace", &self.target))?;
            // The scratch directory now holds the previous tree, old secrets and all.
            let old = self.dir.path().to_path_buf();
            if let Err(e) = self.dir.close() {
                done.left = Some((old, e));
            }
        } else {
            self.dir
                .persist(&self.target)
                .map_err(io("create", &self.target))?;
        }
        Ok(done)
    }
}

/// `.NAME.render-`: the staging directories of the output `NAME`.
fn staging_prefix(target: &Path) -> String {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    format!(".{name}.render-")
}

/// Atomically exchanges two directories, so readers see the old tree or the new one,
/// never neither.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths; renameat2 only reads them.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        fallback_exchange(a, b, std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    fallback_exchange(
        a,
        b,
        std::io::Error::other("no atomic exchange on this system"),
    )
}

/// Two renames, for file systems without an atomic exchange: the target is briefly absent.
fn fallback_exchange(a: &Path, b: &Path, _why: std::io::Error) -> std::io::Result<()> {
    let aside = a.with_extension("previous");
    fs::rename(b, &aside)?;
    if let Err(e) = fs::rename(a, b) {
        fs::rename(&aside, b)?;
        return Err(e);
    }
    fs::rename(&aside, a)
}

/// Files of a previous render (or any directory), by relative path.
pub fn read_tree(dir: &Path) -> std::io::Result<std::collections::BTreeMap<PathBuf, Vec<u8>>> {
    let mut files = std::collections::BTreeMap::new();
    if !dir.exists() {
        return Ok(files);
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .expect("under dir")
                .to_path_buf();
            if rel.as_os_str() == MARKER {
                continue;
            }
            files.insert(rel, std::fs::read(entry.path())?);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_in_place_inside_and_parent_targets() {
        let t = tempfile::tempdir().unwrap();
        let input = t.path().join("in");
        fs::create_dir(&input).unwrap();
        assert!(matches!(
            check_target(&input, &input, &t.path().join("state"), true),
            Err(OutputError::InPlace(_))
        ));
        assert!(matches!(
            check_target(&input, &input.join("out"), &t.path().join("state"), true),
            Err(OutputError::InsideInput { .. })
        ));
        assert!(matches!(
            check_target(&input, t.path(), &t.path().join("elsewhere/state"), true),
            Err(OutputError::ContainsInput { .. })
        ));
    }

    #[test]
    fn refuses_a_foreign_directory_unless_forced() {
        let t = tempfile::tempdir().unwrap();
        let (input, out) = (t.path().join("in"), t.path().join("out"));
        fs::create_dir(&input).unwrap();
        fs::create_dir(&out).unwrap();
        assert!(
            check_target(&input, &out, &t.path().join("state"), false).is_ok(),
            "an empty directory is fine"
        );
        fs::write(out.join("notes.txt"), "mine").unwrap();
        assert!(matches!(
            check_target(&input, &out, &t.path().join("state"), false),
            Err(OutputError::NotARender(_))
        ));
        assert!(check_target(&input, &out, &t.path().join("state"), true).is_ok());
        fs::write(out.join(MARKER), "").unwrap();
        assert!(check_target(&input, &out, &t.path().join("state"), false).is_ok());
    }

    #[test]
    fn commit_replaces_the_whole_tree_and_drop_leaves_it() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let file = |p: &str, c: &str| RenderedFile {
            path: p.into(),
            content: c.into(),
            objects: vec![],
            copied: false,
        };
        let s = Staging::new(&out, false).unwrap();
        s.write(&file("a/x.yaml", "one")).unwrap();
        s.write(&file("gone.yaml", "old")).unwrap();
        s.commit().unwrap();
        let s = Staging::new(&out, false).unwrap();
        s.write(&file("a/x.yaml", "two")).unwrap();
        drop(s);
        assert_eq!(
            fs::read_to_string(out.join("a/x.yaml")).unwrap(),
            "one",
            "an abandoned render changes nothing"
        );
        let s = Staging::new(&out, false).unwrap();
        s.write(&file("a/x.yaml", "two")).unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read_to_string(out.join("a/x.yaml")).unwrap(), "two");
        assert!(
            !out.join("gone.yaml").exists(),
            "files no longer rendered disappear"
        );
        let leftovers: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("out")]);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(out.join("a/x.yaml"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(out.join("a")).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
