//! Stack parameters: declarations from the `parameters` section, and the
//! values a run uses (given on the command line as strings, or defaults),
//! converted and validated as Heat does.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::constraints::{self, Constraint};
use super::error::LocalError;
use super::pyvalue::{py_str, py_truthy, str_to_num};
use super::val::Val;
use super::version::Version;

/// The type of a stack parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Number,
    Boolean,
    CommaDelimitedList,
    Json,
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamType::String => "string",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::CommaDelimitedList => "comma_delimited_list",
            ParamType::Json => "json",
        })
    }
}

/// A declared stack parameter.
#[derive(Debug, Clone)]
pub struct ParameterDecl {
    pub name: String,
    pub param_type: ParamType,
    /// The default exactly as written in the template.
    pub default: Option<Value>,
    /// Hidden parameters are secrets: never shown, and outputs built from them are secret.
    pub hidden: bool,
    pub description: Option<String>,
    pub label: Option<String>,
    pub constraints: Vec<Constraint>,
}

/// Pseudo parameters Heat defines for every stack; only a real stack has values.
pub(crate) const PSEUDO: &[&str] = &["OS::stack_name", "OS::stack_id", "OS::project_id"];

/// Parse the `parameters` section; returns the declarations and warnings.
pub(crate) fn parse_section(
    section: Option<&Value>,
    version: Version,
) -> Result<(Vec<ParameterDecl>, Vec<String>), (String, String)> {
    let map = match section {
        None | Some(Value::Null) => return Ok((Vec::new(), Vec::new())),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(("`parameters`".into(), "must be a map".into())),
    };
    let mut decls = Vec::new();
    let mut warnings = Vec::new();
    for (name, body) in map {
        let at = format!("parameter `{name}`");
        let (decl, w) = parse_one(name, body, version).map_err(|m| (at, m))?;
        decls.push(decl);
        warnings.extend(w);
    }
    Ok((decls, warnings))
}

fn parse_one(
    name: &str,
    body: &Value,
    version: Version,
) -> Result<(ParameterDecl, Vec<String>), String> {
    let Value::Object(m) = body else {
        return Err("must be a map".into());
    };
    let mut keys = vec![
        "type",
        "description",
        "default",
        "constraints",
        "hidden",
        "label",
        "immutable",
    ];
    if version >= Version::Queens {
        keys.push("tags");
    }
    if let Some(bad) = m.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(format!("invalid key `{bad}`"));
    }
    let param_type = match m.get("type").map(py_str).as_deref() {
        Some("string") => ParamType::String,
        Some("number") => ParamType::Number,
        Some("boolean") => ParamType::Boolean,
        Some("comma_delimited_list") => ParamType::CommaDelimitedList,
        Some("json") => ParamType::Json,
        Some(other) => return Err(format!("invalid type `{other}`")),
        None => return Err("missing `type`".into()),
    };
    let (constraints, warnings) = match m.get("constraints") {
        None | Some(Value::Null) => (Vec::new(), Vec::new()),
        Some(c) => constraints::parse(name, c, param_type, version)?,
    };
    let decl = ParameterDecl {
        name: name.to_string(),
        param_type,
        default: m.get("default").filter(|d| !d.is_null()).cloned(),
        hidden: m.get("hidden").is_some_and(py_truthy),
        description: m.get("description").map(py_str),
        label: m.get("label").map(py_str),
        constraints,
    };
    if let Some(d) = &decl.default {
        // Heat rejects a template whose default breaks its own constraints.
        check(&decl, d).map_err(|e| format!("invalid default: {e}"))?;
    }
    Ok((decl, warnings))
}

/// The value of every declared parameter for this run.
pub(crate) fn resolve(
    decls: &[ParameterDecl],
    given: &BTreeMap<String, String>,
    template: &str,
) -> Result<BTreeMap<String, Val>, LocalError> {
    if let Some(name) = given.keys().find(|n| !decls.iter().any(|d| &d.name == *n)) {
        let known = decls.iter().map(|d| d.name.clone()).collect();
        return Err(LocalError::UnknownParameter {
            template: template.into(),
            name: name.clone(),
            known,
        });
    }
    let missing: Vec<String> = decls
        .iter()
        .filter(|d| d.default.is_none() && !given.contains_key(&d.name))
        .map(|d| d.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(LocalError::MissingParameters {
            template: template.into(),
            names: missing,
        });
    }
    let mut out = BTreeMap::new();
    for d in decls {
        let raw = match given.get(&d.name) {
            Some(s) => Value::String(s.clone()),
            None => d.default.clone().unwrap_or_default(),
        };
        let value = check(d, &raw).map_err(|message| LocalError::ParameterValue {
            template: template.into(),
            name: d.name.clone(),
            message,
        })?;
        out.insert(
            d.name.clone(),
            Val {
                v: value,
                secret: d.hidden,
            },
        );
    }
    Ok(out)
}

/// Convert `raw` to the parameter's type and check its constraints.
/// Messages never show the value of a hidden parameter, nor of one named like a secret.
fn check(d: &ParameterDecl, raw: &Value) -> Result<Value, String> {
    let hidden = d.hidden || crate::secrets::looks_secret(&d.name);
    let value = convert(d.param_type, raw, hidden)?;
    for c in &d.constraints {
        c.check(&value, d.param_type, hidden)?;
    }
    Ok(value)
}

/// Heat's conversion of a parameter value (a CLI string or a YAML default).
pub(crate) fn convert(t: ParamType, raw: &Value, hidden: bool) -> Result<Value, String> {
    let shown = || {
        if hidden {
            "the value".to_string()
        } else {
            format!("`{}`", py_str(raw))
        }
    };
    match t {
        ParamType::String => Ok(Value::String(py_str(raw))),
        ParamType::Number => match str_to_num(raw) {
            Some(n) => Ok(n),
            None => Err(format!("{} is not a number", shown())),
        },
        ParamType::Boolean => bool_from_string(&py_str(raw)).map(Value::Bool).ok_or_else(|| {
            format!("{} is not a boolean; use one of 1, 0, t, f, true, false, on, off, y, n, yes, no", shown())
        }),
        ParamType::CommaDelimitedList => match raw {
            Value::Array(items) => Ok(Value::Array(items.iter().map(|i| Value::String(py_str(i))).collect())),
            Value::String(s) if s.is_empty() => Ok(Value::Array(Vec::new())),
            // No trimming: Heat keeps the spaces around the commas.
            Value::String(s) => Ok(Value::Array(s.split(',').map(|p| Value::String(p.into())).collect())),
            _ => Err("value must be a comma-delimited list string".into()),
        },
        ParamType::Json => match raw {
            Value::String(s) if s.is_empty() => Ok(raw.clone()),
            Value::String(s) => serde_json::from_str(s).map_err(|e| format!("value must be valid JSON: {e}")),
            other => Ok(other.clone()),
        },
    }
}

/// `oslo_utils.strutils.bool_from_string(text, strict=True)`.
pub(crate) fn bool_from_string(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}
