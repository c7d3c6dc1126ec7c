//! The input tree's directories, held open while it renders: each file is opened in its
//! directory by name, so the kernel walks one component for it instead of the whole
//! path (a tenth of the system time of a render of many small files).

use super::at;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Dirs {
    root: PathBuf,
    /// Opened on first use.
    open: at::HeldDirs,
}

impl Dirs {
    pub fn new(root: &Path) -> Dirs {
        Dirs {
            root: root.to_path_buf(),
            open: at::HeldDirs::default(),
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
        let root = || File::open(&self.root).map(Arc::new);
        self.open
            .get(root, rel, |dir, name| at::open(dir, name, true))
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
