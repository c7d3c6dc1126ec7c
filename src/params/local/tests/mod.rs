//! Behaviour tests of local evaluation, through the public API.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

pub(super) fn parse(text: &str) -> LocalTemplate {
    LocalTemplate::parse(text, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn eval_with(text: &str, params: &[(&str, &str)]) -> Result<Evaluation, LocalError> {
    let params: BTreeMap<String, String> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    parse(text).evaluate(&params, &BTreeSet::new(), &mut GeneratedValues::new())
}

pub(super) fn eval(text: &str) -> Evaluation {
    eval_with(text, &[]).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn output<'e>(e: &'e Evaluation, name: &str) -> &'e EvaluatedOutput {
    e.outputs.iter().find(|o| o.name == name).unwrap_or_else(|| panic!("no output `{name}`"))
}

mod samples;
mod random;
mod store;
