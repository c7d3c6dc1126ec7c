//! Diff: what a render would change, per file and per Kubernetes object, secrets masked.
//!
//! Comparison is pure: rendered files in memory against the files of a directory. The
//! object model (`Kind/name` -> document) is what a live-cluster diff plugs into later.

use crate::render::{self, RenderedFile};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::secrets::{self, Masker};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Serialize)]
pub struct ObjectChange {
    /// `Kind/name`.
    pub object: String,
    pub change: Change,
}

#[derive(Debug, Serialize)]
pub struct FileChange {
    pub path: PathBuf,
    pub change: Change,
    pub objects: Vec<ObjectChange>,
    /// Unified diff, secrets masked unless asked otherwise.
    pub diff: String,
}

/// A long-running workload the change restarts, and why (names only, never a value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restart {
    /// `Kind/name`.
    pub object: String,
    /// `its pod template changed`, ``Secret/db` changed``.
    pub because: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct TreeDiff {
    pub files: Vec<FileChange>,
    /// The workloads whose pods the change replaces (filled by the caller, which knows
    /// the objects: see `deploy::restarts`).
    pub restarts: Vec<Restart>,
}

impl TreeDiff {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Counts of objects added, changed and removed.
    pub fn object_counts(&self) -> (usize, usize, usize) {
        let all = self.files.iter().flat_map(|f| &f.objects);
        let count = |c| all.clone().filter(|o| o.change == c).count();
        (
            count(Change::Added),
            count(Change::Changed),
            count(Change::Removed),
        )
    }
}

/// Secret values found in `Secret` objects of both sides, to add to the masker.
pub fn secrets_in(new: &[RenderedFile], old: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    let texts = new
        .iter()
        .map(|f| String::from_utf8_lossy(&f.content).into_owned())
        .chain(
            old.values()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        );
    let mut out = Vec::new();
    for text in texts {
        for (_, doc) in render::objects::documents(&text) {
            out.extend(secrets::secret_object_values(doc));
        }
    }
    out
}

/// Compares the rendered files with `old`.
pub fn compare(
    new: &[RenderedFile],
    old: &BTreeMap<PathBuf, Vec<u8>>,
    masker: &Masker,
) -> TreeDiff {
    let new_by_path: BTreeMap<&Path, &RenderedFile> =
        new.iter().map(|f| (f.path.as_path(), f)).collect();
    let mut paths: Vec<&Path> = new_by_path
        .keys()
        .copied()
        .chain(old.keys().map(PathBuf::as_path))
        .collect();
    paths.sort();
    paths.dedup();
    let mut diff = TreeDiff::default();
    for path in paths {
        let after = new_by_path.get(path).map(|f| f.content.as_slice());
        let before = old.get(path).map(Vec::as_slice);
        if after == before {
            continue;
        }
        let change = match (before, after) {
            (None, _) => Change::Added,
            (_, None) => Change::Removed,
            _ => Change::Changed,
        };
        let (b, a) = (text(before), text(after));
        let rendered = new_by_path
            .get(path)
            .map_or(&[][..], |f| f.objects.as_slice());
        let objects = object_changes(path, &b, rendered);
        let unified = similar::TextDiff::from_lines(&masker.mask(&b), &masker.mask(&a))
            .unified_diff()
            .context_radius(3)
            .header(
                &format!("a/{}", path.display()),
                &format!("b/{}", path.display()),
            )
            .to_string();
        diff.files.push(FileChange {
            path: path.to_path_buf(),
            change,
            objects,
            diff: unified,
        });
    }
    diff
}

fn text(bytes: Option<&[u8]>) -> String {
    bytes
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// Objects added, removed or changed between the file on disk and its rendered objects
/// (already parsed by the render), by `Kind/name`.
fn object_changes(path: &Path, before: &str, rendered: &[render::Object]) -> Vec<ObjectChange> {
    let b: BTreeMap<String, String> = if crate::sources::is_template(path) {
        let parsed = render::objects::parse("", before).unwrap_or_default();
        parsed.into_iter().map(|o| (o.id(), o.text)).collect()
    } else {
        BTreeMap::new()
    };
    let a: BTreeMap<String, &String> = rendered.iter().map(|o| (o.id(), &o.text)).collect();
    let mut out = Vec::new();
    for (id, text) in &a {
        match b.get(id) {
            None => out.push(ObjectChange {
                object: id.clone(),
                change: Change::Added,
            }),
            Some(old) if normalise(old) != normalise(text.as_str()) => out.push(ObjectChange {
                object: id.clone(),
                change: Change::Changed,
            }),
            Some(_) => {}
        }
    }
    for id in b.keys().filter(|id| !a.contains_key(*id)) {
        out.push(ObjectChange {
            object: id.clone(),
            change: Change::Removed,
        });
    }
    out
}

/// Object text without trailing blank lines, which separate documents and mean nothing.
fn normalise(t: &str) -> &str {
    t.trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rendered file as the render hands it over: content plus its parsed objects.
    fn file(path: &str, content: &str) -> RenderedFile {
        let objects = render::objects::parse(path, content).unwrap();
        RenderedFile {
            path: path.into(),
            content: content.into(),
            objects,
            copied: false,
        }
    }

    const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec: {}\n";

    #[test]
    fn identical_trees_have_no_diff() {
        let old = BTreeMap::from([(PathBuf::from("a.yaml"), SVC.as_bytes().to_vec())]);
        assert!(compare(&[file("a.yaml", SVC)], &old, &Masker::none()).is_empty());
    }

    #[test]
    fn reports_added_removed_and_changed_objects() {
        let changed = SVC.replace("spec: {}", "spec: {x: 1}");
        let both = format!("{changed}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n");
        let old = BTreeMap::from([
            (PathBuf::from("a.yaml"), SVC.as_bytes().to_vec()),
            (
                PathBuf::from("gone.yaml"),
                SVC.replace("name: a", "name: g").into_bytes(),
            ),
        ]);
        let d = compare(&[file("a.yaml", &both)], &old, &Masker::none());
        assert_eq!(d.files.len(), 2);
        let ids: Vec<(String, Change)> = d
            .files
            .iter()
            .flat_map(|f| f.objects.iter().map(|o| (o.object.clone(), o.change)))
            .collect();
        assert!(ids.contains(&("Service/a".into(), Change::Changed)));
        assert!(ids.contains(&("Secret/s".into(), Change::Added)));
        assert!(ids.contains(&("Service/g".into(), Change::Removed)));
        assert_eq!(d.object_counts(), (1, 1, 1));
    }

    #[test]
    fn diffs_are_masked() {
        let old = BTreeMap::from([(
            PathBuf::from("a.yaml"),
            SVC.replace("spec: {}", "spec: {pw: oldpass}").into_bytes(),
        )]);
        let new = file("a.yaml", &SVC.replace("spec: {}", "spec: {pw: newpass}"));
        let m = Masker::new(vec!["oldpass".into(), "newpass".into()], b"k");
        let d = compare(&[new], &old, &m);
        assert!(
            !d.files[0].diff.contains("oldpass") && !d.files[0].diff.contains("newpass"),
            "{}",
            d.files[0].diff
        );
        assert!(
            d.files[0].diff.contains("-spec: {pw: ***")
                && d.files[0].diff.contains("+spec: {pw: ***")
        );
    }
}
