//! Reading a HOT template: YAML (anchors, aliases and `<<` merge keys
//! resolved) into its sections, with the structural checks Heat makes before
//! it evaluates anything.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Number, Value};

use super::LocalTemplate;
use super::error::LocalError;
use super::params;
use super::pyvalue::py_str;
use super::refs;
use super::version::Version;

#[derive(Debug, Clone)]
pub(crate) struct ResourceDef {
    pub rtype: String,
    pub properties: Option<Value>,
    pub depends_on: Vec<String>,
    pub condition: Option<Value>,
}

#[derive(Debug, Clone)]
pub(crate) struct OutputDef {
    pub name: String,
    pub description: Option<String>,
    pub value: Value,
    pub condition: Option<Value>,
}

const SECTIONS: &[&str] = &[
    "heat_template_version",
    "description",
    "parameter_groups",
    "parameters",
    "resources",
    "outputs",
    "conditions",
];
const RESOURCE_KEYS: &[&str] = &[
    "type",
    "properties",
    "metadata",
    "depends_on",
    "deletion_policy",
    "update_policy",
    "description",
    "external_id",
    "condition",
];
const OUTPUT_KEYS: &[&str] = &["description", "value", "condition"];

pub(crate) fn parse(text: &str, name: &str) -> Result<LocalTemplate, LocalError> {
    let top = load_yaml(text, name)?;
    let invalid = |at: &str, message: String| LocalError::Invalid {
        template: name.into(),
        at: at.into(),
        message,
    };
    let template_err = |message: String| LocalError::Template {
        template: name.into(),
        message,
    };
    let Value::Object(top) = top else {
        return Err(template_err(
            "not a Heat template: expected a map at the top level".into(),
        ));
    };
    if let Some(bad) = top.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
        return Err(template_err(format!(
            "the template section `{bad}` is invalid"
        )));
    }
    let version_text = top
        .get("heat_template_version")
        .map(py_str)
        .ok_or_else(|| {
            template_err(
                "`heat_template_version` is missing (only HOT templates can be evaluated locally)"
                    .into(),
            )
        })?;
    let version = Version::parse(&version_text).map_err(template_err)?;
    let (parameters, warnings) =
        params::parse_section(top.get("parameters"), version).map_err(|(at, m)| invalid(&at, m))?;
    let conditions = section_map(&top, "conditions").map_err(|m| invalid("`conditions`", m))?;
    let resources = parse_resources(&top).map_err(|(at, m)| invalid(&at, m))?;
    let outputs = parse_outputs(&top).map_err(|(at, m)| invalid(&at, m))?;
    let tmpl = LocalTemplate {
        name: name.to_string(),
        version,
        description: top.get("description").map(py_str),
        parameters,
        conditions,
        resources,
        outputs,
        warnings: Vec::new(),
    };
    refs::check(&tmpl)?;
    Ok(LocalTemplate { warnings, ..tmpl })
}

fn load_yaml(text: &str, name: &str) -> Result<Value, LocalError> {
    let yaml_err = |e| LocalError::Yaml {
        template: name.into(),
        source: Arc::new(e),
    };
    let mut doc: serde_yaml::Value = crate::yaml::from_str(text).map_err(yaml_err)?;
    doc.apply_merge().map_err(yaml_err)?;
    to_json(doc).map_err(|message| LocalError::Template {
        template: name.into(),
        message,
    })
}

/// YAML to JSON; map keys become strings as Heat's JSON view of a template has them.
fn to_json(v: serde_yaml::Value) -> Result<Value, String> {
    use serde_yaml::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or(format!("number `{n}` cannot be represented"))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_string(),
                    _ => return Err("map keys must be scalars".into()),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => return Err(format!("YAML tag `{}` is not supported", t.tag)),
    })
}

fn section_map(top: &Map<String, Value>, section: &str) -> Result<Map<String, Value>, String> {
    match top.get(section) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err("must be a map".into()),
    }
}

type AtError = (String, String);

fn parse_resources(top: &Map<String, Value>) -> Result<IndexMap<String, ResourceDef>, AtError> {
    let section = section_map(top, "resources").map_err(|m| ("`resources`".to_string(), m))?;
    let mut out = IndexMap::new();
    for (name, body) in section {
        let at = format!("resource `{name}`");
        let def = parse_resource(&name, &body).map_err(|m| (at, m))?;
        out.insert(name, def);
    }
    Ok(out)
}

fn parse_resource(name: &str, body: &Value) -> Result<ResourceDef, String> {
    if name.contains('/') {
        return Err("resource names may not contain `/`".into());
    }
    let Value::Object(m) = body else {
        return Err("must be a map with a `type`".into());
    };
    if let Some(bad) = m.keys().find(|k| !RESOURCE_KEYS.contains(&k.as_str())) {
        return Err(format!("invalid keyword `{bad}` in a resource definition"));
    }
    let rtype = match m.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err("`type` must be a string".into()),
        None => return Err("missing `type`".into()),
    };
    let depends_on = match m.get("depends_on") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or("`depends_on` must list resource names")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("`depends_on` must be a resource name or a list of them".into()),
    };
    Ok(ResourceDef {
        rtype,
        properties: m.get("properties").filter(|p| !p.is_null()).cloned(),
        depends_on,
        condition: m.get("condition").cloned(),
    })
}

fn parse_outputs(top: &Map<String, Value>) -> Result<Vec<OutputDef>, AtError> {
    let section = section_map(top, "outputs").map_err(|m| ("`outputs`".to_string(), m))?;
    let mut out = Vec::new();
    for (name, body) in section {
        let at = format!("output `{name}`");
        let Value::Object(m) = body else {
            return Err((at, "must be a map with a `value`".into()));
        };
        if let Some(bad) = m.keys().find(|k| !OUTPUT_KEYS.contains(&k.as_str())) {
            return Err((
                at,
                format!("`{bad}` is not a valid keyword inside an output definition"),
            ));
        }
        let Some(value) = m.get("value").cloned() else {
            return Err((at, "each output must contain a `value` key".into()));
        };
        out.push(OutputDef {
            name,
            description: m.get("description").map(py_str),
            value,
            condition: m.get("condition").cloned(),
        });
    }
    Ok(out)
}
