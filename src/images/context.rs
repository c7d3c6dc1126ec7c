//! Build contexts: one directory per image under `docker/`, its `FROM` lines and a hash of
//! everything that goes into the build.

use super::Naming;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` has no Dockerfile", dir.display())]
    NoDockerfile { dir: PathBuf },
    #[error("`{}`: `{name}` is not a valid image name (lowercase letters, digits, `.`, `_`, `-`)", dir.display())]
    BadName { dir: PathBuf, name: String },
    #[error("`{}`:{line}: `FROM` without an image", path.display())]
    EmptyFrom { path: PathBuf, line: usize },
    #[error("`{}` holds no build context (a directory with a Dockerfile per image)", dir.display())]
    Empty { dir: PathBuf },
}

/// One image's build context.
#[derive(Debug, Clone)]
pub struct ImageContext {
    /// The directory name, which is the image name.
    pub name: String,
    pub dir: PathBuf,
    /// The images its `FROM` lines name, build arguments substituted.
    pub froms: Vec<String>,
    /// The contexts of this tree it is built on (from `froms`).
    pub bases: Vec<String>,
    /// Hash of its files, modes, build arguments (not yet of its bases: see [`hash_all`]).
    pub own_hash: String,
    /// `own_hash` combined with its bases' hashes: what the image's content tag names.
    pub hash: String,
}

/// The build arguments every build gets, so Dockerfiles can name the images of this tree
/// (`FROM ${IMAGE_PREFIX}/openstack-base:${IMAGE_TAG}`).
pub fn build_args(naming: &Naming) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("IMAGE_PREFIX".to_string(), naming.image_prefix()),
        ("IMAGE_REGISTRY".to_string(), naming.registry.clone()),
        ("IMAGE_TAG".to_string(), naming.tag.clone()),
    ])
}

/// Every context under `root` (sorted by name); directories starting with `.` or `_` are
/// not contexts. Bases are resolved, but hashes only cover each context's own files until
/// [`hash_all`] runs in build order.
pub fn discover(
    root: &Path,
    naming: &Naming,
    args: &BTreeMap<String, String>,
) -> Result<Vec<ImageContext>, ContextError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContextError::Io { path, source }
    };
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io(root))? {
        let entry = entry.map_err(io(root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(['.', '_']) || !entry.file_type().map_err(io(&entry.path()))?.is_dir() {
            continue;
        }
        dirs.push((name, entry.path()));
    }
    dirs.sort();
    if dirs.is_empty() {
        return Err(ContextError::Empty {
            dir: root.to_path_buf(),
        });
    }
    let names: Vec<&str> = dirs.iter().map(|(n, _)| n.as_str()).collect();
    let mut contexts = Vec::new();
    for (name, dir) in &dirs {
        if !valid_name(name) {
            return Err(ContextError::BadName {
                dir: dir.clone(),
                name: name.clone(),
            });
        }
        let dockerfile = dir.join("Dockerfile");
        if !dockerfile.is_file() {
            return Err(ContextError::NoDockerfile { dir: dir.clone() });
        }
        let text = crate::files::read_to_string(&dockerfile).map_err(io(&dockerfile))?;
        let froms = from_images(&dockerfile, &text, args)?;
        let bases = names
            .iter()
            .filter(|n| **n != name && froms.iter().any(|f| strip_tag(f) == naming.image(n)))
            .map(|n| n.to_string())
            .collect();
        let own_hash = hash_dir(dir, args)?;
        contexts.push(ImageContext {
            name: name.clone(),
            dir: dir.clone(),
            froms,
            bases,
            hash: own_hash.clone(),
            own_hash,
        });
    }
    Ok(contexts)
}

/// Folds each base's hash into its dependents' (`order` is a build order, bases first), so
/// changing a base changes every image built on it.
pub fn hash_all(contexts: &mut [ImageContext], order: &[usize]) {
    let mut done: BTreeMap<String, String> = BTreeMap::new();
    for &i in order {
        let c = &mut contexts[i];
        let mut h = Sha256::new();
        h.update(c.own_hash.as_bytes());
        for base in &c.bases {
            h.update(format!("\nbase {base} {}", done[base]).as_bytes());
        }
        c.hash = hex(&h.finalize());
        done.insert(c.name.clone(), c.hash.clone());
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// `repo:tag` or `repo@digest` -> `repo` (a `:` inside the registry's host:port stays).
pub fn strip_tag(reference: &str) -> &str {
    let reference = reference.split('@').next().unwrap_or(reference);
    match reference.rfind(':') {
        Some(i) if !reference[i..].contains('/') => &reference[..i],
        _ => reference,
    }
}

/// The images named by `FROM` lines (not earlier stages), with `ARG`s declared before the
/// first `FROM` substituted (`args` win over their defaults).
fn from_images(
    path: &Path,
    text: &str,
    args: &BTreeMap<String, String>,
) -> Result<Vec<String>, ContextError> {
    let mut vars = BTreeMap::new();
    let mut stages = Vec::new();
    let mut froms = Vec::new();
    let mut seen_from = false;
    for (line_no, line) in logical_lines(text) {
        let mut words = line.split_whitespace();
        let Some(instruction) = words.next() else {
            continue;
        };
        if instruction.eq_ignore_ascii_case("ARG") && !seen_from {
            for decl in words {
                let (k, default) = decl.split_once('=').unwrap_or((decl, ""));
                let value = args
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| default.trim_matches('"').to_string());
                vars.insert(k.to_string(), value);
            }
        } else if instruction.eq_ignore_ascii_case("FROM") {
            seen_from = true;
            let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
            let Some(image) = rest.first() else {
                return Err(ContextError::EmptyFrom {
                    path: path.to_path_buf(),
                    line: line_no,
                });
            };
            let image = substitute(image, &vars);
            if image != "scratch" && !stages.contains(&image) {
                froms.push(image);
            }
            if rest.len() >= 3 && rest[1].eq_ignore_ascii_case("AS") {
                stages.push(rest[2].to_string());
            }
        }
    }
    Ok(froms)
}

/// Dockerfile lines with `\` continuations joined and comments dropped, with line numbers.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in (1..).zip(text.lines()) {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        let (start, mut acc) = current.take().unwrap_or((n, String::new()));
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                acc.push_str(head);
                acc.push(' ');
                current = Some((start, acc));
            }
            None => {
                acc.push_str(trimmed);
                out.push((start, acc));
            }
        }
    }
    out.extend(current);
    out
}

/// `$NAME` and `${NAME}` replaced by their values (unknown names by nothing, as Docker does).
fn substitute(word: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').unwrap_or(inner.len());
            (&inner[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        out.push_str(vars.get(name).map(String::as_str).unwrap_or(""));
        rest = &after[len.min(after.len())..];
    }
    out.push_str(rest);
    out
}

/// Hash of a context: every file's relative path, mode and bytes, symlinks' targets, and
/// the build arguments. Files are visited in a fixed order so the hash is stable.
fn hash_dir(dir: &Path, args: &BTreeMap<String, String>) -> Result<String, ContextError> {
    let mut h = Sha256::new();
    h.update(b"kube-openstack image context v1\n");
    for (k, v) in args {
        h.update(format!("arg {k}={v}\n").as_bytes());
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name().min_depth(1) {
        let entry = entry.map_err(|e| ContextError::Io {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("file system loop")),
        })?;
        let rel = entry
            .path()
            .strip_prefix(dir)
            .expect("below the root")
            .to_string_lossy()
            .into_owned();
        let path = entry.path();
        let meta = entry.metadata().map_err(|e| ContextError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path).map_err(|source| ContextError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            h.update(format!("link {rel} {}\n", target.display()).as_bytes());
        } else if meta.is_dir() {
            h.update(format!("dir {rel} {mode:o}\n").as_bytes());
        } else if let Some(kind) = crate::files::special_kind(meta.file_type()) {
            // Reading a FIFO waits for a writer, a device never ends: nothing to build from.
            return Err(ContextError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "a {kind} in a build context: only files, directories and links are copied into an image"
                    ),
                ),
            });
        } else {
            let bytes = std::fs::read(path).map_err(|source| ContextError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            h.update(format!("file {rel} {mode:o} {}\n", bytes.len()).as_bytes());
            h.update(&bytes);
        }
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naming() -> Naming {
        Naming {
            registry: "localhost:4999".into(),
            prefix: "ko".into(),
            tag: "latest".into(),
        }
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = t.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        t
    }

    #[test]
    fn from_lines_with_build_args_name_the_bases_of_this_tree() {
        let t = tree(&[
            ("base/Dockerfile", "FROM scratch\n"),
            (
                "app/Dockerfile",
                "# comment\nARG IMAGE_PREFIX=x\nARG IMAGE_TAG\nFROM ${IMAGE_PREFIX}/base:$IMAGE_TAG AS build\nFROM \\\n  build\n",
            ),
            (
                "ext/Dockerfile",
                "FROM --platform=linux/amd64 debian:bookworm-slim\n",
            ),
        ]);
        let n = naming();
        let cs = discover(t.path(), &n, &build_args(&n)).unwrap();
        let app = cs.iter().find(|c| c.name == "app").unwrap();
        assert_eq!(app.froms, ["localhost:4999/ko/base:latest"]);
        assert_eq!(app.bases, ["base"]);
        let ext = cs.iter().find(|c| c.name == "ext").unwrap();
        assert_eq!(ext.froms, ["debian:bookworm-slim"]);
        assert!(ext.bases.is_empty());
    }

    #[test]
    fn the_hash_changes_with_content_mode_and_args_but_not_with_time() {
        let t = tree(&[("a/Dockerfile", "FROM scratch\n"), ("a/f.conf", "x")]);
        let n = naming();
        let hash = |args: &BTreeMap<String, String>| {
            discover(t.path(), &n, args).unwrap()[0].own_hash.clone()
        };
        let args = build_args(&n);
        let first = hash(&args);
        assert_eq!(first, hash(&args));
        std::fs::write(t.path().join("a/f.conf"), "y").unwrap();
        let changed = hash(&args);
        assert_ne!(first, changed);
        let f = t.path().join("a/f.conf");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(changed, hash(&args));
        let other = build_args(&Naming {
            tag: "v2".into(),
            ..n.clone()
        });
        assert_ne!(hash(&args), hash(&other));
    }

    #[test]
    fn a_context_without_dockerfile_is_named() {
        let t = tree(&[("a/Dockerfile", "FROM scratch\n"), ("b/readme", "")]);
        let err = discover(t.path(), &naming(), &BTreeMap::new()).unwrap_err();
        assert!(
            matches!(&err, ContextError::NoDockerfile { dir } if dir.ends_with("b")),
            "{err}"
        );
    }

    #[test]
    fn tags_and_digests_are_stripped_but_ports_stay() {
        assert_eq!(strip_tag("localhost:4999/a/b:latest"), "localhost:4999/a/b");
        assert_eq!(strip_tag("localhost:4999/a/b"), "localhost:4999/a/b");
        assert_eq!(strip_tag("a/b@sha256:00"), "a/b");
    }
}
