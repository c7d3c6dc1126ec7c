//! Files and directories made inside a directory held open, by name.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Opens the directory `path` (not following a link there).
pub fn open_dir(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)
}

/// Opens the file (or, with `dir_flag`, the directory) `name` in `dir` for reading,
/// following a link.
pub fn open(dir: &File, name: &OsStr, dir_flag: bool) -> io::Result<File> {
    let name = c_name(name)?;
    let mut flags = libc::O_RDONLY | libc::O_CLOEXEC;
    if dir_flag {
        flags |= libc::O_DIRECTORY;
    }
    // SAFETY: as in `create`.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as in `create`.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Creates the file `name` in `dir` with `mode`; it must not exist.
pub fn create(dir: &File, name: &OsStr, mode: libc::mode_t) -> io::Result<File> {
    let name = c_name(name)?;
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
    // SAFETY: a valid directory descriptor and a NUL-terminated name; the descriptor
    // returned is new and owned by the `File`.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a file descriptor just opened, owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Makes the directory `name` in `dir` with `mode` (or finds it made) and opens it.
pub fn make_dir(dir: &File, name: &OsStr, mode: libc::mode_t) -> io::Result<File> {
    let name = c_name(name)?;
    // SAFETY: as in `create`; mkdirat only reads the name.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) } != 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(e);
        }
    }
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: as in `create`.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as in `create`.
    Ok(unsafe { File::from_raw_fd(fd) })
}
