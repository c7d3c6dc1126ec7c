//! Local evaluation of a Heat template (no cloud needed).
//! Placeholder API until the evaluator lands; replaced by the real module.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, thiserror::Error)]
#[error("local evaluation is not built yet")]
pub struct LocalError;

pub struct LocalTemplate;
pub struct Evaluation { pub outputs: Vec<EvaluatedOutput>, pub warnings: Vec<String> }
pub struct EvaluatedOutput { pub name: String, pub description: Option<String>, pub value: serde_json::Value, pub secret: bool }
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct GeneratedValues {}
impl GeneratedValues { pub fn regenerate(&mut self, _r: &str) -> Option<String> { None } }
impl LocalTemplate {
    pub fn parse(_t: &str, _n: &str) -> Result<Self, LocalError> { Err(LocalError) }
    pub fn evaluate(&self, _p: &BTreeMap<String, String>, _v: &BTreeSet<String>, _s: &mut GeneratedValues) -> Result<Evaluation, LocalError> { Err(LocalError) }
    pub fn random_resources_behind(&self, _k: &str) -> Result<Vec<String>, LocalError> { Err(LocalError) }
}
