//! Template structure: YAML features, versions, sections and references.

use serde_json::json;

use super::*;

fn parse_err(text: &str) -> String {
    LocalTemplate::parse(text, "heat/heat-setup.yaml")
        .unwrap_err()
        .to_string()
}

#[test]
fn anchors_aliases_and_merge_keys_work() {
    let text = "
heat_template_version: 2018-08-31
resources:
  a: &password
    type: OS::Heat::RandomString
    properties: &props {length: 10, sequence: digits}
  b: *password
  c:
    type: OS::Heat::RandomString
    properties:
      <<: *props
      length: 12
outputs:
  a: {value: {get_resource: a}}
  b: {value: {get_resource: b}}
  c: {value: {get_resource: c}}
";
    let e = eval(text);
    let s = |n| output(&e, n).value.as_str().unwrap().to_string();
    assert_eq!(s("a").len(), 10);
    assert_eq!(s("b").len(), 10);
    assert_ne!(s("a"), s("b"), "aliases share a definition, not a value");
    assert!(s("c").len() == 12 && s("c").chars().all(|c| c.is_ascii_digit()));
}

#[test]
fn outputs_are_listed_in_template_order() {
    let t = parse(
        "heat_template_version: rocky\noutputs:\n  z: {value: 1}\n  a: {value: 2}\n  m: {value: 3}\n",
    );
    assert_eq!(t.output_names(), ["z", "a", "m"]);
}

#[test]
fn versions_before_conditions_or_unknown_are_refused() {
    assert!(parse_err("heat_template_version: 2015-10-15\n").contains("too old"));
    assert!(
        parse_err("heat_template_version: 2099-01-01\n")
            .contains("unknown `heat_template_version`")
    );
    assert!(parse_err("description: x\n").contains("`heat_template_version` is missing"));
    assert!(
        parse_err("AWSTemplateFormatVersion: 2010-09-09\n")
            .contains("section `AWSTemplateFormatVersion` is invalid")
    );
}

#[test]
fn malformed_yaml_names_the_file_and_the_line() {
    let err = LocalTemplate::parse(
        "heat_template_version: rocky\noutputs: [\n",
        "heat/heat-setup.yaml",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "`heat/heat-setup.yaml` is not valid YAML");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("line"), "{cause}");
}

#[test]
fn malformed_sections_are_refused_with_their_place() {
    let v = "heat_template_version: rocky\n";
    assert!(
        parse_err(&format!(
            "{v}resources:\n  r: {{type: OS::Heat::None, propertes: {{}}}}\n"
        ))
        .contains("resource `r`: invalid keyword `propertes`")
    );
    assert!(
        parse_err(&format!("{v}resources:\n  r: {{properties: {{}}}}\n"))
            .contains("resource `r`: missing `type`")
    );
    assert!(
        parse_err(&format!("{v}resources:\n  a/b: {{type: OS::Heat::None}}\n"))
            .contains("may not contain `/`")
    );
    assert!(
        parse_err(&format!("{v}outputs:\n  o: {{description: x}}\n"))
            .contains("output `o`: each output must contain a `value` key")
    );
    assert!(
        parse_err(&format!("{v}outputs:\n  o: {{value: 1, condtion: c}}\n")).contains("`condtion`")
    );
}

#[test]
fn references_to_unknown_names_are_refused_naming_them() {
    let v = "heat_template_version: rocky\nparameters:\n  p: {type: string, default: x}\nresources:\n  r: {type: OS::Heat::None}\n";
    assert_eq!(
        parse_err(&format!(
            "{v}outputs:\n  o: {{value: {{get_attr: [nope, value]}}}}\n"
        )),
        "`heat/heat-setup.yaml`: output `o`: resource `nope` is not defined (known: `r`)"
    );
    assert!(
        parse_err(&format!("{v}outputs:\n  o: {{value: {{get_param: q}}}}\n"))
            .contains("parameter `q` is not defined (known: `p`)")
    );
    assert!(
        parse_err(&format!(
            "{v}  s: {{type: OS::Heat::None, depends_on: [r, t]}}\n"
        ))
        .contains("resource `s`: resource `t` is not defined")
    );
    assert!(
        parse_err(&format!("{v}  s: {{type: OS::Heat::None, condition: c}}\n"))
            .contains("condition `c` is not defined")
    );
}

