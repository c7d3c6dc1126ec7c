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
    // Climbing to the crate root with `super`: once from a module's mod.rs, twice from a
    // file below it.
    let deploy_line = append(&src.join("deploy/mod.rs"), "\nuse super::workflow;\n");
    let engine_line = append(
        &src.join("render/engine.rs"),
        "\nfn f() { super::super::commands::dispatch(); }\n",
    );
    // Comments and strings are no arrows; `super` that stays inside the module is none.
    append(
        &src.join("rt.rs"),
        "\n// crate::deploy\nconst _S: &str = \"crate::deploy\";\n",
    );
    append(&src.join("render/engine.rs"), "\nuse super::prepass;\n");

    let out = check(&src);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for expected in [
        format!(
            "src/state.rs:{}: `state` -> `report` points sideways",
            line - 2
        ),
        format!("src/state.rs:{}: `state` -> `deploy` points up", line - 1),
        format!("src/cli.rs:{cli_line}: `cli` -> `render` points up"),
        format!("src/deploy/mod.rs:{deploy_line}: `deploy` -> `workflow` points up"),
        format!("src/render/engine.rs:{engine_line}: `render` -> `commands` points up"),
    ] {
        assert!(err.contains(&expected), "{expected}\n{err}");
    }
    assert!(!err.contains("src/rt.rs"), "{err}");
    assert!(!err.contains("prepass"), "{err}");
    assert!(err.contains("check-layers: 5 problems"), "{err}");
}

#[test]
fn a_stage_that_knows_the_command_line_or_the_terminal_fails_the_check() {
    let tree = copy_of_src();
    let src = tree.path().join("src");
    // Below the command line in the layers, yet not allowed to use it.
    let workflow_line = append(
        &src.join("workflow/mod.rs"),
        "\n#[allow(unused_imports)]\nuse crate::cli::Cli;\n",
    );
    let clap_line = append(
        &src.join("deploy/ops.rs"),
        "\n#[derive(clap::ValueEnum, Clone)]\nenum E { A }\n",
    ) - 1;
    let bar_line = append(
        &src.join("images/schedule.rs"),
        "\nfn bar() { let _ = indicatif::ProgressBar::hidden(); }\n",
    );

    let out = check(&src);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for expected in [
        format!(
            "src/workflow/mod.rs:{workflow_line}: `workflow` -> `cli`: only commands, settings may use `cli`"
        ),
        format!(
            "src/deploy/ops.rs:{clap_line}: `deploy` names the crate `clap`, which only cli may"
        ),
        format!(
            "src/images/schedule.rs:{bar_line}: `images` names the crate `indicatif`, which only printer may"
        ),
    ] {
        assert!(err.contains(&expected), "{expected}\n{err}");
    }
}

#[test]
fn a_long_command_file_or_function_fails_the_check_unless_it_says_why() {
    let tree = copy_of_src();
    let src = tree.path().join("src");
    let body = "    let _ = 1;\n".repeat(85);
    let start = append(&src.join("rt.rs"), &format!("\nfn long() {{\n{body}}}\n")) - 86;
    append(
        &src.join("report.rs"),
        &format!(
            "\n// Long because it is one flat list.\n#[allow(dead_code)]\nfn long_but_said() {{\n{body}}}\n"
        ),
    );
    let up_lines = std::fs::read_to_string(src.join("commands/up.rs"))
        .unwrap()
        .lines()
        .count();
    append(&src.join("commands/up.rs"), &"// padding\n".repeat(150));

    let out = check(&src);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "src/rt.rs:{start}: fn `long` has 87 lines, more than 80"
        )),
        "{err}"
    );
    assert!(!err.contains("long_but_said"), "{err}");
    assert!(
        err.contains(&format!(
            "src/commands/up.rs: {} lines, more than 150 for a command",
            up_lines + 150
        )),
        "{err}"
    );
    assert!(err.contains("check-layers: 2 problems"), "{err}");
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

/// `cli.rs` imports nothing from the crate, so it repeats a few of the stages' values:
/// they must agree.
#[test]
fn the_command_lines_values_are_the_stages() {
    use clap::ValueEnum;
    use kube_openstack::{cli, up::Step, userdata};
    assert_eq!(cli::DEFAULT_INCOMING_DIR, userdata::DEFAULT_INCOMING_DIR);
    assert_eq!(cli::NOVA_USER_DATA_LIMIT, userdata::NOVA_USER_DATA_LIMIT);
    let names: Vec<String> = cli::StepChoice::value_variants()
        .iter()
        .map(|c| c.to_possible_value().unwrap().get_name().to_string())
        .collect();
    let steps: Vec<String> = Step::ALL.iter().map(|s| s.name().to_string()).collect();
    assert_eq!(names, steps);
    for c in cli::StepChoice::value_variants() {
        assert_eq!(
            Step::from(*c).name(),
            c.to_possible_value().unwrap().get_name()
        );
    }
}
