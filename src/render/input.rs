//! The input tree: its templates, partials and other files, listed once, sorted.

use super::{RenderError, dirs};

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The files of an input tree, sorted.
pub struct InputTree {
    pub(super) root: PathBuf,
    display_root: String,
    pub(super) templates: Vec<PathBuf>,
    pub(super) copies: Vec<PathBuf>,
    pub(super) partials: Vec<(String, PathBuf)>,
    /// Links leading outside a local tree, followed.
    pub(super) warnings: Vec<String>,
    pub(super) dirs: dirs::Dirs,
}

const PARTIALS_DIR: &str = "_partials";

impl InputTree {
    /// Lists `root`; `display_root` is how paths are shown (e.g. `kubernetes-in`).
    /// Links are followed (directories too); where one really leads decides, by the
    /// tree's `origin`, whether a link out of the tree is refused or followed with a warning.
    pub fn scan(
        root: &Path,
        display_root: &str,
        origin: crate::sources::Origin,
    ) -> Result<InputTree, RenderError> {
        if !root.is_dir() {
            if let Ok(meta) = std::fs::metadata(root)
                && let Some(kind) = crate::files::special_kind(meta.file_type())
            {
                return Err(RenderError::NotAFile {
                    path: root.display().to_string(),
                    kind,
                });
            }
            return Err(RenderError::NoInput(root.to_path_buf()));
        }
        let mut tree = InputTree {
            root: root.to_path_buf(),
            display_root: display_root.trim_end_matches('/').to_string(),
            templates: Vec::new(),
            copies: Vec::new(),
            partials: Vec::new(),
            warnings: Vec::new(),
            dirs: dirs::Dirs::new(root),
        };
        // Links are followed, directories too; hidden entries and `_` helpers (but for
        // partials) are not walked at all: `_` files are read only when included.
        let walker = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || relative(e.path(), root).is_some_and(|rel| !skipped_last(rel, e.file_name()))
            });
        for entry in walker {
            // A loop through an entry the scan skips anyway (`_here -> .`) is no problem.
            if let Err(e) = &entry
                && e.loop_ancestor().is_some()
                && e.path()
                    .and_then(|p| p.strip_prefix(root).ok())
                    .is_some_and(skipped)
            {
                continue;
            }
            let entry = entry.map_err(|e| RenderError::Read {
                path: e.path().unwrap_or(root).to_path_buf(),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("file system loop")),
            })?;
            if entry.file_type().is_dir() && !entry.path_is_symlink() {
                continue;
            }
            let Some(rel) = relative(entry.path(), root) else {
                continue;
            };
            let rel = rel.to_path_buf();
            if entry.path_is_symlink() && entry.depth() > 0 {
                tree.check_link(&rel, origin)?;
            }
            if entry.file_type().is_dir() {
                continue;
            }
            if let Some(kind) = crate::files::special_kind(entry.file_type()) {
                return Err(RenderError::NotAFile {
                    path: tree.display(&rel),
                    kind,
                });
            }
            let template = is_template_name(entry.file_name().as_bytes());
            tree.add(rel, template);
        }
        Ok(tree)
    }

    /// How many files a render goes through (templates and files copied as they are).
    pub fn file_count(&self) -> usize {
        self.templates.len() + self.copies.len()
    }

    /// Files a path of the tree (`template` when its name is a template's).
    fn add(&mut self, rel: PathBuf, template: bool) {
        let in_partials = in_partials(&rel);
        if in_partials && template {
            let stem = rel
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            self.partials.push((stem, rel));
        } else if rel.as_os_str().as_bytes().starts_with(b"_")
            || memchr_pair(rel.as_os_str().as_bytes(), b"/_")
        {
            // Files and directories starting with `_` are helpers for templates, not output.
        } else if template {
            self.templates.push(rel);
        } else {
            self.copies.push(rel);
        }
    }

    /// A link of the tree: refused or warned about when it leads outside.
    fn check_link(
        &mut self,
        rel: &Path,
        origin: crate::sources::Origin,
    ) -> Result<(), RenderError> {
        use crate::sources::links::{Landing, land};
        let landing = land(&self.root, rel).map_err(|source| RenderError::Read {
            path: self.root.join(rel),
            source,
        })?;
        let target = match landing {
            Landing::Inside(_) => return Ok(()),
            Landing::Outside(target) => target,
            // Reading it fails with the system's own message, naming the file.
            Landing::Loop => return Ok(()),
        };
        let link = self.display(rel);
        match origin {
            crate::sources::Origin::Downloaded => Err(RenderError::LinkOutside { link, target }),
            crate::sources::Origin::Local => {
                self.warnings.push(format!(
                    "`{link}` is a link leading outside the template tree, to `{}`; it is read from there",
                    target.display()
                ));
                Ok(())
            }
        }
    }

    pub(super) fn display(&self, rel: &Path) -> String {
        format!("{}/{}", self.display_root, rel.display())
    }

    pub(super) fn read(&self, rel: &Path) -> Result<String, RenderError> {
        self.dirs
            .read_text(rel)
            .map_err(|source| RenderError::Read {
                path: self.root.join(rel),
                source,
            })
    }
}

/// `path` (an entry the scan of `root` found) relative to `root`. The scan makes each
/// entry's path by joining its name to its directory's, so `root` is a prefix of its
/// bytes: cut as bytes, where comparing components took a tenth of a render.
fn relative<'p>(path: &'p Path, root: &Path) -> Option<&'p Path> {
    let rest = path
        .as_os_str()
        .as_bytes()
        .strip_prefix(root.as_os_str().as_bytes())?;
    let rest = rest.strip_prefix(b"/").unwrap_or(rest);
    Some(Path::new(std::ffi::OsStr::from_bytes(rest)))
}

/// Whether a path of the tree lies in the partials directory.
fn in_partials(rel: &Path) -> bool {
    let bytes = rel.as_os_str().as_bytes();
    bytes
        .strip_prefix(PARTIALS_DIR.as_bytes())
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

fn memchr_pair(bytes: &[u8], pair: &[u8; 2]) -> bool {
    bytes.windows(2).any(|w| w == pair)
}

/// [`skipped`] for an entry whose directories the scan did not skip: only its own name
/// decides.
fn skipped_last(rel: &Path, name: &std::ffi::OsStr) -> bool {
    let name = name.as_bytes();
    name.starts_with(b".") || (name.starts_with(b"_") && !in_partials(rel))
}

/// [`crate::sources::is_template`] of a file name, read as bytes (its extension is one of a template's).
fn is_template_name(name: &[u8]) -> bool {
    match name.iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => matches!(&name[dot + 1..], b"yaml" | b"yml" | b"json"),
        _ => false,
    }
}

#[cfg(test)]
#[test]
fn template_names_are_read_as_paths_are() {
    for name in [
        "a.yaml",
        "a.yml",
        "a.json",
        "a.b.yaml",
        ".yaml",
        "yaml",
        "a.",
        "a.YAML",
        "a.yaml.txt",
        "é.json",
    ] {
        assert_eq!(
            is_template_name(name.as_bytes()),
            crate::sources::is_template(Path::new(name)),
            "{name}"
        );
    }
}

/// Whether the scan passes over a path of the tree: hidden entries, and `_` helpers
/// outside the partials directory (they are read only when included).
fn skipped(rel: &Path) -> bool {
    let names: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    let in_partials = names.first().is_some_and(|n| n == PARTIALS_DIR);
    names
        .iter()
        .any(|n| n.starts_with('.') || (!in_partials && n.starts_with('_')))
}
