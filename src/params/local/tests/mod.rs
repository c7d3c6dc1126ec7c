//! Behaviour tests of local evaluation, through the public API.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

pub(super) fn parse(text: &str) -> LocalTemplate {
    LocalTemplate::parse(text, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn eval_with(text: &str, params: &[(&str, &str)]) -> Result<Evaluation, LocalError> {
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(text).evaluate(&params, &BTreeSet::new(), &mut GeneratedValues::new())
}

pub(super) fn eval(text: &str) -> Evaluation {
    eval_with(text, &[]).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn output<'e>(e: &'e Evaluation, name: &str) -> &'e EvaluatedOutput {
    e.outputs
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no output `{name}`"))
}

mod random;
mod samples;
mod store;

/// A template with a few parameters and resources, whose output `out` is `expr`
/// (one line of flow YAML).
pub(super) fn with_expr(expr: &str) -> String {
    format!(
        r#"
heat_template_version: 2018-08-31
parameters:
  list: {{type: comma_delimited_list, default: "a,b,c"}}
  cfg: {{type: json, default: {{db: {{hosts: [h1, h2]}}}}}}
  n: {{type: number, default: 3}}
  word: {{type: string, default: hello}}
  hidden_word: {{type: string, default: s3cr3t, hidden: true}}
  flag: {{type: boolean, default: false}}
conditions:
  on: {{equals: [{{get_param: flag}}, true]}}
resources:
  pw: {{type: OS::Heat::RandomString, properties: {{length: 8}}}}
  v: {{type: OS::Heat::Value, properties: {{value: {{a: [1, 2]}}}}}}
  db: {{type: OS::Trove::Instance}}
outputs:
  out:
    value: {expr}
"#
    )
}

/// The value of `expr` (see [`with_expr`]).
pub(super) fn value_of(expr: &str) -> serde_json::Value {
    output(&eval(&with_expr(expr)), "out").value.clone()
}

/// The error evaluating `expr` (see [`with_expr`]), as text.
pub(super) fn error_of(expr: &str) -> String {
    let text = with_expr(expr);
    let result = LocalTemplate::parse(&text, "t.yaml").and_then(|t| {
        t.evaluate(
            &BTreeMap::new(),
            &BTreeSet::new(),
            &mut GeneratedValues::new(),
        )
    });
    match result {
        Ok(e) => panic!("`{expr}` evaluated to {:?}", output(&e, "out").value),
        Err(e) => e.to_string(),
    }
}
mod cloud;
mod conditions;
mod functions;
mod params;
mod setup;
mod template;
