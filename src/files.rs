//! Reading a file the user names (a parameters, settings or clouds file, a Heat template,
//! a user-data part, a CA bundle): never a device, and never more than [`MAX_BYTES`].
//!
//! A device never ends (`/dev/zero`) or waits for someone to type (`/dev/tty`); a socket
//! cannot be read as a file. A pipe named on purpose is read: shells hand over generated
//! text as one (`--params-file <(openstack stack output show ...)`, `/dev/stdin`); the
//! size bound stops one that never closes. Trees (templates, build contexts) refuse pipes
//! too: there a FIFO is never meant to be read ([`special_kind`]).

use std::io::Read;
use std::path::Path;

/// The most any named file may hold: far more than any of them needs (user data must fit
/// in 64 KiB once compressed), far less than would exhaust memory.
pub const MAX_BYTES: u64 = 64 << 20;

/// What a file system entry is when it is neither a file nor a directory (reading a FIFO
/// waits for a writer; a device such as `/dev/zero` never ends).
pub fn special_kind(t: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    match () {
        _ if t.is_file() || t.is_dir() => None,
        _ if t.is_fifo() => Some("FIFO"),
        _ if t.is_socket() => Some("socket"),
        _ if t.is_char_device() => Some("character device"),
        _ if t.is_block_device() => Some("block device"),
        _ => Some("special file"),
    }
}

/// Refuses `path` when it is a device or a socket (after links); a missing path or a
/// directory is left to the reader's own error.
pub fn refuse_device(path: &Path) -> std::io::Result<()> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    match special_kind(meta.file_type()) {
        None | Some("FIFO") => Ok(()),
        Some(kind) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is a {kind}, not a file (reading it could wait or never end)"),
        )),
    }
}

/// The bytes of `path` (see the module's rules).
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    refuse_device(path)?;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("it holds more than {} MiB", MAX_BYTES >> 20),
        ));
    }
    Ok(bytes)
}

/// The text of `path` (see the module's rules); not UTF-8 is an error naming the offset.
pub fn read_to_string(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read(path)?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_refused_pipes_and_files_read_within_the_bound() {
        for device in ["/dev/zero", "/dev/null", "/dev/urandom"] {
            let err = read(Path::new(device)).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{device}");
            assert!(err.to_string().contains("character device"), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "text").unwrap();
        assert_eq!(read_to_string(&file).unwrap(), "text");
        std::fs::write(&file, b"ok\xff").unwrap();
        let err = read_to_string(&file).unwrap_err();
        assert!(err.to_string().contains("offset 2"), "{err}");
        let big = std::fs::File::create(&file).unwrap();
        big.set_len(MAX_BYTES + 1).unwrap();
        assert_eq!(
            read(&file).unwrap_err().kind(),
            std::io::ErrorKind::FileTooLarge
        );
        // A pipe is read: what a shell's `<(...)` hands over.
        let fifo = dir.path().join("p");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path; mkfifo only reads it.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, "piped").unwrap())
        };
        assert_eq!(read_to_string(&fifo).unwrap(), "piped");
        writer.join().unwrap();
        assert!(read(&dir.path().join("missing")).is_err());
    }
}
