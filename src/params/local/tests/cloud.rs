//! Outputs that need a cloud: all reported at once with the fix, skipped
//! when the caller provides them; and which outputs are secret.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::*;
use crate::report::Hint as _;

const SETUP: &str = "
heat_template_version: 2018-08-31
parameters:
  use_trove: {type: boolean, default: true}
  db_user: {type: string, default: keystone}
  swift_password: {type: string, hidden: true, default: pw}
conditions:
  trove: {get_param: use_trove}
resources:
  keystone_db_password:
    type: OS::Heat::RandomString
  uri_parts:
    type: OS::Heat::Value
    properties:
      value: {user: {get_param: db_user}, pass: {get_resource: keystone_db_password}}
  database:
    type: OS::Trove::Instance
    condition: trove
    properties: {password: {get_resource: keystone_db_password}}
  registry:
    type: OS::Swift::Container
outputs:
  keystone_db_uri:
    value:
      str_replace:
        template: mysql://$user:$pass@$host/keystone
        params:
          $user: {get_attr: [uri_parts, value, user]}
          $pass: {get_attr: [uri_parts, value, pass]}
          $host: {if: [trove, {get_attr: [database, hostname]}, mariadb]}
  database_host:
    value: {get_attr: [database, hostname]}
  swift_container:
    value: {get_resource: registry}
  swift_auth:
    value: {list_join: [':', [swift, {get_param: swift_password}]]}
  db_user:
    value: {get_param: db_user}
  admin_token_key:
    value: plain-but-named-secret
";

fn run(params: &[(&str, &str)], provided: &[&str]) -> Result<Evaluation, LocalError> {
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let provided: BTreeSet<String> = provided.iter().map(|p| p.to_string()).collect();
    parse(SETUP).evaluate(&params, &provided, &mut GeneratedValues::new())
}

#[test]
fn every_output_that_needs_a_cloud_is_reported_together() {
    let err = run(&[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot evaluate 3 outputs of `t.yaml` without a cloud:\n  \
         output `keystone_db_uri` needs resource `database` (OS::Trove::Instance), which only a cloud can create\n  \
         output `database_host` needs resource `database` (OS::Trove::Instance), which only a cloud can create\n  \
         output `swift_container` needs resource `registry` (OS::Swift::Container), which only a cloud can create"
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains(
            "`-p keystone_db_uri=VALUE` `-p database_host=VALUE` `-p swift_container=VALUE`"
        ),
        "{hint}"
    );
    assert!(
        hint.contains("`-P use_trove=...`") && hint.contains("`--source heat`"),
        "{hint}"
    );
}

#[test]
fn provided_outputs_are_not_evaluated_nor_returned() {
    let e = run(
        &[],
        &["keystone_db_uri", "database_host", "swift_container"],
    )
    .unwrap();
    let names: Vec<&str> = e.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["swift_auth", "db_user", "admin_token_key"]);
}

#[test]
fn disabling_the_resource_by_its_condition_lets_outputs_evaluate() {
    let e = run(&[("use_trove", "false")], &["swift_container"]).unwrap();
    let uri = output(&e, "keystone_db_uri")
        .value
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        uri.starts_with("mysql://keystone:")
            && uri.ends_with("@mariadb/keystone")
            && uri.len() == "mysql://keystone:@mariadb/keystone".len() + 32,
        "{uri}"
    );
    assert_eq!(output(&e, "database_host").value, json!(null));
}

#[test]
fn outputs_derived_from_generated_values_or_hidden_parameters_are_secret() {
    let e = run(&[("use_trove", "false")], &["swift_container"]).unwrap();
    assert!(output(&e, "keystone_db_uri").secret);
    assert!(output(&e, "swift_auth").secret);
    assert!(output(&e, "admin_token_key").secret);
    assert!(!output(&e, "db_user").secret);
    assert!(!output(&e, "database_host").secret);
    assert!(!format!("{:?}", output(&e, "keystone_db_uri")).contains("mysql"));
}

#[test]
fn pseudo_parameters_and_heat_assigned_ids_need_a_real_stack() {
    let text = "
heat_template_version: 2018-08-31
resources:
  v: {type: OS::Heat::Value, properties: {value: 1}}
outputs:
  name: {value: {get_param: 'OS::stack_name'}}
  id: {value: {get_resource: v}}
";
    let err = eval_with(text, &[]).unwrap_err().to_string();
    assert!(
        err.contains(
            "output `name` needs pseudo parameter `OS::stack_name`, which only a real stack has"
        ),
        "{err}"
    );
    assert!(
        err.contains("output `id` needs the id Heat assigns to resource `v` (OS::Heat::Value)"),
        "{err}"
    );
}

#[test]
fn random_strings_behind_an_output_are_found_through_value_resources() {
    let t = parse(SETUP);
    assert_eq!(
        t.random_resources_behind("keystone_db_uri").unwrap(),
        ["keystone_db_password"]
    );
    assert_eq!(
        t.random_resources_behind("keystone_db_password").unwrap(),
        ["keystone_db_password"]
    );
    assert!(t.random_resources_behind("db_user").unwrap().is_empty());
    // A cloud resource's inputs do not make up its attributes.
    assert!(
        t.random_resources_behind("database_host")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_unknown_key_lists_the_outputs_and_resources() {
    let err = parse(SETUP)
        .random_resources_behind("keystone_pw")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("`keystone_pw` is neither an output nor a resource of `t.yaml`; outputs: `keystone_db_uri`"), "{err}");
    assert!(
        err.contains("resources: `keystone_db_password`, `uri_parts`"),
        "{err}"
    );
}

#[test]
fn a_single_failing_output_is_counted_too() {
    let err = run(&[("use_trove", "false")], &[]).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "cannot evaluate 1 output of `t.yaml` without a cloud:\n  output `swift_container`"
        ),
        "{err}"
    );
}
