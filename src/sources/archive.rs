//! Unpacking a downloaded `.tar.gz` template tree without trusting it.
//!
//! Every entry is checked before anything is written: paths stay inside the target (no
//! absolute paths, no `..`), links point inside the tree, and only regular files,
//! directories and links are accepted (no devices, FIFOs or sockets). The bytes written
//! are counted as they are decompressed, so a small archive that inflates into gigabytes
//! stops at the limit instead of filling the disk.
//!
//! Links are allowed, but each one's text is not trusted on its own: once everything is
//! unpacked, every link is resolved through the links on its way ([`super::links`]) and
//! the archive is refused if one leads outside the tree or into a loop. A chain such as
//! `_y -> .`, `_z -> _y/..` climbs out although no single link text does.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive entry `{0}` points outside the tree (absolute path or `..`)")]
    PathEscape(String),
    #[error("archive entry `{entry}` is a link to `{target}`, outside the tree")]
    LinkEscape { entry: String, target: String },
    #[error(
        "archive entry `{entry}` is a link to `{target}`, which leads outside the tree once the links on its way are followed"
    )]
    ChainEscape { entry: String, target: String },
    #[error("archive entry `{0}` is a link in a loop (more than 40 links to follow)")]
    LinkLoop(String),
    #[error("archive entry `{0}` goes through a link; entries must not be written through links")]
    ThroughLink(String),
    #[error("archive entry `{entry}` is a {kind}; only files, directories and links are accepted")]
    SpecialFile { entry: String, kind: &'static str },
    #[error("the archive unpacks to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the archive has more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error("not a readable .tar.gz archive")]
    Corrupt(#[source] std::io::Error),
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What an unpacked archive may hold at most.
#[derive(Debug, Clone, Copy)]
pub struct UnpackLimits {
    pub max_bytes: u64,
    pub max_entries: usize,
}

/// Unpacks gzip-compressed tar `bytes` into the empty directory `target`.
pub fn unpack(bytes: &[u8], target: &Path, limits: UnpackLimits) -> Result<(), ArchiveError> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut written: u64 = 0;
    let entries = archive.entries().map_err(ArchiveError::Corrupt)?;
    for (index, entry) in entries.enumerate() {
        if index >= limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let mut entry = entry.map_err(ArchiveError::Corrupt)?;
        let raw_path = entry.path().map_err(ArchiveError::Corrupt)?.into_owned();
        let shown = raw_path.display().to_string();
        let rel = inside(&raw_path).ok_or_else(|| ArchiveError::PathEscape(shown.clone()))?;
        if rel.as_os_str().is_empty() {
            // `./` itself, as `tar -C DIR -c .` writes it.
            if entry.header().entry_type().is_dir() {
                continue;
            }
            return Err(ArchiveError::PathEscape(shown));
        }
        // A link in the way would let a later entry land wherever it points.
        if through_link(target, &rel) {
            return Err(ArchiveError::ThroughLink(shown));
        }
        let dest = target.join(&rel);
        let write_err = |source| ArchiveError::Write {
            path: dest.clone(),
            source,
        };
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Directory => std::fs::create_dir_all(&dest).map_err(write_err)?,
            T::Regular | T::Continuous => {
                written += write_file(&mut entry, &dest, limits.max_bytes - written, limits)?;
            }
            T::Symlink | T::Link => write_link(&entry, target, &rel, &dest, shown)?,
            // Metadata records the tar reader already applied to the entries around them.
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
            other => {
                let kind = match other {
                    T::Char => "character device",
                    T::Block => "block device",
                    T::Fifo => "FIFO",
                    _ => "special entry",
                };
                return Err(ArchiveError::SpecialFile { entry: shown, kind });
            }
        }
    }
    check_links(target)
}

