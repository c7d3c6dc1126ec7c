//! Secrets never reach the terminal or a leftover file: not through any encoding the
//! renderer produces (diff), not through a parser's message (render, diff, deploy, watch,
//! a damaged state file), not by a name or description the heuristic missed, and a state
//! directory readable by others is pointed out.

use crate::fake_kube::Faults;
use crate::support::cluster::Cluster;
use crate::support::{Project, failure, stderr, stdout};
use base64::Engine as _;

/// A secret with every character YAML, JSON or a URL treats specially, between two cores
/// that survive every encoding but base64: finding a core means the mask missed a form.
fn secret(i: usize, tag: &str, specials: &str) -> String {
    format!("Q{i}core{tag}X{specials}Y{i}core{tag}Q")
}

const SPECIALS: [&str; 4] = [
    "\"'\\#: %{[&*!|>@`,?=+/ é😀",
    "\t\u{7}\u{1b}\u{85}\u{2028}\u{feff}~^$()",
    "--- \\n\\\" '' %41 &amp; <b>",
    "",
];

/// Secrets that fit a literal block scalar: several lines, printable.
const MULTI_LINE: [&str; 2] = [
    "-----BEGIN KEY-----\nabc/def+ghi=\n-----END KEY-----\n",
    "a\n\n  b: c\n#d",
];

fn params(tag: &str) -> String {
    let mut params = serde_yaml::Mapping::new();
    for (i, s) in SPECIALS.iter().enumerate() {
        params.insert(format!("secret_{i}").into(), secret(i, tag, s).into());
    }
    for (i, s) in MULTI_LINE.iter().enumerate() {
        let value = format!(
            "{}\n{s}{}",
            secret(10 + i, tag, ""),
            secret(20 + i, tag, "")
        );
        params.insert(format!("key_{i}").into(), value.into());
    }
    // Not secret by name: a URL holding the percent-encoded password.
    let encoded: String = percent_encoding::utf8_percent_encode(
        &secret(0, tag, SPECIALS[0]),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    params.insert("conn".into(), format!("mysql://u:{encoded}@db/x").into());
    serde_yaml::to_string(&params).unwrap()
}

/// Every position and helper the renderer offers, for each secret.
fn templates(p: &Project) {
    for i in 0..SPECIALS.len() {
        let s = format!("secret_{i}");
        p.write(
            &format!("kubernetes-in/cm{i}.yaml"),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\n  annotations:\n    plain: {{{{{s}}}}}\n    dq: \"x-{{{{{s}}}}}-y\"\n    sq: 'x-{{{{{s}}}}}'\n    quoted: {{{{quote {s}}}}}\n    squoted: {{{{squote {s}}}}}\n    json: {{{{{{toJson {s}}}}}}}\n    b64: {{{{b64enc {s}}}}}\n    url: mysql://u:{{{{{s}}}}}@db/x\n    flow: [a, {{{{{s}}}}}]\n  # in a comment: {{{{{s}}}}}\ndata:\n  upper: {{{{upper {s}}}}}-never-mind\n"
            ),
        );
        p.write(
            &format!("kubernetes-in/s{i}.yaml"),
            &format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\ndata:\n  pw: {{{{b64enc {s}}}}}\nstringData:\n  again: {{{{{s}}}}}\n"),
        );
    }
    for i in 0..MULTI_LINE.len() {
        p.write(
            &format!("kubernetes-in/k{i}.yaml"),
            &format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: k{i}\nstringData:\n  key: |\n    {{{{key_{i}}}}}\n  nested:\n    deeper: |\n      prefix {{{{key_{i}}}}}\n  quoted: \"{{{{key_{i}}}}}\"\n  json: {{{{{{toJson key_{i}}}}}}}\n"),
        );
    }
    p.write(
        "kubernetes-in/conn.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conn\ndata:\n  uri: {{conn}}\n",
    );
}

