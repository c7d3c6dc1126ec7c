//! The words users read, kept under review: every command's `--help`, and the main error
//! messages (what went wrong, where, the one hint). A change of wording shows as a
//! snapshot diff in `tests/cli/snapshots/`; once it is meant, accept it with
//! `cargo insta review` (or run the tests with `INSTA_UPDATE=always` and read the diff).

use crate::support::{Project, SERVICE, stderr, stdout};
use clap::CommandFactory;

/// Every command and subcommand as typed (`""` for the program itself), read from the
/// command-line definition so that a new command cannot go without a reviewed `--help`.
fn every_command() -> Vec<String> {
    fn walk(command: &clap::Command, path: &str, all: &mut Vec<String>) {
        all.push(path.to_string());
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            let typed = format!("{path} {}", sub.get_name());
            walk(sub, typed.trim_start(), all);
        }
    }
    let mut all = Vec::new();
    walk(&kube_openstack::cli::Cli::command(), "", &mut all);
    all
}

#[test]
fn every_commands_help_is_as_reviewed() {
    let p = Project::new();
    let commands = every_command();
    assert!(commands.iter().any(|c| c == "stack create"), "{commands:?}");
    for command in &commands {
        let out = p
            .cmd()
            .args(command.split_whitespace())
            .arg("--help")
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        let name = match command.as_str() {
            "" => "help".to_string(),
            c => format!("help-{}", c.replace(' ', "-")),
        };
        insta::assert_snapshot!(name, stdout(&out));
    }
}

/// What `kube-openstack ARGS` printed on stderr, which must end it with exit 2.
fn error_of(p: &Project, args: &[&str]) -> String {
    let out = p.cmd().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    stderr(&out)
}

fn rendered_service(p: &Project) {
    p.write(
        "kubernetes/web-service.yaml",
        &SERVICE.replace("{{name}}", "web"),
    );
}

#[test]
fn a_render_names_every_undefined_parameter_and_how_to_define_it() {
    let p = Project::new();
    p.write("params.yaml", "name: web\n")
        .write("kubernetes-in/web-service.yaml", SERVICE)
        .write(
            "kubernetes-in/web-config.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{name}}\ndata:\n  port: {{port}}\n  host: {{host}}\n",
        );
    let err = error_of(
        &p,
        &["render", "--source", "file", "--params-file", "params.yaml"],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn a_render_over_a_directory_it_did_not_write_refuses_and_says_how() {
    let p = Project::new();
    p.write("params.yaml", "name: web\n")
        .write("kubernetes-in/web-service.yaml", SERVICE)
        .write("kubernetes/notes.txt", "mine\n");
    let err = error_of(
        &p,
        &["render", "--source", "file", "--params-file", "params.yaml"],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn a_config_file_with_an_unknown_key_is_named() {
    let p = Project::new();
    p.write("kube-openstack.yaml", "inptu: templates\n");
    insta::assert_snapshot!(error_of(&p, &["render"]));
}

#[test]
fn the_heat_source_without_a_stack_says_how_to_name_one() {
    let p = Project::new();
    insta::assert_snapshot!(error_of(&p, &["params", "show", "--source", "heat"]));
}

#[test]
fn deploy_without_a_rendered_tree_says_to_render_first() {
    let p = Project::new();
    insta::assert_snapshot!(error_of(&p, &["deploy"]));
}

#[test]
fn deploy_of_a_dependency_cycle_names_it() {
    let p = Project::new();
    let with_dep = |name: &str, on: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations:\n    kube-openstack/depends-on: \"ConfigMap/{on}\"\ndata: {{}}\n"
        )
    };
    p.write("kubernetes/a.yaml", &with_dep("a", "b"))
        .write("kubernetes/b.yaml", &with_dep("b", "a"));
    insta::assert_snapshot!(error_of(&p, &["deploy"]));
}

#[test]
fn deploy_with_a_missing_kubeconfig_names_it_and_how_to_name_the_cluster() {
    let p = Project::new();
    rendered_service(&p);
    insta::assert_snapshot!(error_of(&p, &["deploy", "--kubeconfig", "missing.yaml"]));
}

#[test]
fn a_failed_up_gives_one_hint_how_to_go_on() {
    let p = Project::new();
    rendered_service(&p);
    let err = error_of(
        &p,
        &["up", "--only", "deploy", "--kubeconfig", "missing.yaml"],
    );
    assert_eq!(err.matches("hint:").count(), 1, "{err}");
    insta::assert_snapshot!(err);
}

/// Every flag and argument of every command says what it is for, and sits under the
/// heading of what it is about: OpenStack flags under `OpenStack` and nothing else there.
#[test]
fn every_flag_has_a_description_under_an_honest_heading() {
    fn walk(command: &clap::Command, path: &str, problems: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let name = arg.get_id().as_str();
            if arg
                .get_help()
                .is_none_or(|h| h.to_string().trim().is_empty())
            {
                problems.push(format!("`{path}`: `{name}` has no description"));
            }
            let long = arg.get_long().unwrap_or_default();
            let openstack = long.starts_with("os-")
                || ["insecure", "heat-url", "wait", "wait-timeout"].contains(&long);
            if openstack != (arg.get_help_heading() == Some("OpenStack")) {
                problems.push(format!(
                    "`{path}`: `--{long}` is under {:?}",
                    arg.get_help_heading()
                ));
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), problems);
        }
    }
    let mut command = kube_openstack::cli::Cli::command();
    command.build();
    let mut problems = Vec::new();
    walk(&command, "kube-openstack", &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
}
