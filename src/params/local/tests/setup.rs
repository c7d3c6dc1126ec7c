//! The project's own `heat/heat-setup.yaml` evaluates locally with its
//! defaults, to values of the shapes the services need.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::*;
use crate::report::Hint as _;

const SETUP: &str = include_str!("../../../../heat/heat-setup.yaml");

fn check_defaults(text: &str, name: &str) {
    let t = LocalTemplate::parse(text, name).unwrap_or_else(|e| panic!("{e}"));
    let mut store = GeneratedValues::new();
    let e = t
        .evaluate(&BTreeMap::new(), &BTreeSet::new(), &mut store)
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = e.outputs.iter().map(|o| o.name.clone()).collect();
    assert_eq!(names, t.output_names(), "every output, in template order");
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    for o in &e.outputs {
        let is_generated = store
            .values()
            .any(|v| o.value.as_str().is_some_and(|s| s.contains(v)));
        assert_eq!(
            o.secret,
            is_generated || o.name.contains("password"),
            "output `{}`",
            o.name
        );
    }
    let again = t
        .evaluate(&BTreeMap::new(), &BTreeSet::new(), &mut store)
        .unwrap();
    assert_eq!(again, e, "stable across runs");
}

#[test]
fn the_setup_template_yields_every_output_with_its_defaults() {
    check_defaults(SETUP, "heat/heat-setup.yaml");
}

#[test]
fn setup_values_have_the_shapes_the_services_need() {
    let e = eval(SETUP);
    let s = |n: &str| {
        output(&e, n)
            .value
            .as_str()
            .unwrap_or_else(|| panic!("{n}"))
            .to_string()
    };
    for n in [
        "admin_user_password",
        "keystone_admin_token",
        "rabbitmq_password",
        "glance_metadata_encryption_key",
    ] {
        assert!(
            s(n).len() == 32 && s(n).chars().all(|c| c.is_ascii_alphanumeric()),
            "{n}: {}",
            s(n)
        );
    }
    assert_eq!(s("swift_hash_path_prefix").len(), 16);
    assert_eq!(s("swift_hash_path_suffix").len(), 16);
    assert_eq!(
        s("keystone_db_uri"),
        format!(
            "mysql+pymysql://keystone_admin:{}@mariadb/keystone?charset=utf8",
            s("keystone_db_password")
        )
    );
    assert_eq!(
        s("nova_cell0_db_uri"),
        s("nova_db_uri").replace("/nova?", "/nova_cell0?")
    );
    assert_eq!(s("swift_password"), s("swift_admin_password"));
    assert_eq!(
        s("swift_siteurl"),
        "http://swift-proxy:6004/v1/service/docker-registry"
    );
    assert_eq!(output(&e, "database_host").value, json!("mariadb"));
    assert!(!output(&e, "docker_registry").secret && !output(&e, "swift_user").secret);
}

#[test]
fn without_a_provider_swift_the_registry_keeps_its_images_on_one_pod() {
    let e = eval_with(SETUP, &[]).unwrap();
    assert_eq!(output(&e, "registry_storage").value, json!("filesystem"));
    assert_eq!(output(&e, "registry_replicas").value, json!(1));
    // Glance and Cinder backups use the deployment's own Swift.
    assert_eq!(
        output(&e, "swift_auth_url").value,
        json!("http://keystone:5000/v3")
    );
}

#[test]
fn a_provider_swift_holds_the_registry_and_needs_its_password_given() {
    let url = "http://provider:8080/auth/v1.0";
    let e = eval_with(SETUP, &[("swift_auth_url", url)]).unwrap();
    assert_eq!(output(&e, "registry_storage").value, json!("swift"));
    assert_eq!(output(&e, "registry_replicas").value, json!(3));
    assert_eq!(output(&e, "swift_auth_url").value, json!(url));
    // Never the generated password of the deployment's own Swift user.
    assert_eq!(output(&e, "swift_password").value, json!(""));
    let e = eval_with(SETUP, &[("swift_auth_url", url), ("swift_password", "p")]).unwrap();
    assert_eq!(output(&e, "swift_password").value, json!("p"));
}

#[test]
fn a_given_swift_password_is_used_and_stays_secret() {
    let e = eval_with(SETUP, &[("swift_password", "given")]).unwrap();
    assert_eq!(output(&e, "swift_password").value, json!("given"));
    assert!(output(&e, "swift_password").secret);
}

#[test]
fn asking_for_trove_lists_every_output_that_then_needs_the_cloud() {
    let err = eval_with(SETUP, &[("create_database", "true")]).unwrap_err();
    let LocalError::CannotEvaluate { outputs, .. } = &err else {
        panic!("{err}")
    };
    let names: Vec<&str> = outputs.iter().map(|o| o.output.as_str()).collect();
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(names.contains(&"database_host") && names.contains(&"nova_api_db_uri"));
    assert!(err.hint().unwrap().contains("`-P create_database=...`"));
    let provided: BTreeSet<String> = names.iter().map(|n| n.to_string()).collect();
    let params = BTreeMap::from([("create_database".to_string(), "true".to_string())]);
    assert!(
        parse(SETUP)
            .evaluate(&params, &provided, &mut GeneratedValues::new())
            .is_ok()
    );
}

#[test]
fn asking_for_the_swift_container_needs_the_cloud_only_for_the_swift_outputs() {
    let err = eval_with(SETUP, &[("create_swift_container", "on")]).unwrap_err();
    let LocalError::CannotEvaluate { outputs, .. } = &err else {
        panic!("{err}")
    };
    let shown: Vec<String> = outputs.iter().map(ToString::to_string).collect();
    let needs = |output: &str| {
        format!(
            "output `{output}` needs resource `registry_swift_container` (OS::Swift::Container), which only a cloud can create"
        )
    };
    assert_eq!(shown, [needs("swift_siteurl"), needs("swift_container")]);
}

#[test]
fn regenerating_a_database_uri_rotates_its_password() {
    let t = parse(SETUP);
    assert_eq!(
        t.random_resources_behind("keystone_db_uri").unwrap(),
        ["keystone_db_password"]
    );
    assert_eq!(
        t.random_resources_behind("swift_password").unwrap(),
        ["swift_admin_password"]
    );
}
