//! Files and directories made inside a directory held open, by name: the kernel then
//! walks one component for each, not the whole path from the root.

use rustix::fs::{Mode, OFlags};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Opens the directory `path` (not following a link there).
pub fn open_dir(path: &Path) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::open(path, flags, Mode::empty())?.into())
}

/// Opens the file (or, with `dir_flag`, the directory) `name` in `dir` for reading,
/// following a link.
pub fn open(dir: &File, name: &OsStr, dir_flag: bool) -> io::Result<File> {
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC;
    if dir_flag {
        flags |= OFlags::DIRECTORY;
    }
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?.into())
}

/// Creates the file `name` in `dir` with `mode`; it must not exist.
pub fn create(dir: &File, name: &OsStr, mode: u32) -> io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode))?.into())
}

/// Makes the directory `name` in `dir` with `mode` (or finds it made) and opens it.
pub fn make_dir(dir: &File, name: &OsStr, mode: u32) -> io::Result<File> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?.into())
}

/// Directories of one tree held open, by path relative to its root (`""`: the root),
/// shared by the threads of a render: each is reached from its parent by name the first
/// time it is asked for.
#[derive(Default)]
pub struct HeldDirs {
    open: Mutex<HashMap<OsString, Arc<File>>>,
}

impl HeldDirs {
    /// The directory `rel`: held already, or reached from `root` one component at a time
    /// by `step` (which opens, or makes and opens, a directory in its parent).
    pub fn get(
        &self,
        root: impl FnOnce() -> io::Result<Arc<File>>,
        rel: &Path,
        step: impl Fn(&File, &OsStr) -> io::Result<File>,
    ) -> io::Result<Arc<File>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = open.get(rel.as_os_str()) {
            return Ok(dir.clone());
        }
        let mut dir = root()?;
        let mut so_far = PathBuf::new();
        for part in rel.components() {
            so_far.push(part);
            if let Some(held) = open.get(so_far.as_os_str()) {
                dir = held.clone();
                continue;
            }
            dir = Arc::new(step(&dir, part.as_os_str())?);
            open.insert(so_far.clone().into_os_string(), dir.clone());
        }
        open.insert(rel.as_os_str().to_os_string(), dir.clone());
        Ok(dir)
    }
}
