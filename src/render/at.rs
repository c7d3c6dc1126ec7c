//! Files and directories made inside a directory held open, by name: the kernel then
//! walks one component for each, not the whole path from the root.

use rustix::fs::{Mode, OFlags};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::Path;

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
