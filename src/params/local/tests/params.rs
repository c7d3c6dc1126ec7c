//! Stack parameters: types, defaults, constraints, unknown and missing names.

use serde_json::json;

use super::*;
use crate::report::Hint as _;

fn typed(kind: &str, extra: &str) -> String {
    format!(
        "
heat_template_version: 2018-08-31
parameters:
  p: {{type: {kind} {extra}}}
outputs:
  out: {{value: {{get_param: p}}}}
"
    )
}

fn given(kind: &str, value: &str) -> Result<serde_json::Value, String> {
    eval_with(&typed(kind, ""), &[("p", value)])
        .map(|e| output(&e, "out").value.clone())
        .map_err(|e| e.to_string())
}

#[test]
fn cli_strings_convert_to_the_declared_type() {
    assert_eq!(given("number", "12"), Ok(json!(12)));
    assert_eq!(given("number", " -1.5 "), Ok(json!(-1.5)));
    assert_eq!(given("string", "12"), Ok(json!("12")));
    for yes in ["yes", "TRUE", "on", "1", "t", "y"] {
        assert_eq!(given("boolean", yes), Ok(json!(true)), "{yes}");
    }
    for no in ["no", "False", "off", "0", "f", "n"] {
        assert_eq!(given("boolean", no), Ok(json!(false)), "{no}");
    }
    // Heat splits on commas and keeps the spaces.
    assert_eq!(
        given("comma_delimited_list", "a, b"),
        Ok(json!(["a", " b"]))
    );
    assert_eq!(given("comma_delimited_list", ""), Ok(json!([])));
    assert_eq!(
        given("json", r#"{"a": [1, true]}"#),
        Ok(json!({"a": [1, true]}))
    );
}

#[test]
fn values_that_do_not_fit_the_type_are_refused_naming_the_parameter() {
    let e = given("number", "twelve").unwrap_err();
    assert!(
        e.contains("stack parameter `p`") && e.contains("`twelve` is not a number"),
        "{e}"
    );
    assert!(
        given("boolean", "maybe")
            .unwrap_err()
            .contains("not a boolean")
    );
    assert!(given("json", "{nope").unwrap_err().contains("valid JSON"));
}

#[test]
fn yaml_defaults_convert_like_heat_converts_them() {
    let text = "
heat_template_version: 2018-08-31
parameters:
  s: {type: string, default: 12}
  b: {type: boolean, default: true}
  l: {type: comma_delimited_list, default: [1, x]}
  j: {type: json, default: {k: [v]}}
outputs:
  out: {value: [{get_param: s}, {get_param: b}, {get_param: l}, {get_param: j}]}
";
    assert_eq!(
        output(&eval(text), "out").value,
        json!(["12", true, ["1", "x"], {"k": ["v"]}])
    );
}

#[test]
fn constraints_are_checked_with_heat_messages() {
    let check =
        |kind: &str, c: &str, v: &str| given_with(kind, &format!(", constraints: [{c}]"), v);
    assert!(check("string", "{allowed_values: [a, b]}", "a").is_ok());
    assert!(
        check("string", "{allowed_values: [a, b]}", "c")
            .unwrap_err()
            .contains("\"c\" is not an allowed value [a, b]")
    );
    assert!(check("number", "{allowed_values: [1, 2]}", "2.0").is_ok());
    assert!(
        check("string", "{length: {min: 2, max: 3}}", "abcd")
            .unwrap_err()
            .contains("length (4) is out of range (min: 2, max: 3)")
    );
    assert!(
        check("comma_delimited_list", "{length: {min: 2}}", "a")
            .unwrap_err()
            .contains("length (1)")
    );
    assert!(
        check("number", "{range: {min: 1, max: 10}}", "11")
            .unwrap_err()
            .contains("11 is out of range (min: 1, max: 10)")
    );
    assert!(check("number", "{range: {min: 1}}", "1").is_ok());
    assert!(
        check("number", "{modulo: {step: 2, offset: 1}}", "4")
            .unwrap_err()
            .contains("not a multiple of 2")
    );
    assert!(check("string", "{allowed_pattern: '[a-z]+'}", "abc").is_ok());
    assert!(
        check("string", "{allowed_pattern: '[a-z]+'}", "ab1")
            .unwrap_err()
            .contains("does not match pattern")
    );
    assert!(check("comma_delimited_list", "{allowed_values: [a, b]}", "a,c").is_err());
}

fn given_with(kind: &str, extra: &str, value: &str) -> Result<serde_json::Value, String> {
    eval_with(&typed(kind, extra), &[("p", value)])
        .map(|e| output(&e, "out").value.clone())
        .map_err(|e| e.to_string())
}

#[test]
fn a_constraint_description_replaces_the_message() {
    let e = given_with(
        "string",
        ", constraints: [{length: {max: 2}, description: keep it short}]",
        "long",
    )
    .unwrap_err();
    assert!(e.ends_with("keep it short"), "{e}");
}

#[test]
fn hidden_values_never_appear_in_errors() {
    let e = given_with(
        "string",
        ", hidden: true, constraints: [{allowed_pattern: '[a-z]+'}]",
        "Sup3rS3cret!",
    )
    .unwrap_err();
    assert!(!e.contains("Sup3rS3cret"), "{e}");
    let e = given_with("number", ", hidden: true", "Sup3rS3cret").unwrap_err();
    assert!(
        !e.contains("Sup3rS3cret") && e.contains("not a number"),
        "{e}"
    );
}

#[test]
fn a_default_that_breaks_its_constraints_is_refused_when_parsing() {
    let err = LocalTemplate::parse(
        &typed(
            "string",
            ", default: abc, constraints: [{length: {max: 2}}]",
        ),
        "t.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("parameter `p`: invalid default: length (3)"),
        "{err}"
    );
}

#[test]
fn constraints_that_do_not_fit_the_type_are_refused() {
    let err = LocalTemplate::parse(
        &typed("number", ", constraints: [{length: {max: 2}}]"),
        "t.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`length` constraint is not valid for a number parameter"),
        "{err}"
    );
}

