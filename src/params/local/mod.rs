//! Local evaluation of a Heat template (no cloud needed).
//!
//! Evaluates a HOT template's outputs the way Heat would: parameters
//! converted and checked against their constraints, `conditions`, the
//! intrinsic functions, and the resources that need no cloud
//! (`OS::Heat::RandomString`, `OS::Heat::Value`, `OS::Heat::None`, and
//! `OS::Heat::ResourceGroup` of those). Generated values are kept in a
//! [`GeneratedValues`] store the caller persists, so they stay stable across
//! runs. Outputs that need a cloud-only resource are reported together.

mod conditions;
mod constraints;
mod error;
mod eval;
mod functions;
mod group;
mod params;
mod pattern;
mod pyvalue;
mod random;
mod refs;
mod repeat;
mod resources;
mod template;
mod url;
mod val;
mod version;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use indexmap::IndexMap;
use serde_json::{Map, Value};

pub use constraints::{Constraint, Rule};
pub use error::{CloudNeed, LocalError, OutputNeeds, RefKind};
pub use params::{ParamType, ParameterDecl};
pub use random::{GeneratedValue, GeneratedValues};

use error::Fail;
use eval::Evaluator;
use refs::Ref;
use template::{OutputDef, ResourceDef};
use version::Version;

/// A parsed HOT template, ready to evaluate.
#[derive(Debug, Clone)]
pub struct LocalTemplate {
    pub(crate) name: String,
    pub(crate) version: Version,
    pub(crate) description: Option<String>,
    pub(crate) parameters: Vec<ParameterDecl>,
    pub(crate) conditions: Map<String, Value>,
    pub(crate) resources: IndexMap<String, ResourceDef>,
    pub(crate) outputs: Vec<OutputDef>,
    /// Things parsing noticed that evaluation cannot honour (e.g. constraints
    /// only a cloud can check); repeated in every [`Evaluation`].
    pub(crate) warnings: Vec<String>,
}

/// The outputs of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// In template order; outputs whose condition is false and outputs the
    /// caller already has are left out.
    pub outputs: Vec<EvaluatedOutput>,
    pub warnings: Vec<String>,
}

#[derive(Clone, PartialEq)]
pub struct EvaluatedOutput {
    pub name: String,
    pub description: Option<String>,
    /// JSON-typed, as Heat returns it.
    pub value: Value,
    /// Derived from a generated value or a hidden parameter, or named like a secret.
    pub secret: bool,
}

impl fmt::Debug for EvaluatedOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if self.secret { &"***" } else { &self.value };
        f.debug_struct("EvaluatedOutput")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("value", value)
            .field("secret", &self.secret)
            .finish()
    }
}

impl LocalTemplate {
    /// `name` is the path shown in errors (e.g. "heat/heat-setup.yaml").
    pub fn parse(text: &str, name: &str) -> Result<LocalTemplate, LocalError> {
        template::parse(text, name)
    }

    /// Declared stack parameters, in template order.
    pub fn parameters(&self) -> &[ParameterDecl] {
        &self.parameters
    }

    /// The template's `description`.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// Names of the template's outputs, in template order.
    pub fn output_names(&self) -> Vec<String> {
        self.outputs.iter().map(|o| o.name.clone()).collect()
    }

    /// Evaluate every output not in `provided`. `params` are stack parameter
    /// values as given on the command line; `store` supplies earlier
    /// generated values and receives new ones (existing ones never change).
    pub fn evaluate(
        &self,
        params: &BTreeMap<String, String>,
        provided: &BTreeSet<String>,
        store: &mut GeneratedValues,
    ) -> Result<Evaluation, LocalError> {
        let values = params::resolve(&self.parameters, params, &self.name)?;
        let mut ev = Evaluator::new(self, values, store);
        let mut outputs = Vec::new();
        let mut needs = Vec::new();
        for o in self.outputs.iter().filter(|o| !provided.contains(&o.name)) {
            match evaluate_output(&mut ev, o) {
                Ok(Some(out)) => outputs.push(out),
                Ok(None) => {}
                Err(Fail::Cloud(n)) => needs.push(OutputNeeds {
                    output: o.name.clone(),
                    needs: n,
                }),
                Err(Fail::Error(e)) => return Err(*e),
            }
        }
        // Heat creates every resource, used by an output or not; so do we:
        // values get generated once and errors in unused resources surface.
        for name in self.resources.keys() {
            if let Err(Fail::Error(e)) = ev.resource(name) {
                return Err(*e);
            }
        }
        if !needs.is_empty() {
            return Err(LocalError::CannotEvaluate {
                template: self.name.clone(),
                outputs: needs,
            });
        }
        let mut warnings = Vec::new();
        for w in ev.warnings {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        Ok(Evaluation { outputs, warnings })
    }

    /// The RandomString resources whose value `key` (an output or a resource
    /// name) depends on, in the order found. A ResourceGroup of RandomStrings
    /// is named by the group (see [`GeneratedValues::regenerate_all`]).
    pub fn random_resources_behind(&self, key: &str) -> Result<Vec<String>, LocalError> {
        let start: Vec<Ref> = if let Some(o) = self.outputs.iter().find(|o| o.name == key) {
            self.resource_refs(&o.value)
        } else if self.resources.contains_key(key) {
            vec![Ref {
                kind: RefKind::Resource,
                name: key.to_string(),
            }]
        } else {
            return Err(LocalError::UnknownKey {
                template: self.name.clone(),
                key: key.to_string(),
                outputs: self.output_names(),
                resources: self.resources.keys().cloned().collect(),
            });
        };
        let mut todo: Vec<String> = start.into_iter().map(|r| r.name).rev().collect();
        let mut seen = BTreeSet::new();
        let mut found = Vec::new();
        while let Some(name) = todo.pop() {
            let Some(def) = self
                .resources
                .get(&name)
                .filter(|_| seen.insert(name.clone()))
            else {
                continue;
            };
            let member_type = def
                .properties
                .as_ref()
                .and_then(|p| p.pointer("/resource_def/type"))
                .and_then(Value::as_str);
            let walk = match (def.rtype.as_str(), member_type) {
                ("OS::Heat::RandomString", _)
                | ("OS::Heat::ResourceGroup", Some("OS::Heat::RandomString")) => {
                    found.push(name.clone());
                    false
                }
                // Only values computed locally carry their inputs through.
                ("OS::Heat::Value" | "OS::Heat::ResourceGroup", _) => true,
                _ => false,
            };
            if let (true, Some(p)) = (walk, &def.properties) {
                todo.extend(self.resource_refs(p).into_iter().map(|r| r.name).rev());
            }
        }
        Ok(found)
    }

    fn resource_refs(&self, expr: &Value) -> Vec<Ref> {
        let refs = refs::collect(expr, self.version, false).unwrap_or_default();
        refs.into_iter()
            .filter(|r| r.kind == RefKind::Resource)
            .collect()
    }
}

fn evaluate_output(
    ev: &mut Evaluator<'_, '_>,
    o: &OutputDef,
) -> Result<Option<EvaluatedOutput>, Fail> {
    let at = format!("output `{}`", o.name);
    if let Some(c) = &o.condition
        && !ev.condition_arg(c, &at)?
    {
        return Ok(None);
    }
    let val = ev.eval(&o.value, &at)?;
    Ok(Some(EvaluatedOutput {
        name: o.name.clone(),
        description: o.description.clone(),
        value: val.v,
        // A name that says "secret" counts even when the value is no generated one (a
        // password passed as a plain parameter).
        secret: val.secret || crate::secrets::is_secret(&o.name, o.description.as_deref()),
    }))
}
