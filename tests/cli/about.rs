//! `completion SHELL`, `man` and `version`: checked with the real shells (bash, zsh,
//! fish) and man, as a user installs and uses them; they need no project.

use crate::support::{Project, failure, require_program, stderr, stdout};
use std::process::Command;

fn generated(p: &Project, args: &[&str]) -> String {
    let out = p.cmd().args(args).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    stdout(&out)
}

#[test]
fn bash_completes_commands_and_flags_from_the_script() {
    let bash = require_program("bash", "bash");
    let p = Project::new();
    p.write("completion.bash", &generated(&p, &["completion", "bash"]));
    // What bash does on TAB: the completion function fills COMPREPLY.
    let complete = |words: &str| {
        let script = format!(
            "source completion.bash\n\
             COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}\n\
             $(complete -p kube-openstack | sed 's/.*-F \\([^ ]*\\) .*/\\1/') kube-openstack \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = Command::new(&bash)
            .args(["-c", &script])
            .current_dir(p.path(""))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", failure(&out));
        stdout(&out)
    };
    let commands = complete("kube-openstack de");
    assert!(
        commands.lines().any(|l| l == "deploy") && commands.lines().all(|l| l.starts_with("de")),
        "{commands}"
    );
    let flags = complete("kube-openstack deploy --dry");
    assert_eq!(flags.trim(), "--dry-run", "{flags}");
}

#[test]
fn fish_completes_commands_from_the_script() {
    let fish = require_program("fish", "fish");
    let p = Project::new();
    p.write(
        "kube-openstack.fish",
        &generated(&p, &["completion", "fish"]),
    );
    let out = Command::new(fish)
        .args([
            "--no-config",
            "-c",
            "source kube-openstack.fish; complete -C 'kube-openstack db'",
        ])
        .current_dir(p.path(""))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let text = stdout(&out);
    assert!(text.lines().any(|l| l.starts_with("db-sync")), "{text}");
}

#[test]
fn zsh_reads_the_completion_script() {
    let zsh = require_program("zsh", "zsh");
    let p = Project::new();
    let script = generated(&p, &["completion", "zsh"]);
    assert!(script.starts_with("#compdef kube-openstack"), "{script}");
    p.write("_kube-openstack", &script);
    let out = Command::new(zsh)
        .args(["-n", "_kube-openstack"])
        .current_dir(p.path(""))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
}

#[test]
fn man_pages_render_for_the_program_and_every_command() {
    let man = require_program("man", "man-db");
    let p = Project::new();
    let out = p.cmd().args(["man", "--dir", "man1"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    for page in [
        "kube-openstack.1",
        "kube-openstack-deploy.1",
        "kube-openstack-stack-create.1",
    ] {
        let shown = Command::new(&man)
            .args(["-l", &format!("man1/{page}")])
            .env("MANWIDTH", "100")
            .env("MANPAGER", "cat")
            .current_dir(p.path(""))
            .output()
            .unwrap();
        assert!(shown.status.success(), "{page}: {}", stderr(&shown));
        let text = stdout(&shown);
        let name = page.trim_end_matches(".1");
        assert!(text.contains(name), "{page}: {text}");
    }
    let main = generated(&p, &["man"]);
    assert!(main.contains(".TH kube-openstack 1"), "{main}");
}

#[test]
fn version_and_completion_need_no_project() {
    let p = Project::new();
    // A broken config file would stop any command that reads the project.
    p.write("kube-openstack.yaml", "nonsense: [\n");
    assert_eq!(
        generated(&p, &["version"]),
        format!("kube-openstack {}\n", env!("CARGO_PKG_VERSION"))
    );
    let json: serde_json::Value =
        serde_json::from_str(&generated(&p, &["version", "-o", "json"])).unwrap();
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(generated(&p, &["completion", "bash"]).contains("kube-openstack"));
    let out = p.cmd().arg("render").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