#[test]
fn custom_constraints_are_skipped_with_a_warning() {
    let e = eval_with(
        &typed(
            "string",
            ", constraints: [{custom_constraint: nova.flavor}]",
        ),
        &[("p", "m1.small")],
    )
    .unwrap();
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("`nova.flavor`") && w.contains("not checked locally")),
        "{:?}",
        e.warnings
    );
}

#[test]
fn unknown_parameters_are_refused_listing_the_known_ones() {
    let err = eval_with(&typed("string", ", default: x"), &[("q", "1")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown stack parameter `q`: `t.yaml` declares `p`"
    );
}

#[test]
fn every_missing_required_parameter_is_named() {
    let text = "
heat_template_version: 2018-08-31
parameters:
  swift_user: {type: string}
  swift_password: {type: string, hidden: true}
  region: {type: string, default: ''}
";
    let err = eval_with(text, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "2 stack parameters of `t.yaml` have no value and no default: `swift_user`, `swift_password`"
    );
    assert_eq!(
        err.hint().unwrap(),
        "pass `-P swift_user=VALUE` `-P swift_password=VALUE`"
    );
    assert!(eval_with(text, &[("swift_user", "u"), ("swift_password", "p")]).is_ok());
}

#[test]
fn declarations_are_available_for_display() {
    let t = parse(
        "
heat_template_version: 2018-08-31
parameters:
  pw: {type: string, hidden: true, description: the password, label: Password}
  size: {type: number, default: 3, constraints: [{range: {min: 1, max: 5}}]}
",
    );
    let [pw, size] = t.parameters() else { panic!() };
    assert!(pw.hidden && pw.default.is_none() && pw.description.as_deref() == Some("the password"));
    assert_eq!(
        (pw.param_type, pw.label.as_deref()),
        (ParamType::String, Some("Password"))
    );
    assert_eq!(size.default, Some(json!(3)));
    assert_eq!(
        size.constraints[0].to_string(),
        "the value must be in the range 1 to 5"
    );
}

#[test]
fn parameter_declarations_are_checked() {
    let bad = |body: &str| {
        let text = format!("heat_template_version: 2018-08-31\nparameters:\n  p: {body}\n");
        LocalTemplate::parse(&text, "t.yaml")
            .unwrap_err()
            .to_string()
    };
    assert!(bad("{type: integer}").contains("invalid type `integer`"));
    assert!(bad("{default: 1}").contains("missing `type`"));
    assert!(bad("{type: string, defualt: x}").contains("invalid key `defualt`"));
}