#[test]
fn depends_on_is_accepted_and_has_no_effect() {
    let text = "
heat_template_version: 2018-08-31
resources:
  a: {type: OS::Heat::RandomString}
  b: {type: OS::Heat::Value, depends_on: a, properties: {value: 1}}
outputs:
  b: {value: {get_attr: [b, value]}}
";
    assert_eq!(output(&eval(text), "b").value, json!(1));
}

#[test]
fn circular_resources_are_reported() {
    let text = "
heat_template_version: 2018-08-31
resources:
  a: {type: OS::Heat::Value, properties: {value: {get_attr: [b, value]}}}
  b: {type: OS::Heat::Value, properties: {value: {get_attr: [a, value]}}}
outputs:
  a: {value: {get_attr: [a, value]}}
";
    let err = eval_with(text, &[]).unwrap_err().to_string();
    assert!(
        err.contains("circular dependency between resources: `a` -> `b` -> `a`"),
        "{err}"
    );
}

#[test]
fn value_resources_convert_to_their_declared_type() {
    let text = "
heat_template_version: 2018-08-31
resources:
  n: {type: OS::Heat::Value, properties: {type: number, value: '42'}}
  s: {type: OS::Heat::Value, properties: {type: string, value: true}}
  bad: {type: OS::Heat::Value, properties: {type: json, value: [1]}}
outputs:
  out: {value: [{get_attr: [n, value]}, {get_attr: [s, value]}]}
";
    let err = eval_with(text, &[]).unwrap_err().to_string();
    assert!(err.contains("resource `bad`: `[1]` is not a map"), "{err}");
    let ok = text.replace(
        "  bad: {type: OS::Heat::Value, properties: {type: json, value: [1]}}\n",
        "",
    );
    assert_eq!(output(&eval(&ok), "out").value, json!([42, "True"]));
}

#[test]
fn unused_resources_are_still_checked_and_generated() {
    let text = "
heat_template_version: 2018-08-31
resources:
  unused: {type: OS::Heat::RandomString, properties: {length: 600}}
";
    assert!(
        eval_with(text, &[])
            .unwrap_err()
            .to_string()
            .contains("resource `unused`: `length`: 600 is out of range")
    );
    let mut store = GeneratedValues::new();
    let ok = text.replace("600", "6");
    parse(&ok)
        .evaluate(&Default::default(), &Default::default(), &mut store)
        .unwrap();
    assert_eq!(store.get("unused").map(str::len), Some(6));
}

/// A chain of `n` Value resources, each the next one's value, and an output of the last.
fn chain(n: usize) -> String {
    let mut text = String::from(
        "heat_template_version: 2016-10-14\nresources:\n  v0: {type: OS::Heat::Value, properties: {value: x}}\n",
    );
    for i in 1..n {
        text.push_str(&format!(
            "  v{i}: {{type: OS::Heat::Value, properties: {{value: {{get_attr: [v{}, value]}}}}}}\n",
            i - 1
        ));
    }
    text + &format!(
        "outputs:\n  out: {{value: {{get_attr: [v{}, value]}}}}\n",
        n - 1
    )
}

/// Each reference is a level of the evaluator's recursion: a long chain is an error
/// naming its ends, not a stack overflow (a chain of 2000 aborted the process).
#[test]
fn chains_of_references_past_the_limit_are_errors_not_crashes() {
    use crate::params::local::error::MAX_CHAIN;
    assert_eq!(output(&eval(&chain(MAX_CHAIN)), "out").value, json!("x"));
    for n in [MAX_CHAIN + 1, 2000, 20_000] {
        let err = eval_with(&chain(n), &[]).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "resources refer to each other more than {MAX_CHAIN} deep: `v{}` -> ... -> `v{}`",
                n - 1,
                n - 1 - MAX_CHAIN
            )),
            "{n}: {err}"
        );
    }
    let mut conditions =
        String::from("heat_template_version: 2018-08-31\nconditions:\n  c0: true\n");
    for i in 1..2000 {
        conditions.push_str(&format!("  c{i}: {{not: c{}}}\n", i - 1));
    }
    conditions.push_str("outputs:\n  out: {value: {if: [c1999, 1, 2]}}\n");
    let err = eval_with(&conditions, &[]).unwrap_err().to_string();
    assert!(
        err.contains("conditions refer to each other more than"),
        "{err}"
    );
}
