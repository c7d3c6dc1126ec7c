//! Where a path of a template tree really lands once every link on the way is followed.
//!
//! A link's text alone proves nothing: `_z -> _y/..` stays inside the tree only while `_y`
//! is not itself a link to `.`, and a chain of such links can climb anywhere. So a path
//! is resolved the way the kernel resolves it, component by component against the tree
//! on disk, following each link where it sits (at most 40 links, as Linux allows), and
//! the first step that leaves the tree's root is reported.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// How many links one path may go through, as Linux's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// Where a path of a tree leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landing {
    /// Inside the tree (the real path, under the canonical root).
    Inside(PathBuf),
    /// Outside the tree: the real path it reaches.
    Outside(PathBuf),
    /// More than 40 links on the way (a loop, as far as the kernel is concerned).
    Loop,
}

/// Resolves `rel` (relative to `root`) through every link on the way. Components that do
/// not exist are taken as they are written, so a dangling link is judged by where it
/// would lead.
pub fn land(root: &Path, rel: &Path) -> std::io::Result<Landing> {
    let root = root.canonicalize()?;
    if rel.has_root() {
        return Ok(Landing::Outside(rel.to_path_buf()));
    }
    let mut current = root.clone();
    let mut pending = VecDeque::new();
    push_components(&mut pending, rel);
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            current.pop();
            if !current.starts_with(&root) {
                return Ok(Landing::Outside(with_rest(current, &pending)));
            }
            continue;
        }
        let next = current.join(&part);
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Ok(Landing::Loop);
                }
                let target = std::fs::read_link(&next)?;
                let mut front = VecDeque::new();
                if target.has_root() {
                    // An absolute link stays inside only when it names a path under the root.
                    let Ok(under) = target.strip_prefix(&root) else {
                        return Ok(Landing::Outside(with_rest(target, &pending)));
                    };
                    current = root.clone();
                    push_components(&mut front, under);
                } else {
                    push_components(&mut front, &target);
                }
                front.extend(pending.drain(..));
                pending = front;
            }
            _ => current = next,
        }
    }
    Ok(Landing::Inside(current))
}

/// Appends the normal and `..` components of a relative `path` to `queue`.
fn push_components(queue: &mut VecDeque<OsString>, path: &Path) {
    for c in path.components() {
        match c {
            Component::Normal(p) => queue.push_back(p.to_os_string()),
            Component::ParentDir => queue.push_back("..".into()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
}

fn with_rest(mut path: PathBuf, rest: &VecDeque<OsString>) -> PathBuf {
    for part in rest {
        if part == ".." {
            path.pop();
        } else {
            path.push(part);
        }
    }
    path
}

/// Every link under `dir` (not following them), for checking a freshly unpacked tree.
pub fn all_links(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path_is_symlink())
        .filter_map(|e| e.path().strip_prefix(dir).ok().map(Path::to_path_buf))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("tree");
        std::fs::create_dir_all(root.join("sub/deep")).unwrap();
        std::fs::write(root.join("sub/a.yaml"), "a").unwrap();
        std::fs::write(t.path().join("secret"), "s").unwrap();
        (t, root)
    }

    fn outside(root: &Path, rel: &str) -> bool {
        matches!(land(root, Path::new(rel)).unwrap(), Landing::Outside(_))
    }

    #[test]
    fn plain_paths_and_links_inside_stay_inside() {
        let (_t, root) = tree();
        symlink("sub/a.yaml", root.join("l1")).unwrap();
        symlink("deep/..", root.join("sub/l2")).unwrap();
        symlink("../sub", root.join("sub/deep/up")).unwrap();
        for rel in [
            "sub/a.yaml",
            "l1",
            "sub/l2/a.yaml",
            "sub/deep/up/a.yaml",
            "new/file",
        ] {
            assert!(
                matches!(land(&root, Path::new(rel)).unwrap(), Landing::Inside(_)),
                "{rel}"
            );
        }
        assert_eq!(
            land(&root, Path::new("l1")).unwrap(),
            Landing::Inside(root.canonicalize().unwrap().join("sub/a.yaml"))
        );
    }

    #[test]
    fn a_chain_of_relative_links_climbing_out_is_caught() {
        let (_t, root) = tree();
        // Each link's text looks harmless; together they climb one level per link.
        symlink(".", root.join("_y")).unwrap();
        symlink("_y/..", root.join("_z1")).unwrap();
        symlink("_z1/..", root.join("_z2")).unwrap();
        assert!(!outside(&root, "_y"));
        assert!(outside(&root, "_z1"));
        assert!(outside(&root, "_z2"));
        assert!(outside(&root, "_z1/secret"));
        assert_eq!(
            land(&root, Path::new("_z1/secret")).unwrap(),
            Landing::Outside(
                root.parent()
                    .unwrap()
                    .canonicalize()
                    .unwrap()
                    .join("secret")
            )
        );
    }

    #[test]
    fn absolute_links_escape_unless_they_name_the_tree() {
        let (t, root) = tree();
        symlink("/etc/passwd", root.join("abs")).unwrap();
        symlink(t.path().join("secret"), root.join("abs2")).unwrap();
        symlink(
            root.canonicalize().unwrap().join("sub/a.yaml"),
            root.join("abs3"),
        )
        .unwrap();
        assert!(outside(&root, "abs"));
        assert!(outside(&root, "abs2"));
        assert!(!outside(&root, "abs3"));
        assert!(outside(&root, "/etc/passwd"));
        assert!(outside(&root, "../secret"));
        assert!(outside(&root, "sub/../../secret"));
    }

    #[test]
    fn loops_and_dangling_links() {
        let (_t, root) = tree();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink("self", root.join("self")).unwrap();
        symlink("missing/../../..", root.join("dangling_out")).unwrap();
        symlink("missing", root.join("dangling_in")).unwrap();
        assert_eq!(land(&root, Path::new("loop1")).unwrap(), Landing::Loop);
        assert_eq!(land(&root, Path::new("self")).unwrap(), Landing::Loop);
        assert!(outside(&root, "dangling_out"));
        assert!(!outside(&root, "dangling_in"));
    }

    #[test]
    fn every_link_of_a_tree_is_listed() {
        let (_t, root) = tree();
        symlink(".", root.join("sub/dot")).unwrap();
        symlink("x", root.join("l")).unwrap();
        let mut links = all_links(&root);
        links.sort();
        assert_eq!(links, vec![PathBuf::from("l"), PathBuf::from("sub/dot")]);
    }
}