/// Every distinctive piece of the secrets of `tag` that must not be shown.
fn needles(tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    for i in [0, 1, 2, 3, 10, 11, 20, 21] {
        out.push(format!("Q{i}core{tag}X"));
        out.push(format!("Y{i}core{tag}Q"));
    }
    for (i, s) in SPECIALS.iter().enumerate() {
        out.push(base64::engine::general_purpose::STANDARD.encode(secret(i, tag, s)));
    }
    out
}

#[test]
fn diff_masks_every_encoding_the_renderer_produces() {
    let p = Project::new();
    templates(&p);
    p.write("params.yaml", &params("old"));
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    // The test means something: the rendered files do hold every form.
    let rendered: String = p
        .tree("kubernetes")
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    for n in needles("old") {
        assert!(rendered.contains(&n), "rendered files hold {n}");
    }
    p.write("params.yaml", &params("new"));
    let out = p.with_params(&["diff"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(shown.contains("***"), "{shown}");
    for n in needles("old").into_iter().chain(needles("new")) {
        assert!(!shown.contains(&n), "diff shows `{n}`:\n{shown}");
    }
    for n in needles("old").into_iter().chain(needles("new")) {
        assert!(
            !shown.contains(&n.to_uppercase()),
            "diff shows `{n}` in upper case:\n{shown}"
        );
    }
}

/// A secret where YAML expects a map (or a name, a kind), through every command that
/// parses a rendered tree, and in a damaged state file: the error says where, never what.
#[test]
fn parser_errors_never_print_the_value() {
    let pw = "Pw-\"quoted\" s3cr3t: #1";
    let c = Cluster::new(Faults::default());
    let p = &c.project;
    p.write(
        "params.yaml",
        &format!(
            "db_password: {}\nname: web\n",
            serde_json::to_string(pw).unwrap()
        ),
    );
    let bad_templates = [
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{db_password}}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{db_password}}\n",
        "apiVersion: {{db_password}}\nkind: ConfigMap\nmetadata:\n  name: a\n",
        "apiVersion: v1\nkind: {{db_password}}\nmetadata:\n  name: a\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: {{db_password}}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: [{{db_password}}]\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  {{db_password}}: 1\n  {{db_password}}: 2\n",
    ];
    let leaks = |what: &str, text: &str| {
        for piece in ["s3cr3t", "quoted"] {
            assert!(!text.contains(piece), "{what} shows the value: {text}");
        }
    };
    for (i, t) in bad_templates.iter().enumerate() {
        let _ = std::fs::remove_dir_all(p.path("kubernetes-in"));
        let _ = std::fs::remove_dir_all(p.path("kubernetes"));
        p.write("kubernetes-in/x.yaml", t);
        for args in [&["render"][..], &["diff"]] {
            let out = p.with_params(args).output().unwrap();
            leaks(&format!("template {i} {args:?}"), &stderr(&out));
        }
        // The same document as a rendered file for deploy, and dropped for watch.
        let rendered = t.replace("{{db_password}}", &serde_json::to_string(pw).unwrap());
        c.manifest("x.yaml", &rendered);
        let out = c.deploy(&[]);
        leaks(
            &format!("deploy {i}"),
            &format!("{}{}", stdout(&out), stderr(&out)),
        );
        let inbox = p.path(&format!("incoming{i}"));
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::write(inbox.join("x.yaml"), &rendered).unwrap();
        let out = c.run("watch", &["--once", &format!("incoming{i}")]);
        leaks(&format!("watch {i}"), &stderr(&out));
        for f in std::fs::read_dir(inbox.join("failed"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if f.file_name().to_string_lossy().ends_with(".error") {
                leaks(
                    &format!("watch {i} error file"),
                    &std::fs::read_to_string(f.path()).unwrap(),
                );
            }
        }
    }
    // A damaged state file holding generated passwords.
    let q = Project::new();
    q.write(
        "heat/heat-setup.yaml",
        "heat_template_version: 2016-10-14\nresources:\n  pw:\n    type: OS::Heat::RandomString\noutputs:\n  db_password:\n    value: {get_attr: [pw, value]}\n",
    );
    for damaged in [
        "{\"generated\": \"s3cr3t-generated\"}",
        "{\"generated\": {\"pw\": 5, \"x\": \"s3cr3t-generated\"",
        "{\"generated\": {\"pw\": {\"value\": [\"s3cr3t-generated\"]}}}",
        "[\"s3cr3t-generated\"]",
    ] {
        q.write(".kube-openstack/params.json", damaged);
        let out = q.cmd().args(["params", "show"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{damaged}");
        assert!(stderr(&out).contains("is damaged"), "{}", stderr(&out));
        assert!(
            !stderr(&out).contains("s3cr3t"),
            "{damaged}: {}",
            stderr(&out)
        );
    }
    // A parameters file of the wrong shape, and one with a key given twice.
    for (text, expected) in [
        (
            format!("- {}\n", serde_json::to_string(pw).unwrap()),
            "must hold a map",
        ),
        (
            format!("a: [{}\n", serde_json::to_string(pw).unwrap()),
            "not valid YAML",
        ),
        (
            format!(
                "db_password: x\ndb_password: {}\n",
                serde_json::to_string(pw).unwrap()
            ),
            "duplicate key `db_password` at line 2 (first at line 1)",
        ),
    ] {
        q.write("params.yaml", &text);
        let out = q
            .cmd()
            .args([
                "params",
                "show",
                "--source",
                "file",
                "--params-file",
                "params.yaml",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        leaks("params file", &stderr(&out));
    }
}

/// `--source file` marks secrets the way the Heat source does: names (`*_pass`, `*_pw`,
/// `*_auth`...) and, in the OpenStack CLI's format, descriptions.
#[test]
fn one_secret_heuristic_for_every_source() {
    let p = Project::new();
    let names = [
        "db_pass",
        "admin_passwd",
        "root_pw",
        "api_pwd",
        "swift_auth",
        "bot_token",
        "ssh_key",
        "service_credential",
        "MYSQL_PASSWORD",
        "app-secret",
        "x.apikey",
        // Words as a person reads them: camelCase, capitals, a number at the end.
        "rabbitPass",
        "dbPw",
        "DBPassword",
        "swiftAuth",
        "privateKey",
        "db_pass2",
        "ROOT_PW_2",
    ];
    let mut yaml = String::new();
    for (i, n) in names.iter().enumerate() {
        yaml.push_str(&format!("{n}: hidden-value-{i}\n"));
    }
    yaml.push_str("keystone_host: shown-host\nbypass_mode: shown-mode\nauth_url: shown-url\n");
    yaml.push_str("monkeyCount: shown-count\npassCompass: shown-compass\n");
    p.write("params.yaml", &yaml);
    let out = p
        .cmd()
        .args([
            "params",
            "show",
            "--source",
            "file",
            "--params-file",
            "params.yaml",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let text = stdout(&out);
    assert!(!text.contains("hidden-value"), "{text}");
    for shown in [
        "shown-host",
        "shown-mode",
        "shown-url",
        "shown-count",
        "shown-compass",
    ] {
        assert!(text.contains(shown), "{shown} is no secret: {text}");
    }
    // The OpenStack CLI's format: descriptions say which are secret.
    let output = |key: &str, description: &str, value: &str| {
        serde_json::json!({"output_key": key, "description": description, "output_value": value})
            .to_string()
    };
    let cli = serde_json::json!({
        "conn_string": output("conn_string", "Database password of keystone_admin", "hidden-by-description"),
        "signing": output("signing", "Shared secret of the metadata proxy", "hidden-too"),
        "api_token_x": output("api_token_x", "", "hidden-by-name"),
        "endpoint": output("endpoint", "URL of the password reset service", "shown-endpoint"),
        "backup": output("backup", "API key of the backup user", "hidden-api-key"),
        "tls": output("tls", "Passphrase of the TLS key", "hidden-passphrase"),
    });
    p.write("outputs.json", &cli.to_string());
    let out = p
        .cmd()
        .args([
            "params",
            "show",
            "--source",
            "file",
            "--params-file",
            "outputs.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let text = stdout(&out);
    assert!(!text.contains("hidden-"), "{text}");
    assert!(text.contains("shown-endpoint"), "{text}");
    // Overrides given with -p follow the same rule.
    let out = p
        .cmd()
        .args([
            "params",
            "show",
            "--source",
            "file",
            "--params-file",
            "params.yaml",
            "-p",
            "extra_pw=hidden-p",
        ])
        .output()
        .unwrap();
    assert!(!stdout(&out).contains("hidden-p"), "{}", stdout(&out));
}

/// A state directory or file readable by others is pointed out, with the command that
/// makes it private again; a private one says nothing.
#[test]
fn a_state_directory_readable_by_others_is_pointed_out() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    p.write(
        "heat/heat-setup.yaml",
        "heat_template_version: 2016-10-14\nresources:\n  pw:\n    type: OS::Heat::RandomString\noutputs:\n  db_password:\n    value: {get_attr: [pw, value]}\n",
    );
    let out = p.cmd().args(["params", "show"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let set = |rel: &str, mode: u32| {
        std::fs::set_permissions(p.path(rel), std::fs::Permissions::from_mode(mode)).unwrap()
    };
    for (rel, mode, private) in [
        (".kube-openstack", 0o755, "700"),
        (".kube-openstack", 0o750, "700"),
        (".kube-openstack/params.json", 0o644, "600"),
        (".kube-openstack/params.json", 0o640, "600"),
        (".kube-openstack/mask.key", 0o604, "600"),
    ] {
        if rel.ends_with("mask.key") {
            // The key exists once something was masked.
            p.cmd().args(["params", "show"]).output().unwrap();
        }
        set(rel, mode);
        for args in [&["params", "show"][..], &["render", "--stdout"]] {
            let out = p.cmd().args(args).output().unwrap();
            let err = stderr(&out);
            assert!(
                err.contains(&format!(
                    "`{rel}` (mode {mode:o}) can be read by others than its owner"
                )) && err.contains(&format!("chmod {private} {rel}")),
                "{rel} {mode:o} {args:?}: {err}"
            );
        }
        set(rel, if private == "700" { 0o700 } else { 0o600 });
    }
}

/// A URL the user gave with a password or a token in it (`OS_AUTH_URL`, a kubeconfig's
/// server) shows neither in any line the command prints, retries and errors alike.
#[test]
fn credentials_in_urls_the_user_gave_never_show() {
    let p = Project::new();
    p.write(
        "kc",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"http://kube:KUBEPW@127.0.0.1:9/?token=KTOK\"}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: abc}\n",
    );
    p.write(
        "kubernetes/a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    );
    let keystone = p
        .cmd()
        .args(["params", "show", "--source", "heat", "--stack", "x"])
        .env(
            "OS_AUTH_URL",
            "http://admin:OSPW@127.0.0.1:9/v3?token=OSTOK#OSFRAG",
        )
        .env("OS_USERNAME", "u")
        .env("OS_PASSWORD", "p")
        .env("OS_PROJECT_NAME", "p")
        .output()
        .unwrap();
    let kube = p
        .cmd()
        .args(["status", "--kubeconfig", "kc"])
        .output()
        .unwrap();
    for (what, out, host) in [
        ("keystone", keystone, "http://127.0.0.1:9"),
        ("kube", kube, "127.0.0.1:9"),
    ] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(host), "{what} names the server: {err}");
        for secret in [
            "OSPW", "OSTOK", "OSFRAG", "KUBEPW", "KTOK", "admin:", "kube:",
        ] {
            assert!(!err.contains(secret), "{what}: {secret} in {err}");
        }
    }
}
