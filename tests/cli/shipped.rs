//! The shipped data trees: `heat/heat-setup.yaml` evaluated locally and `kubernetes-in/`
//! rendered from nothing, as the README's first command does.

use crate::support::{Project, failure, stderr, stdout};
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target)
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

pub fn shipped() -> Project {
    let p = Project::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("heat"), &p.path("heat"));
    copy_dir(&root.join("kubernetes-in"), &p.path("kubernetes-in"));
    std::fs::copy(
        root.join("kube-openstack.yaml"),
        p.path("kube-openstack.yaml"),
    )
    .unwrap();
    p
}

fn params_json(p: &Project) -> serde_json::Value {
    let out = p
        .cmd()
        .args(["params", "show", "--show-secrets", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_shipped_tree_renders_from_nothing_with_no_warning_and_diff_is_then_empty() {
    let p = shipped();
    let out = p.cmd().arg("render").output().unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(
        !stderr(&out).contains("warning"),
        "no unused or odd parameters: {}",
        stderr(&out)
    );
    let first = p.tree("kubernetes");
    assert!(first.len() > 40, "the whole service set");
    let out = p.cmd().arg("diff").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    p.cmd().arg("render").assert().success();
    assert_eq!(
        first,
        p.tree("kubernetes"),
        "a second render is byte-identical"
    );
}

#[test]
fn generated_values_are_stable_and_regenerate_rotates_only_what_is_asked() {
    let p = shipped();
    let before = params_json(&p);
    assert_eq!(before, params_json(&p), "values are kept between runs");
    let pw = before["keystone_admin_password"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(pw.len(), 32);
    assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(before["keystone_admin_password"]["secret"], true);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(p.path(".kube-openstack/params.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let out = p
        .cmd()
        .args(["params", "regenerate", "keystone_admin_password"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let after = params_json(&p);
    assert_ne!(
        after["keystone_admin_password"]["value"],
        before["keystone_admin_password"]["value"]
    );
    for key in [
        "nova_admin_password",
        "keystone_db_uri",
        "rabbitmq_password",
        "swift_hash_path_prefix",
    ] {
        assert_eq!(after[key], before[key], "{key} must not change");
    }
}

#[test]
fn changing_the_template_adds_values_without_touching_existing_ones() {
    let p = shipped();
    let before = params_json(&p);
    let mut heat = p.read("heat/heat-setup.yaml");
    let resources =
        heat.find("\nresources:\n").expect("a resources section") + "\nresources:\n".len();
    heat.insert_str(
        resources,
        "  extra_secret:\n    type: OS::Heat::RandomString\n    properties:\n      length: 20\n",
    );
    heat.push_str("  extra_secret:\n    description: an added output\n    value: {get_attr: [extra_secret, value]}\n");
    p.write("heat/heat-setup.yaml", &heat);
    let after = params_json(&p);
    assert_eq!(after["extra_secret"]["value"].as_str().unwrap().len(), 20);
    for (k, v) in before.as_object().unwrap() {
        assert_eq!(&after[k], v, "{k} must not change");
    }
}

#[test]
fn stack_parameters_reach_the_rendered_tree() {
    let p = shipped();
    let out = p
        .cmd()
        .args([
            "render",
            "--stdout",
            "-P",
            "image_tag=2026.1",
            "-P",
            "docker_registry=reg.example:5000",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    assert!(
        stdout(&out).contains("image: \"reg.example:5000/kube-openstack/keystone:2026.1\""),
        "{}",
        stdout(&out)
    );
    let out = p
        .cmd()
        .args(["params", "show", "-P", "no_such_parameter=1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no_such_parameter"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn outputs_that_need_a_cloud_are_named_with_the_fix() {
    let p = shipped();
    let out = p
        .cmd()
        .args(["params", "show", "-P", "create_database=true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("database_host") && err.contains("OS::Trove::Instance"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    let out = p
        .cmd()
        .args([
            "params",
            "show",
            "-P",
            "create_database=true",
            "--overrides",
            "over.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing overrides file is an error"
    );
}
