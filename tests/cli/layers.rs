//! `scripts/check-layers.py`, the dependency rule's check (run by `scripts/test.sh`):
//! the crate passes it, and an arrow pointing up or sideways, written plainly or inside a
//! `use crate::{...}` group, fails it with the file and line.

use std::path::{Path, PathBuf};
use std::process::Output;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check(src: &Path) -> Output {
    let out = std::process::Command::new("python3")
        .arg(repository().join("scripts/check-layers.py"))
        .arg("--src")
        .arg(src)
        .output();
    match out {
        Ok(out) => out,
        Err(e) => panic!("python3 runs scripts/check-layers.py: {e}"),
    }
}

/// A copy of the crate's `src/` to plant violations in.
fn copy_of_src() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = repository().join("src");
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.unwrap();
        let to = dir
            .path()
            .join("src")
            .join(entry.path().strip_prefix(&from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    dir
}

fn append(file: &Path, text: &str) -> usize {
    let mut body = std::fs::read_to_string(file).unwrap();
    body.push_str(text);
    std::fs::write(file, &body).unwrap();
    body.lines().count()
}

#[test]
fn every_arrow_of_the_crate_points_down() {
    let out = check(&repository().join("src"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("every one points down"), "{err}");
}

#[test]
fn an_arrow_up_or_sideways_fails_the_check_with_its_place() {
    let tree = copy_of_src();
    let src = tree.path().join("src");
    // A foundation reaching a stage (up), in a group with a neighbour (sideways).
    let line = append(
        &src.join("state.rs"),
        "\n#[allow(unused_imports)]\nuse crate::{\n    report,\n    deploy::Objects,\n};\n",
    );
    // The command line knowing a stage.
    let cli_line = append(&src.join("cli.rs"), "\nuse crate::render::Tree;\n");
    // Comments and strings are no arrows.
    append(
        &src.join("rt.rs"),
        "\n// crate::deploy\nconst _S: &str = \"crate::deploy\";\n",
    );

    let out = check(&src);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "src/state.rs:{}: `state` -> `report` points sideways",
            line - 2
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "src/state.rs:{}: `state` -> `deploy` points up",
            line - 1
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "src/cli.rs:{cli_line}: `cli` -> `render` points up"
        )),
        "{err}"
    );
    assert!(!err.contains("src/rt.rs"), "{err}");
    assert!(err.contains("check-layers: 3 problems"), "{err}");
}

#[test]
fn a_module_in_no_layer_fails_the_check() {
    let tree = copy_of_src();
    let src = tree.path().join("src");
    std::fs::write(src.join("gadgets.rs"), "pub fn f() {}\n").unwrap();
    let out = check(&src);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("src/gadgets.rs: module `gadgets` is in no layer"),
        "{err}"
    );
}
