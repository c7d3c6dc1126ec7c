//! Turning `PART` arguments (a file, a directory, or `path:type/subtype`) into parts.

use super::{Part, UserdataError, content_type};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One `PART` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartSpec {
    /// A file, or a directory whose files are taken in sorted order; types detected.
    Path(PathBuf),
    /// A file with the type given on the command line (`path:type/subtype`).
    Typed(PathBuf, String),
}

impl PartSpec {
    /// Reads `path` or `path:type/subtype` like `write-mime-multipart`. A path that
    /// exists as written wins, so file names holding a colon still work; after the last
    /// colon of one that does not, comes a type (checked later, so `a.cfg:notatype`
    /// names the type, not a missing file).
    pub fn parse(arg: &str) -> PartSpec {
        if !Path::new(arg).exists()
            && let Some((path, type_)) = arg.rsplit_once(':')
            && (type_.contains('/') || Path::new(path).exists())
        {
            return PartSpec::Typed(PathBuf::from(path), type_.to_string());
        }
        PartSpec::Path(PathBuf::from(arg))
    }
}

/// Reads every part, in argument order (directories sorted by path, hidden entries
/// skipped), and refuses two parts with the same file name: the part handler writes each
/// part under its name, so one would silently replace the other.
pub fn collect(specs: &[PartSpec], default_type: &str) -> Result<Vec<Part>, UserdataError> {
    let mut parts = Vec::new();
    for spec in specs {
        match spec {
            PartSpec::Typed(path, type_) => {
                if !is_mime_type(type_) {
                    return Err(UserdataError::BadType {
                        path: path.clone(),
                        type_: type_.clone(),
                    });
                }
                let body = read(path)?;
                parts.push(Part {
                    filename: file_name(path),
                    content_type: type_.clone(),
                    body,
                    origin: path.clone(),
                });
            }
            PartSpec::Path(path) if path.is_dir() => {
                for file in files_under(path)? {
                    parts.push(detected(&file, default_type)?);
                }
            }
            PartSpec::Path(path) => parts.push(detected(path, default_type)?),
        }
    }
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for part in &parts {
        if let Some(first) = seen.insert(&part.filename, &part.origin) {
            return Err(UserdataError::DuplicateName {
                name: part.filename.clone(),
                first: first.to_path_buf(),
                second: part.origin.clone(),
            });
        }
    }
    Ok(parts)
}

fn detected(path: &Path, default_type: &str) -> Result<Part, UserdataError> {
    let body = read(path)?;
    Ok(Part {
        filename: file_name(path),
        content_type: content_type(path, &body, default_type),
        body,
        origin: path.to_path_buf(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, UserdataError> {
    crate::files::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => UserdataError::Missing(path.to_path_buf()),
        _ => UserdataError::Read {
            path: path.to_path_buf(),
            source,
        },
    })
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>, UserdataError> {
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = entry.map_err(|e| UserdataError::Read {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
        })?;
        if entry.file_type().is_file() || (entry.file_type().is_symlink() && entry.path().is_file())
        {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn is_mime_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    s.split_once('/').is_some_and(|(a, b)| token(a) && token(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_parts_and_paths() {
        assert_eq!(
            PartSpec::parse("/nonexistent/a.conf:text/plain"),
            PartSpec::Typed("/nonexistent/a.conf".into(), "text/plain".into())
        );
        assert_eq!(
            PartSpec::parse("/nonexistent/a:b"),
            PartSpec::Path("/nonexistent/a:b".into())
        );
        let dir = tempfile::tempdir().unwrap();
        // A real path that looks typed stays a path.
        let real = dir.path().join("x:y");
        std::fs::write(&real, "data").unwrap();
        assert_eq!(
            PartSpec::parse(real.to_str().unwrap()),
            PartSpec::Path(real)
        );
    }

    #[test]
    fn directories_are_sorted_and_skip_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.sh", "a.yaml", ".hidden", "sub/c.txt"] {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "#!/bin/sh\n").unwrap();
        }
        let parts = collect(
            &[PartSpec::Path(dir.path().into())],
            "application/octet-stream",
        )
        .unwrap();
        let names: Vec<_> = parts.iter().map(|p| p.filename.as_str()).collect();
        assert_eq!(names, ["a.yaml", "b.sh", "c.txt"]);
    }

    #[test]
    fn duplicate_names_bad_types_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["one/x.sh", "two/x.sh"] {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "#!/bin/sh\n").unwrap();
        }
        let err = collect(
            &[PartSpec::Path(dir.path().into())],
            "application/octet-stream",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("two parts would be named `x.sh`"),
            "{err}"
        );
        let err = collect(
            &[PartSpec::Typed(dir.path().join("one/x.sh"), "text".into())],
            "a/b",
        )
        .unwrap_err();
        assert!(matches!(err, UserdataError::BadType { .. }), "{err}");
        let err = collect(&[PartSpec::Path(dir.path().join("nope"))], "a/b").unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
