//! Conditions switch resources and outputs on and off as in Heat.

use serde_json::json;

use super::*;

const SWITCHED: &str = "
heat_template_version: 2018-08-31
parameters:
  env: {type: string, default: dev}
  use_trove: {type: boolean, default: false}
  replicas: {type: number, default: 1}
conditions:
  is_prod: {equals: [{get_param: env}, prod]}
  trove: {get_param: use_trove}
  ha: {and: [is_prod, {not: {equals: [{get_param: replicas}, 1]}}]}
  either: {or: [ha, trove, false]}
  not_either: {not: either}
resources:
  db:
    type: OS::Trove::Instance
    condition: trove
  prod_secret:
    type: OS::Heat::RandomString
    condition: is_prod
outputs:
  database_host:
    value: {if: [trove, {get_attr: [db, hostname]}, mariadb]}
  db_ref:
    value: [{get_resource: db}, {get_attr: [db, hostname]}]
  prod_only:
    condition: is_prod
    value: {get_resource: prod_secret}
  inline:
    condition: {equals: [{get_param: env}, dev]}
    value: dev-only
  flags:
    value: {ha: {if: [ha, true, false]}, either: {if: [either, true, false]}, not_either: {if: [not_either, true, false]}}
";

fn run(params: &[(&str, &str)]) -> Result<Evaluation, LocalError> {
    eval_with(SWITCHED, params)
}

#[test]
fn a_resource_whose_condition_is_false_gives_null() {
    let e = run(&[]).unwrap();
    assert_eq!(output(&e, "database_host").value, json!("mariadb"));
    assert_eq!(output(&e, "db_ref").value, json!([null, null]));
}

#[test]
fn an_output_whose_condition_is_false_is_left_out() {
    let e = run(&[]).unwrap();
    assert!(!e.outputs.iter().any(|o| o.name == "prod_only"));
    assert_eq!(output(&e, "inline").value, json!("dev-only"));
    let e = run(&[("env", "prod")]).unwrap();
    assert_eq!(output(&e, "prod_only").value.as_str().unwrap().len(), 32);
    assert!(!e.outputs.iter().any(|o| o.name == "inline"));
}

#[test]
fn nested_and_or_not_and_named_references_combine() {
    let flags = |p: &[(&str, &str)]| output(&run(p).unwrap(), "flags").value.clone();
    assert_eq!(
        flags(&[]),
        json!({"ha": false, "either": false, "not_either": true})
    );
    assert_eq!(
        flags(&[("env", "prod")]),
        json!({"ha": false, "either": false, "not_either": true})
    );
    assert_eq!(
        flags(&[("env", "prod"), ("replicas", "3")]),
        json!({"ha": true, "either": true, "not_either": false})
    );
}

#[test]
fn a_boolean_parameter_can_be_a_condition() {
    // With the resource switched on, its outputs need a cloud.
    let err = run(&[("use_trove", "yes")]).unwrap_err();
    let LocalError::CannotEvaluate { outputs, .. } = &err else {
        panic!("{err}")
    };
    let names: Vec<&str> = outputs.iter().map(|o| o.output.as_str()).collect();
    assert_eq!(names, ["database_host", "db_ref"]);
}

#[test]
fn numbers_compare_as_numbers_in_equals() {
    let text = "
heat_template_version: 2018-08-31
parameters:
  n: {type: number, default: '3'}
conditions:
  three: {equals: [{get_param: n}, 3.0]}
outputs:
  out: {value: {if: [three, yes, no]}}
";
    assert_eq!(output(&eval(text), "out").value, json!("yes"));
}

#[test]
fn condition_definitions_must_be_booleans_or_functions() {
    let text = "
heat_template_version: 2018-08-31
conditions:
  a: true
  b: a
";
    let err = LocalTemplate::parse(text, "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("condition `b`") && err.contains("must be a boolean or a condition function"),
        "{err}"
    );
}

#[test]
fn a_condition_that_resolves_to_text_is_refused() {
    let text = "
heat_template_version: 2018-08-31
parameters:
  s: {type: string, default: x}
conditions:
  c: {get_param: s}
outputs:
  out: {value: {if: [c, 1, 2]}}
";
    let err = eval_with(text, &[]).unwrap_err().to_string();
    assert!(
        err.contains("condition `c`") && err.contains("must evaluate to a boolean"),
        "{err}"
    );
}

#[test]
fn unknown_conditions_are_reported_with_the_known_ones() {
    let text = "
heat_template_version: 2018-08-31
conditions:
  real: true
outputs:
  out: {value: {if: [imaginary, 1, 2]}}
";
    let err = LocalTemplate::parse(text, "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("output `out`: condition `imaginary` is not defined (known: `real`)"),
        "{err}"
    );
}

#[test]
fn circular_conditions_are_reported() {
    let text = "
heat_template_version: 2018-08-31
conditions:
  a: {not: b}
  b: {and: [a, true]}
outputs:
  out: {value: {if: [a, 1, 2]}}
";
    let err = eval_with(text, &[]).unwrap_err().to_string();
    assert!(
        err.contains("circular dependency between conditions: `a` -> `b` -> `a`"),
        "{err}"
    );
}

#[test]
fn value_functions_are_refused_inside_conditions() {
    let text = "
heat_template_version: 2018-08-31
conditions:
  a: {equals: [{str_replace: {template: x, params: {}}}, x]}
";
    let err = LocalTemplate::parse(text, "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`str_replace` cannot be used in a condition"),
        "{err}"
    );
}

#[test]
fn and_needs_two_conditions() {
    let text = "
heat_template_version: 2018-08-31
conditions:
  a: {and: [true]}
outputs:
  out: {value: {if: [a, 1, 2]}}
";
    let err = eval_with(text, &[]).unwrap_err().to_string();
    assert!(
        err.contains("`and`: arguments must be a list of at least two conditions"),
        "{err}"
    );
}

#[test]
fn contains_works_in_conditions_from_pike() {
    let text = "
heat_template_version: pike
parameters:
  env: {type: string, default: staging}
conditions:
  shared: {contains: [{get_param: env}, [staging, prod]]}
outputs:
  out: {value: {if: [shared, yes, no]}}
";
    assert_eq!(output(&eval(text), "out").value, json!("yes"));
}
