//! Private scratch directories for work that holds secrets: a render being staged, the
//! registry credentials handed to the image builder.
//!
//! A [`ScratchDir`] is mode 0700 and goes away however the process ends:
//! - dropped (or [`ScratchDir::close`]d): removed, even when its tree holds read-only
//!   directories;
//! - SIGINT, SIGTERM or SIGHUP while one exists: every live one is removed, then the
//!   signal gets the handling it had before (the process stops as it would have);
//! - a write past `ulimit -f`: SIGXFSZ is ignored while one exists, so the write fails
//!   with `EFBIG`, is reported, and the directory is dropped like on any error;
//! - SIGKILL, a crash, a power cut: each directory is `flock`ed by its process, so the
//!   next run's [`sweep`] knows one whose lock it can take belongs to nobody, and
//!   removes it.

use std::ffi::c_int;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signals that stop the process and give it a chance to clean up.
const STOPS: [c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// A private temporary directory; see the module documentation.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    /// Holds the `flock` that tells [`sweep`] the directory is in use.
    _lock: File,
    /// Still ours to remove (not renamed into place by [`ScratchDir::persist`]).
    live: bool,
}

impl ScratchDir {
    /// Creates `parent/PREFIX<random>` (mode 0700), locked and registered for removal.
    pub fn new_in(parent: &Path, prefix: &str) -> io::Result<ScratchDir> {
        // The handlers are in place before the directory exists, and the cleaner waits
        // for this lock: a signal at any moment finds the directory registered, or none.
        let mut live = live();
        if live.paths.is_empty() {
            arm(&mut live);
        }
        let created = tempfile::Builder::new()
            .prefix(prefix)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(parent);
        let path = match created {
            Ok(dir) => dir.keep(),
            Err(e) => {
                if live.paths.is_empty() {
                    disarm(&mut live);
                }
                return Err(e);
            }
        };
        live.paths.push(path.clone());
        drop(live);
        let lock = match lock(&path) {
            Ok(Some(file)) => file,
            result => {
                let _ = remove_tree(&path);
                deregister(&path);
                return Err(result
                    .err()
                    .unwrap_or_else(|| io::Error::other("a new scratch directory is locked")));
            }
        };
        Ok(ScratchDir {
            path,
            _lock: lock,
            live: true,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the directory to `target`, which then is no scratch directory any more.
    pub fn persist(mut self, target: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, target)?;
        self.live = false;
        deregister(&self.path);
        Ok(())
    }

    /// Removes the directory (whatever it holds by now), reporting a failure.
    pub fn close(mut self) -> io::Result<()> {
        self.live = false;
        let result = remove_tree(&self.path);
        deregister(&self.path);
        result
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if self.live {
            let _ = remove_tree(&self.path);
            deregister(&self.path);
        }
    }
}

/// Removes the directories named `PREFIX*` in `parent` that no running process holds:
/// what a process killed outright left behind. Returns those removed.
pub fn sweep(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path = entry.path();
        // Taking the lock means no process holds it; keep it while removing.
        if let Ok(Some(_held)) = lock(&path)
            && remove_tree(&path).is_ok()
        {
            removed.push(path);
        }
    }
    removed
}

/// `flock`s the directory `path` without waiting: `None` when another process holds it.
fn lock(path: &Path) -> io::Result<Option<File>> {
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    // SAFETY: flock on a file descriptor this function owns.
    let rc = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(Some(dir));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(err)
    }
}

/// Removes a tree this process made, read-only directories included (an old output tree
/// may have been made 0555: its files would otherwise stay, secrets and all).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            for entry in walkdir::WalkDir::new(path).into_iter().flatten() {
                if entry.file_type().is_dir() {
                    let _ = std::fs::set_permissions(
                        entry.path(),
                        std::fs::Permissions::from_mode(0o700),
                    );
                }
            }
            std::fs::remove_dir_all(path)
        }
    }
}

