//! The input tree's directories, held open while it renders: each file is opened in its
//! directory by name, so the kernel walks one component for it instead of the whole
//! path (a tenth of the system time of a render of many small files).

use super::at;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub struct Dirs {
    root: PathBuf,
    /// By path relative to the root (`""` for the root), opened on first use.
    open: Mutex<HashMap<OsString, Arc<File>>>,
}

impl Dirs {
    pub fn new(root: &Path) -> Dirs {
        Dirs {
            root: root.to_path_buf(),
            open: Mutex::default(),
        }
    }

    /// The file `rel`, opened for reading (links followed, as a path would be).
    pub fn open(&self, rel: &Path) -> io::Result<File> {
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return File::open(self.root.join(rel));
        };
        let dir = self.dir(parent)?;
        at::open(&dir, name, false)
    }

    fn dir(&self, rel: &Path) -> io::Result<Arc<File>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = open.get(rel.as_os_str()) {
            return Ok(dir.clone());
        }
        let root = File::open(&self.root)?;
        let mut dir = Arc::new(root);
        let mut so_far = PathBuf::new();
        for part in rel.components() {
            so_far.push(part);
            if let Some(d) = open.get(so_far.as_os_str()) {
                dir = d.clone();
                continue;
            }
            dir = Arc::new(at::open(&dir, part.as_os_str(), true)?);
            open.insert(so_far.clone().into_os_string(), dir.clone());
        }
        open.insert(rel.as_os_str().to_os_string(), dir.clone());
        Ok(dir)
    }

    /// The bytes of the file `rel`.
    pub fn read(&self, rel: &Path) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(16 * 1024);
        self.read_into(rel, &mut bytes)?;
        Ok(bytes)
    }

    /// The bytes of the file `rel`, in place of what `bytes` held.
    pub fn read_into(&self, rel: &Path, bytes: &mut Vec<u8>) -> io::Result<()> {
        bytes.clear();
        // Through `take`, which reads until the end without asking the file's size and
        // position first (two system calls a file): a template fits the first read.
        self.open(rel)?.take(u64::MAX).read_to_end(bytes)?;
        Ok(())
    }

    /// The text of the file `rel`.
    pub fn read_text(&self, rel: &Path) -> io::Result<String> {
        String::from_utf8(self.read(rel)?).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )
        })
    }
}
