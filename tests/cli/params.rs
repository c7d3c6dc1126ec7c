use crate::support::{Project, failure, stderr, stdout};

#[test]
fn params_show_masks_secrets_and_names_sources() {
    let p = Project::new();
    p.write("params.yaml", "keystone_admin_password: hunter2secret\nregion: RegionOne\nswift_siteurl: http://s/v1/AUTH_t/reg%20c\n");
    let out = p
        .with_params(&["params", "show"])
        .args(["-p", "region=Other"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let text = stdout(&out);
    assert!(!text.contains("hunter2secret"), "{text}");
    assert!(
        text.contains("keystone_admin_password") && text.contains("***"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("region") && l.contains("override") && l.contains("Other")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("swift_container")
            && l.contains("derived")
            && l.contains("reg c")),
        "{text}"
    );
    let out = p
        .with_params(&["params", "show", "--show-secrets", "-o", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["keystone_admin_password"]["value"], "hunter2secret");
    assert_eq!(json["keystone_admin_password"]["secret"], true);
    assert_eq!(json["swift_tenant_name"]["value"], "AUTH_t");
}

#[test]
fn params_get_prints_one_raw_value() {
    let p = Project::new();
    p.write("params.yaml", "pw: \"a:b#c\"\nn: 3\n");
    p.with_params(&["params", "get", "pw"])
        .assert()
        .success()
        .stdout("a:b#c\n");
    p.with_params(&["params", "get", "n"])
        .assert()
        .success()
        .stdout("3\n");
    let out = p
        .with_params(&["params", "get", "missing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("parameter `missing` is not defined"));
}

#[test]
fn the_openstack_cli_output_format_is_read() {
    let p = Project::new();
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/openstack-stack-output-show-all.json"
    ))
    .unwrap();
    p.write("params.yaml", &fixture);
    p.with_params(&["params", "get", "full_name"])
        .assert()
        .success()
        .stdout("probe-csiqswhhcniv-3B396ABB\n");
}

#[test]
fn a_config_file_with_an_unknown_key_is_an_error_naming_it() {
    let p = Project::new();
    p.write("kube-openstack.yaml", "inptu: x\n")
        .write("params.yaml", "a: 1\n");
    let out = p.with_params(&["params", "show"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("kube-openstack.yaml") && stderr(&out).contains("inptu"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn overrides_file_wins_over_the_source_and_set_wins_over_both() {
    let p = Project::new();
    p.write("params.yaml", "a: source\nb: source\n")
        .write("over.yaml", "a: file\nb: file\n");
    let out = p
        .with_params(&[
            "params",
            "show",
            "-o",
            "json",
            "--overrides",
            "over.yaml",
            "-p",
            "b=flag",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["a"]["value"], "file");
    assert_eq!(json["b"]["value"], "flag");
}