/// Removes a directory other threads may still be writing into: renamed first (still
/// with its prefix, for [`sweep`]), so no new file can be created through its old path,
/// then removed, again while files opened just before the rename still appear.
fn remove_under_writers(path: &Path) {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".removing");
    let tomb = path.with_file_name(name);
    let target = if std::fs::rename(path, &tomb).is_ok() {
        tomb
    } else {
        path.to_path_buf()
    };
    for _ in 0..50 {
        if remove_tree(&target).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// The live scratch directories, and the signal handling they replaced.
struct Live {
    paths: Vec<PathBuf>,
    saved: Vec<(c_int, libc::sigaction)>,
}

static LIVE: Mutex<Live> = Mutex::new(Live {
    paths: Vec::new(),
    saved: Vec::new(),
});

/// The write end of the pipe the signal handler wakes the cleaner through (-1: none yet).
static WAKE: AtomicI32 = AtomicI32::new(-1);

fn live() -> std::sync::MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set while the cleaner handles a signal: a thread letting go of a scratch directory
/// then waits, so the process ends by the signal (as asked) rather than by an error
/// exit of its own, which the removal of its directories would otherwise cause.
static STOPPING: (Mutex<bool>, std::sync::Condvar) = (Mutex::new(false), std::sync::Condvar::new());

fn wait_while_stopping() {
    let (flag, done) = &STOPPING;
    let mut stopping = flag.lock().unwrap_or_else(|e| e.into_inner());
    while *stopping {
        stopping = done.wait(stopping).unwrap_or_else(|e| e.into_inner());
    }
}

fn set_stopping(value: bool) {
    let (flag, done) = &STOPPING;
    *flag.lock().unwrap_or_else(|e| e.into_inner()) = value;
    done.notify_all();
}

fn deregister(path: &Path) {
    wait_while_stopping();
    let mut live = live();
    live.paths.retain(|p| p != path);
    if live.paths.is_empty() {
        disarm(&mut live);
    }
}

/// Installs the handlers (saving what was there) and makes sure the cleaner runs.
fn arm(live: &mut Live) {
    if WAKE.load(Ordering::SeqCst) < 0 && !start_cleaner() {
        // No pipe or thread: the next run's sweep will have to do.
        return;
    }
    for sig in STOPS.into_iter().chain([libc::SIGXFSZ]) {
        // SAFETY: a zeroed sigaction is a valid "no handler" value; the handler only
        // writes one byte to a pipe, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = if sig == libc::SIGXFSZ {
                libc::SIG_IGN
            } else {
                on_signal as extern "C" fn(c_int) as libc::sighandler_t
            };
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, &action, &mut old) == 0 {
                live.saved.push((sig, old));
            }
        }
    }
}

/// Puts back the signal handling that was there before.
fn disarm(live: &mut Live) {
    for (sig, old) in live.saved.drain(..) {
        // SAFETY: restoring an action sigaction returned earlier.
        unsafe {
            libc::sigaction(sig, &old, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_signal(sig: c_int) {
    let fd = WAKE.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the byte lives on this stack frame.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// A thread that waits for a stopping signal, removes every live scratch directory, puts
/// the earlier handling back and raises the signal again.
fn start_cleaner() -> bool {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 fills the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return false;
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    let started = std::thread::Builder::new()
        .name("kube-openstack-cleanup".into())
        .spawn(move || {
            loop {
                let mut byte = 0u8;
                // SAFETY: reading one byte into a local from a descriptor this thread owns.
                let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
                if n != 1 {
                    if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return;
                }
                set_stopping(true);
                {
                    let mut live = live();
                    for path in live.paths.drain(..) {
                        remove_under_writers(&path);
                    }
                    disarm(&mut live);
                }
                // SAFETY: raising a signal number that was just delivered.
                unsafe {
                    libc::raise(c_int::from(byte));
                }
                // Still here: the earlier handling did not stop the process.
                set_stopping(false);
            }
        })
        .is_ok();
    if started {
        WAKE.store(write_fd, Ordering::SeqCst);
    }
    started
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_dir_is_private_and_goes_away_on_drop_even_read_only() {
        let t = tempfile::tempdir().unwrap();
        let dir = ScratchDir::new_in(t.path(), ".x.render-").unwrap();
        let path = dir.path().to_path_buf();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
        std::fs::create_dir(path.join("ro")).unwrap();
        std::fs::write(path.join("ro/secret"), "s").unwrap();
        std::fs::set_permissions(path.join("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o555)).unwrap();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn sweep_removes_only_what_no_process_holds() {
        let t = tempfile::tempdir().unwrap();
        let held = ScratchDir::new_in(t.path(), ".out.render-").unwrap();
        let stale = t.path().join(".out.render-stale");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("secret.yaml"), "s").unwrap();
        let other = t.path().join(".other.render-stale");
        std::fs::create_dir(&other).unwrap();
        assert_eq!(sweep(t.path(), ".out.render-"), vec![stale.clone()]);
        assert!(!stale.exists());
        assert!(held.path().exists(), "a held directory is left alone");
        assert!(other.exists(), "another prefix is left alone");
    }

    #[test]
    fn persist_hands_the_directory_over() {
        let t = tempfile::tempdir().unwrap();
        let dir = ScratchDir::new_in(t.path(), ".x-").unwrap();
        std::fs::write(dir.path().join("f"), "1").unwrap();
        dir.persist(&t.path().join("out")).unwrap();
        assert_eq!(
            std::fs::read_to_string(t.path().join("out/f")).unwrap(),
            "1"
        );
    }
}
