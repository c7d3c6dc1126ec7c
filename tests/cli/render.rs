use crate::support::{Project, SERVICE, failure, stderr, stdout};
use std::os::unix::fs::PermissionsExt;

fn basic() -> Project {
    let p = Project::new();
    p.write("params.yaml", "name: web\nport: 8080\npassword: s3cret\n")
        .write("kubernetes-in/web-service.yaml", SERVICE)
        .write(
            "kubernetes-in/app/web-secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\n  labels:\n    {{> labels}}\nstringData:\n  password: {{password}}\n  port: {{port}}\n",
        )
        .write("kubernetes-in/_partials/labels.yaml", "app.kubernetes.io/name: {{name}}\napp.kubernetes.io/part-of: openstack\n")
        .write("kubernetes-in/README.txt", "not a template: {{kept}}\n");
    p
}

#[test]
fn render_writes_the_tree_with_private_modes_and_a_marker() {
    let p = basic();
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let secret = p.read("kubernetes/app/web-secret.yaml");
    assert!(
        secret.contains("  password: \"s3cret\"\n") && secret.contains("  port: 8080\n"),
        "{secret}"
    );
    assert!(
        secret.contains("    app.kubernetes.io/name: \"web\"\n"),
        "partial indented: {secret}"
    );
    assert_eq!(
        p.read("kubernetes/README.txt"),
        "not a template: {{kept}}\n",
        "non-templates are copied as they are"
    );
    assert!(!p.path("kubernetes/_partials").exists());
    let mode = |rel: &str| std::fs::metadata(p.path(rel)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("kubernetes/app/web-secret.yaml"), 0o600);
    assert_eq!(mode("kubernetes/app"), 0o700);
    assert_eq!(mode("kubernetes"), 0o700);
    assert!(p.path("kubernetes/.kube-openstack-render").is_file());
    assert!(
        stderr(&out).contains("Rendered 2 templates (2 objects, 1 files copied)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn two_renders_are_byte_identical() {
    let p = basic();
    p.with_params(&["render"]).assert().success();
    let first = p.tree("kubernetes");
    p.with_params(&["render"]).assert().success();
    assert_eq!(first, p.tree("kubernetes"));
}

#[test]
fn every_missing_parameter_is_reported_and_nothing_is_written() {
    let p = basic();
    p.with_params(&["render"]).assert().success();
    let before = p.tree("kubernetes");
    p.write("kubernetes-in/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: {{nope_one}}\n  y: \"{{upper nope_two}}\"\n")
        .write("kubernetes-in/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{nope_three}}\n");
    let out = p.with_params(&["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("kubernetes-in/a.yaml:6:6: parameter `nope_one` is not defined"),
        "{err}"
    );
    assert!(
        err.contains("kubernetes-in/a.yaml:7:7: parameter `nope_two` is not defined"),
        "{err}"
    );
    assert!(
        err.contains("kubernetes-in/b.yaml:4:9: parameter `nope_three` is not defined"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(
        before,
        p.tree("kubernetes"),
        "a failed render changes nothing"
    );
    let leftovers: Vec<_> = std::fs::read_dir(p.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !leftovers.iter().any(|n| n.contains(".render-")),
        "no staging directory left: {leftovers:?}"
    );
}

#[test]
fn required_helper_reports_its_own_message() {
    let p = basic();
    p.write("kubernetes-in/r.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r\ndata:\n  x: {{required \"set the region with -p region=NAME\" region}}\n");
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(
        stderr(&out).contains("kubernetes-in/r.yaml:6:6: set the region with -p region=NAME"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn files_removed_from_the_input_disappear_from_the_output() {
    let p = basic();
    p.with_params(&["render"]).assert().success();
    std::fs::remove_file(p.path("kubernetes-in/web-service.yaml")).unwrap();
    p.with_params(&["render"]).assert().success();
    assert!(!p.path("kubernetes/web-service.yaml").exists());
    assert!(p.path("kubernetes/app/web-secret.yaml").exists());
}

#[test]
fn refuses_to_render_in_place_inside_or_over_a_foreign_directory() {
    let p = basic();
    let out = p
        .with_params(&["render", "--output-dir", "kubernetes-in"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("refusing to render into the input directory"),
        "{}",
        stderr(&out)
    );
    let out = p
        .with_params(&["render", "--output-dir", "kubernetes-in/out"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("inside the input directory"),
        "{}",
        stderr(&out)
    );
    let out = p
        .with_params(&["render", "--output-dir", ".", "--force"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("contains the input directory"),
        "{}",
        stderr(&out)
    );
    p.write("mine/notes.txt", "keep me");
    let out = p
        .with_params(&["render", "--output-dir", "mine"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not look like a previous render")
            && stderr(&out).contains("--force"),
        "{}",
        stderr(&out)
    );
    assert_eq!(p.read("mine/notes.txt"), "keep me");
    p.with_params(&["render", "--output-dir", "mine", "--force"])
        .assert()
        .success();
    assert!(p.path("mine/web-service.yaml").exists() && !p.path("mine/notes.txt").exists());
}

#[test]
fn a_template_rendering_to_nothing_gets_no_file() {
    let p = basic();
    p.write("params.yaml", "name: web\nport: 8080\npassword: s3cret\nenable_extra: false\n")
        .write("kubernetes-in/extra.yaml", "# optional\n{{#if enable_extra}}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n{{/if}}\n");
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(!p.path("kubernetes/extra.yaml").exists());
    assert!(
        stderr(&out).contains("rendered to nothing"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn stdout_prints_the_document_stream_and_writes_nothing() {
    let p = basic();
    let out = p.with_params(&["render", "--stdout"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("\n---\n").count(), 1, "{text}");
    assert!(text.contains("kind: Secret") && text.contains("kind: Service"));
    assert!(!p.path("kubernetes").exists());
}

#[test]
fn unused_parameters_warn_and_fail_with_strict() {
    let p = basic();
    p.write(
        "params.yaml",
        "name: web\nport: 8080\npassword: s3cret\ntypo_param: 1\n",
    );
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("warning: parameters no template uses: typo_param"),
        "{}",
        stderr(&out)
    );
    let out = p.with_params(&["render", "--strict"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("typo_param"));
}

#[test]
fn legacy_percent_templates_render_with_the_flag_and_are_flagged_without_it() {
    let p = basic();
    std::fs::remove_dir_all(p.path("kubernetes-in")).unwrap();
    p.write("kubernetes-in/old.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %name%\nstringData:\n  pw: %password%\n  port: \"%port%\"\n");
    let out = p.with_params(&["render", "--stdout"]).output().unwrap();
    assert!(
        stderr(&out).contains("--legacy-percent"),
        "{}",
        stderr(&out)
    );
    let out = p
        .with_params(&["render", "--stdout", "--legacy-percent"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(
        stdout(&out).contains("name: \"web\"")
            && stdout(&out).contains("pw: \"s3cret\"")
            && stdout(&out).contains("port: \"8080\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn documents_that_are_not_kubernetes_objects_are_errors_naming_the_template() {
    let p = basic();
    p.write("kubernetes-in/bad.yaml", "just: a map\n");
    let out = p.with_params(&["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("kubernetes-in/bad.yaml: rendered line 1: not a Kubernetes object"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn handlebars_syntax_errors_name_the_file_and_line() {
    let p = basic();
    p.write(
        "kubernetes-in/syntax.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n{{#if a}}\n",
    );
    let out = p.with_params(&["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("kubernetes-in/syntax.yaml:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_parameter_in_a_partial_names_the_partial_file() {
    let p = basic();
    p.write("params.yaml", "port: 8080\npassword: s3cret\n");
    std::fs::remove_file(p.path("kubernetes-in/web-service.yaml")).unwrap();
    let out = p.with_params(&["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("kubernetes-in/_partials/labels.yaml:1:25: parameter `name` is not defined"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_helper_without_its_argument_is_named_as_such() {
    let p = basic();
    for (tag, helper, usage) in [
        ("{{upper}}", "upper", "{{upper VALUE}}"),
        ("{{ lower }}", "lower", "{{lower VALUE}}"),
        ("{{{b64enc}}}", "b64enc", "{{b64enc VALUE}}"),
        ("{{include}}", "include", "{{include \"PATH\"}}"),
        ("x-{{trim}}", "trim", "{{trim VALUE}}"),
        ("{{indent}}", "indent", "{{indent 4 VALUE}}"),
        ("{{join}}", "join", "{{join \", \" LIST}}"),
        ("{{default}}", "default", "{{default \"FALLBACK\" VALUE}}"),
    ] {
        p.write(
            "kubernetes-in/web-service.yaml",
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: {tag}\n"
            ),
        );
        let out = p.with_params(&["render"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{tag}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("kubernetes-in/web-service.yaml:6:")
                && err.contains(&format!(
                    "helper `{helper}` is used without an argument: write `{usage}`"
                )),
            "{tag}: {err}"
        );
        assert!(!err.contains("is not defined"), "{tag}: {err}");
    }
    // A parameter that happens to share a helper's name still renders.
    p.write(
        "params.yaml",
        "name: web\nupper: up\npassword: s3cret\nport: 8080\n",
    );
    p.write(
        "kubernetes-in/web-service.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: {{upper}}\n  b: {{name}}\n",
    );
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
}

/// A key given twice, after render, is an error with the rendered line of both, in any
/// mapping of any document; so is one in a parameters or overrides file.
#[test]
fn duplicate_keys_are_errors_with_their_lines() {
    let p = basic();
    let cases = [
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"1\"\n  y: {{name}}\n  x: \"3\"\n",
            "rendered line 8: data: duplicate key (first at line 6)",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
            "rendered line 5: metadata: duplicate key (first at line 4)",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata:\n  name: a\n",
            "rendered line 3: duplicate key (first at line 2)",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: x\n    image: i\n    image: j\n",
            "rendered line 9: spec.containers[0]: duplicate key (first at line 8)",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  {{name}}: \"1\"\n  web: \"2\"\n",
            "rendered line 12: data: duplicate key (first at line 11)",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {k: \"1\", k: \"2\"}\n",
            "rendered line 5: data: duplicate key",
        ),
    ];
    for (template, expected) in cases {
        p.write("kubernetes-in/dup.yaml", template);
        let out = p.with_params(&["render"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{template}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("kubernetes-in/dup.yaml: {expected}")),
            "wanted {expected}: {err}"
        );
    }
    std::fs::remove_file(p.path("kubernetes-in/dup.yaml")).unwrap();
    p.write("overrides.yaml", "port: 1\nname: x\nport: 2\n");
    let out = p
        .with_params(&["render", "--overrides", "overrides.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`overrides.yaml`: duplicate key `port` at line 3 (first at line 1)"),
        "{}",
        stderr(&out)
    );
    p.write(
        "params.yaml",
        "name: web\nport: 8080\npassword: s3cret\nname: again\n",
    );
    let out = p.with_params(&["render"]).output().unwrap();
    assert!(
        stderr(&out).contains("`params.yaml`: duplicate key `name` at line 4 (first at line 1)"),
        "{}",
        stderr(&out)
    );
}

/// Widths `indent` cannot honour (beyond any memory, negative, not a number) are errors
/// naming the template and position, at once: not a crash, not hours of allocating, not
/// a silent zero. A width given with `-p` (a string) is read as the number it spells.
#[test]
fn indent_widths_out_of_range_are_errors_not_crashes() {
    let p = basic();
    p.write(
        "params.yaml",
        "name: web\nport: 8080\npassword: s3cret\nhuge: 18446744073709551615\nneg: -3\nhalf: 1.5\n",
    );
    for call in [
        "indent 18446744073709551615 name",
        "indent huge name",
        "indent 99999999999 name",
        "nindent 4294967296 name",
        "indent 1025 name",
        "indent neg name",
        "indent half name",
        "indent \"four\" name",
        "indent name name",
        "nindent (upper name) name",
    ] {
        p.write(
            "kubernetes-in/web-service.yaml",
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: {{{{{call}}}}}\n"),
        );
        let out = p
            .with_params(&["render"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{call}: {err}");
        assert!(
            err.contains("kubernetes-in/web-service.yaml:6:")
                && err.contains("take a whole number of spaces from 0 to 1024"),
            "{call}: {err}"
        );
        assert!(!p.path("kubernetes").exists(), "{call}");
    }
    p.write(
        "kubernetes-in/web-service.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  a: |\n{{indent width name}}\n  b: |\n{{indent 1024 name}}\n",
    );
    let out = p
        .with_params(&["render", "-p", "width=4"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&p.read("kubernetes/web-service.yaml")).unwrap();
    assert_eq!(doc["data"]["a"], "web\n");
    assert_eq!(doc["data"]["b"], "web\n");
}