/// Writes a regular file of the archive, at most `budget` bytes of it; how many it wrote.
fn write_file(
    entry: &mut tar::Entry<'_, impl std::io::Read>,
    dest: &Path,
    budget: u64,
    limits: UnpackLimits,
) -> Result<u64, ArchiveError> {
    let write_err = |source| ArchiveError::Write {
        path: dest.to_path_buf(),
        source,
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(write_err)?;
    }
    let mut file = std::fs::File::create(dest).map_err(write_err)?;
    // One byte over the budget is enough to know the limit was passed.
    let copied = std::io::copy(&mut entry.take(budget + 1), &mut file).map_err(write_err)?;
    if copied > budget {
        return Err(ArchiveError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    Ok(copied)
}

/// Makes a symbolic or hard link of the archive at `dest` (`rel` in the tree), refusing
/// one that leads outside `target` or through a link.
fn write_link(
    entry: &tar::Entry<'_, impl std::io::Read>,
    target: &Path,
    rel: &Path,
    dest: &Path,
    shown: String,
) -> Result<(), ArchiveError> {
    let write_err = |source| ArchiveError::Write {
        path: dest.to_path_buf(),
        source,
    };
    let link = entry
        .link_name()
        .map_err(ArchiveError::Corrupt)?
        .unwrap_or_default()
        .into_owned();
    let hard = entry.header().entry_type() == tar::EntryType::Link;
    // A symlink is relative to its own directory; a hard link names a path in the archive.
    let resolved = if hard {
        Some(link.clone())
    } else {
        rel.parent().map(|p| p.join(&link))
    };
    let target_rel = resolved
        .as_deref()
        .and_then(inside)
        .filter(|_| !link.is_absolute());
    let Some(target_rel) = target_rel else {
        return Err(ArchiveError::LinkEscape {
            entry: shown,
            target: link.display().to_string(),
        });
    };
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(write_err)?;
    }
    if hard && through_link(target, &target_rel) {
        return Err(ArchiveError::ThroughLink(shown));
    }
    if hard {
        std::fs::hard_link(target.join(target_rel), dest).map_err(write_err)
    } else {
        std::os::unix::fs::symlink(&link, dest).map_err(write_err)
    }
}

/// Every link of the unpacked tree, resolved through the others: none may lead out.
fn check_links(target: &Path) -> Result<(), ArchiveError> {
    use super::links::{Landing, all_links, land};
    for link in all_links(target) {
        let entry = link.display().to_string();
        let landing = land(target, &link).map_err(|source| ArchiveError::Write {
            path: target.join(&link),
            source,
        })?;
        match landing {
            Landing::Inside(_) => {}
            Landing::Loop => return Err(ArchiveError::LinkLoop(entry)),
            Landing::Outside(_) => {
                let text = std::fs::read_link(target.join(&link)).unwrap_or_default();
                return Err(ArchiveError::ChainEscape {
                    entry,
                    target: text.display().to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Whether any existing component of `rel` under `root` (the last one included) is a link.
fn through_link(root: &Path, rel: &Path) -> bool {
    let mut path = root.to_path_buf();
    rel.components().any(|c| {
        path.push(c);
        std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
    })
}

/// `path` as a relative path that stays inside the tree (empty for the root itself), or
/// `None`: `..` is allowed only while it does not climb above the root (`a/../b` is fine,
/// `a/../../b` is not).
pub(crate) fn inside(path: &Path) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.iter().collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const LIMITS: UnpackLimits = UnpackLimits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };

    /// Builds a .tar.gz from raw headers, so tests can make entries a well-behaved
    /// archiver would refuse to create.
    pub fn targz(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, kind, body, link) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            // Write the name bytes directly: `set_path` refuses `..`, which is the point here.
            let name = &mut header.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(link) = link {
                header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            header.set_cksum();
            builder.append(&header, *body).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn a_plain_tree_unpacks() {
        use tar::EntryType as T;
        let gz = targz(&[
            ("tree/", T::Directory, b"", None),
            ("tree/a.yaml", T::Regular, b"kind: A\n", None),
            ("tree/sub/b.yaml", T::Regular, b"kind: B\n", None),
            ("tree/link.yaml", T::Symlink, b"", Some("sub/b.yaml")),
        ]);
        let dir = tempfile::tempdir().unwrap();
        unpack(&gz, dir.path(), LIMITS).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("tree/sub/b.yaml")).unwrap(),
            "kind: B\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("tree/link.yaml")).unwrap(),
            "kind: B\n"
        );
    }

    #[test]
    fn escapes_links_out_and_devices_are_refused() {
        use tar::EntryType as T;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                targz(&[("../evil.yaml", T::Regular, b"x", None)]),
                "points outside the tree",
            ),
            (
                targz(&[("a/../../evil.yaml", T::Regular, b"x", None)]),
                "points outside the tree",
            ),
            (
                targz(&[("/etc/evil", T::Regular, b"x", None)]),
                "points outside the tree",
            ),
            (
                targz(&[("l", T::Symlink, b"", Some("/etc/passwd"))]),
                "is a link to `/etc/passwd`",
            ),
            (
                targz(&[("a/l", T::Symlink, b"", Some("../../x"))]),
                "is a link to `../../x`",
            ),
            (
                targz(&[("h", T::Link, b"", Some("../x"))]),
                "outside the tree",
            ),
            (
                targz(&[
                    ("a/", T::Directory, b"", None),
                    ("x/", T::Directory, b"", None),
                    ("a/b", T::Symlink, b"", Some("../x")),
                    ("a/b/l", T::Symlink, b"", Some("../..")),
                ]),
                "goes through a link",
            ),
            (
                targz(&[
                    ("l", T::Symlink, b"", Some(".")),
                    ("l/evil.yaml", T::Regular, b"x", None),
                ]),
                "goes through a link",
            ),
            (
                targz(&[("dev", T::Char, b"", None)]),
                "is a character device",
            ),
            (targz(&[("pipe", T::Fifo, b"", None)]), "is a FIFO"),
        ];
        for (gz, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            let outside = dir.path().join("target");
            std::fs::create_dir(&outside).unwrap();
            let err = unpack(&gz, &outside, LIMITS).unwrap_err();
            assert!(
                err.to_string().contains(expected),
                "{err} (wanted {expected})"
            );
            assert!(!dir.path().join("evil.yaml").exists());
        }
    }

    /// Chains of links whose every text stays inside, yet which lead out (or loop) once
    /// followed, in whichever order the archive lists them.
    #[test]
    fn link_chains_are_judged_by_where_they_really_lead() {
        use tar::EntryType as T;
        let sym = |name: &'static str, to: &'static str| (name, T::Symlink, &b""[..], Some(to));
        let dir = |name: &'static str| (name, T::Directory, &b""[..], None);
        let escaping: Vec<(&str, Vec<_>)> = vec![
            (
                "the chain of the report",
                vec![sym("_y", "."), sym("_z1", "_y/.."), sym("_z2", "_z1/..")],
            ),
            (
                "the chain listed backwards",
                vec![sym("_z2", "_z1/.."), sym("_z1", "_y/.."), sym("_y", ".")],
            ),
            (
                "a link to its parent, used from a subdirectory",
                vec![dir("a/"), sym("a/b", ".."), sym("c", "a/b/..")],
            ),
            (
                "a deep link climbing through a sibling link",
                vec![
                    dir("d1/d2/"),
                    sym("d1/up", ".."),
                    sym("d1/d2/x", "../up/.."),
                ],
            ),
            (
                "a link to a link that climbs",
                vec![
                    dir("s/"),
                    sym("s/p", ".."),
                    sym("q", "s/p"),
                    sym("r", "q/.."),
                ],
            ),
            (
                "a dangling chain that would climb",
                vec![sym("_y", "."), sym("x", "_y/../nothing/..")],
            ),
        ];
        for (what, entries) in escaping {
            let t = tempfile::tempdir().unwrap();
            let target = t.path().join("target");
            std::fs::create_dir(&target).unwrap();
            let err = unpack(&targz(&entries), &target, LIMITS).unwrap_err();
            assert!(
                matches!(err, ArchiveError::ChainEscape { .. }),
                "{what}: {err}"
            );
            assert!(err.to_string().contains("leads outside the tree"), "{err}");
        }
        for (what, entries) in [
            (
                "two links naming each other",
                vec![sym("l1", "l2"), sym("l2", "l1")],
            ),
            ("a link to itself", vec![sym("me", "me")]),
            ("a link into itself", vec![sym("deeper", "deeper/x")]),
        ] {
            let t = tempfile::tempdir().unwrap();
            let err = unpack(&targz(&entries), t.path(), LIMITS).unwrap_err();
            assert!(matches!(err, ArchiveError::LinkLoop(_)), "{what}: {err}");
        }
        // Links that go up and come back down stay allowed.
        let t = tempfile::tempdir().unwrap();
        let fine = targz(&[
            dir("a/b/"),
            ("a/b/f.yaml", T::Regular, b"kind: F\n", None),
            sym("a/up", "b/.."),
            sym("a/b/again", "../up/b/f.yaml"),
            sym("dot", "."),
            sym("via", "dot/a/b/f.yaml"),
        ]);
        unpack(&fine, t.path(), LIMITS).unwrap();
        assert_eq!(
            std::fs::read_to_string(t.path().join("via")).unwrap(),
            "kind: F\n"
        );
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_limit() {
        use tar::EntryType as T;
        let zeros = vec![0u8; 4 << 20];
        let gz = targz(&[("big", T::Regular, &zeros, None)]);
        assert!(gz.len() < 64 << 10, "compresses well: {}", gz.len());
        let dir = tempfile::tempdir().unwrap();
        let err = unpack(&gz, dir.path(), LIMITS).unwrap_err();
        assert!(
            matches!(err, ArchiveError::TooLarge { limit } if limit == 1 << 20),
            "{err}"
        );
        assert!(std::fs::metadata(dir.path().join("big")).unwrap().len() <= (1 << 20) + 1);
    }

    #[test]
    fn too_many_entries() {
        use tar::EntryType as T;
        let names: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
        let entries: Vec<_> = names
            .iter()
            .map(|n| (n.as_str(), T::Regular, &b"x"[..], None))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let err = unpack(
            &targz(&entries),
            dir.path(),
            UnpackLimits {
                max_bytes: 100,
                max_entries: 3,
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, ArchiveError::TooManyEntries { limit: 3 }),
            "{err}"
        );
    }
}
