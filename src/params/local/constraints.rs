//! Parameter constraints (`length`, `range`, `modulo`, `allowed_values`,
//! `allowed_pattern`, `custom_constraint`), checked the way Heat checks them.

use std::fmt;
use std::sync::Arc;

use serde_json::{Number, Value};

use super::params::{ParamType, bool_from_string};
use super::pattern::Pattern;
use super::pyvalue::{number_str, py_eq, py_int, py_str, str_to_num};
use super::version::Version;

/// One constraint of a stack parameter.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub rule: Rule,
    /// Shown instead of the default message when the value breaks the rule.
    pub description: Option<String>,
    /// For `allowed_pattern`: `None` when it uses syntax we cannot check.
    pub(crate) compiled: Option<Arc<Pattern>>,
}

#[derive(Debug, Clone)]
pub enum Rule {
    Length {
        min: Option<i64>,
        max: Option<i64>,
    },
    Range {
        min: Option<Number>,
        max: Option<Number>,
    },
    Modulo {
        step: i64,
        offset: i64,
    },
    AllowedValues(Vec<Value>),
    AllowedPattern(String),
    /// Checked by a cloud service (e.g. `nova.flavor`); not checked locally.
    Custom(String),
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound = |n: &Option<Number>| n.as_ref().map(number_str);
        let range = |what: &str, min: Option<String>, max: Option<String>| match (min, max) {
            (Some(lo), None) => format!("the {what} must be at least {lo}"),
            (None, Some(hi)) => format!("the {what} must be no greater than {hi}"),
            (lo, hi) => format!(
                "the {what} must be in the range {} to {}",
                lo.unwrap_or_default(),
                hi.unwrap_or_default()
            ),
        };
        let text = match &self.rule {
            Rule::Length { min, max } => range(
                "length",
                min.map(|n| n.to_string()),
                max.map(|n| n.to_string()),
            ),
            Rule::Range { min, max } => range("value", bound(min), bound(max)),
            Rule::Modulo { step, offset } => {
                format!("the value must be a multiple of {step} with an offset of {offset}")
            }
            Rule::AllowedValues(vs) => format!(
                "allowed values: {}",
                vs.iter().map(py_str).collect::<Vec<_>>().join(", ")
            ),
            Rule::AllowedPattern(pattern) => format!("value must match pattern: {pattern}"),
            Rule::Custom(name) => format!("value must be of type {name}"),
        };
        f.write_str(&text)
    }
}

/// Parse the `constraints` list of parameter `name`; returns the constraints
/// and warnings about those that cannot be checked locally.
pub(crate) fn parse(
    name: &str,
    section: &Value,
    ptype: ParamType,
    version: Version,
) -> Result<(Vec<Constraint>, Vec<String>), String> {
    let Value::Array(items) = section else {
        return Err("`constraints` must be a list".into());
    };
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for item in items {
        let c = parse_one(item, version)?;
        if !valid_for(&c.rule, ptype) {
            return Err(format!(
                "`{}` constraint is not valid for a {ptype} parameter",
                rule_key(&c.rule)
            ));
        }
        match &c.rule {
            Rule::Custom(kind) => warnings.push(format!(
                "constraint `{kind}` of stack parameter `{name}` needs a cloud to check; not checked locally"
            )),
            Rule::AllowedPattern(pattern) if c.compiled.is_none() => warnings.push(format!(
                "`allowed_pattern` `{pattern}` of stack parameter `{name}` uses regular-expression syntax not supported locally; not checked"
            )),
            _ => {}
        }
        out.push(c);
    }
    Ok((out, warnings))
}

fn parse_one(item: &Value, version: Version) -> Result<Constraint, String> {
    let Value::Object(map) = item else {
        return Err("each constraint must be a map".into());
    };
    let mut keys = vec![
        "description",
        "length",
        "range",
        "allowed_values",
        "allowed_pattern",
        "custom_constraint",
    ];
    if version >= Version::Ocata {
        keys.push("modulo");
    }
    if let Some(bad) = map.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(format!("unknown constraint key `{bad}`"));
    }
    let description = map.get("description").map(py_str);
    let mut compiled = None;
    let rule = if let Some(d) = map.get("range") {
        let (min, max) = bounds(d, "range")?;
        let num = |v: Option<&Value>| -> Result<Option<Number>, String> {
            match v.map(|v| str_to_num(v).ok_or("`range` bounds must be numbers")) {
                Some(Ok(Value::Number(n))) => Ok(Some(n)),
                Some(Ok(_)) => Err("`range` bounds must be numbers".into()),
                Some(Err(e)) => Err(e.into()),
                None => Ok(None),
            }
        };
        Rule::Range {
            min: num(min)?,
            max: num(max)?,
        }
    } else if let Some(d) = map.get("length") {
        let (min, max) = bounds(d, "length")?;
        let int = |v: Option<&Value>| {
            v.map(|v| as_int(v).ok_or("`length` bounds must be integers"))
                .transpose()
        };
        Rule::Length {
            min: int(min)?,
            max: int(max)?,
        }
    } else if let Some(Value::Array(vs)) = map.get("allowed_values") {
        Rule::AllowedValues(vs.clone())
    } else if map.contains_key("allowed_values") {
        return Err("`allowed_values` must be a list".into());
    } else if let Some(p) = map.get("allowed_pattern") {
        let Value::String(pattern) = p else {
            return Err("`allowed_pattern` must be a string".into());
        };
        compiled = Pattern::compile(pattern).ok().map(Arc::new);
        Rule::AllowedPattern(pattern.clone())
    } else if let Some(c) = map.get("custom_constraint") {
        Rule::Custom(py_str(c))
    } else if let Some(d) = map.get("modulo") {
        modulo(d)?
    } else {
        return Err("no constraint expressed".into());
    };
    Ok(Constraint {
        rule,
        description,
        compiled,
    })
}

fn bounds<'v>(d: &'v Value, what: &str) -> Result<(Option<&'v Value>, Option<&'v Value>), String> {
    let Value::Object(m) = d else {
        return Err(format!("`{what}` must be a map with `min` and/or `max`"));
    };
    if let Some(bad) = m.keys().find(|k| *k != "min" && *k != "max") {
        return Err(format!("invalid key `{bad}` in `{what}`"));
    }
    let (min, max) = (
        m.get("min").filter(|v| !v.is_null()),
        m.get("max").filter(|v| !v.is_null()),
    );
    if min.is_none() && max.is_none() {
        return Err(format!(
            "a `{what}` constraint must have a `min` and/or a `max`"
        ));
    }
    Ok((min, max))
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => py_int(s),
        _ => None,
    }
}

fn modulo(d: &Value) -> Result<Rule, String> {
    let Value::Object(m) = d else {
        return Err("`modulo` must be a map with `step` and `offset`".into());
    };
    let (Some(step), Some(offset)) = (
        m.get("step").and_then(as_int),
        m.get("offset").and_then(as_int),
    ) else {
        return Err("a `modulo` constraint must have integer `step` and `offset`".into());
    };
    if step == 0 {
        return Err("`modulo` step cannot be 0".into());
    }
    if offset.abs() >= step.abs() || step * offset < 0 {
        return Err("`modulo` offset must be smaller than step and of the same sign".into());
    }
    Ok(Rule::Modulo { step, offset })
}

fn rule_key(rule: &Rule) -> &'static str {
    match rule {
        Rule::Length { .. } => "length",
        Rule::Range { .. } => "range",
        Rule::Modulo { .. } => "modulo",
        Rule::AllowedValues(_) => "allowed_values",
        Rule::AllowedPattern(_) => "allowed_pattern",
        Rule::Custom(_) => "custom_constraint",
    }
}

fn valid_for(rule: &Rule, t: ParamType) -> bool {
    use ParamType::*;
    match rule {
        Rule::Range { .. } | Rule::Modulo { .. } => t == Number,
        Rule::Length { .. } => matches!(t, String | CommaDelimitedList | Json),
        Rule::AllowedValues(_) | Rule::Custom(_) => t != Json,
        Rule::AllowedPattern(_) => t == String,
    }
}

impl Constraint {
    /// Check a converted parameter value; the error never shows a hidden value.
    pub(crate) fn check(
        &self,
        value: &Value,
        ptype: ParamType,
        hidden: bool,
    ) -> Result<(), String> {
        match self.broken(value, ptype, hidden) {
            None => Ok(()),
            Some(_) if self.description.is_some() => {
                Err(self.description.clone().unwrap_or_default())
            }
            Some(message) => Err(message),
        }
    }

    /// The default message when `value` breaks the rule.
    // Long because it is one flat match, an arm per kind of Heat constraint, each arm the
    // check and Heat's own wording: split, the wording would be far from its check.
    fn broken(&self, value: &Value, ptype: ParamType, hidden: bool) -> Option<String> {
        let shown = |v: &Value| {
            if hidden {
                "the value".to_string()
            } else {
                py_str(v)
            }
        };
        let none = |n: Option<String>| n.unwrap_or_else(|| "None".into());
        match &self.rule {
            Rule::Length { min, max } => {
                let n = match value {
                    Value::String(s) => s.chars().count(),
                    Value::Array(a) => a.len(),
                    Value::Object(m) => m.len(),
                    _ => return Some("the value has no length".into()),
                } as i64;
                let ok = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
                (!ok).then(|| {
                    format!(
                        "length ({n}) is out of range (min: {}, max: {})",
                        none(min.map(|m| m.to_string())),
                        none(max.map(|m| m.to_string()))
                    )
                })
            }
            Rule::Range { min, max } => {
                let x = value.as_f64().unwrap_or(f64::NAN);
                let ok = min
                    .as_ref()
                    .is_none_or(|m| x >= m.as_f64().unwrap_or(f64::NAN))
                    && max
                        .as_ref()
                        .is_none_or(|m| x <= m.as_f64().unwrap_or(f64::NAN));
                let bound = |b: &Option<Number>| none(b.as_ref().map(number_str));
                (!ok).then(|| {
                    format!(
                        "{} is out of range (min: {}, max: {})",
                        shown(value),
                        bound(min),
                        bound(max)
                    )
                })
            }
            Rule::Modulo { step, offset } => {
                let x = value.as_f64().unwrap_or(f64::NAN);
                let s = *step as f64;
                let ok = ((x % s) + s) % s == *offset as f64;
                (!ok).then(|| {
                    format!(
                        "{} is not a multiple of {step} with an offset of {offset}",
                        shown(value)
                    )
                })
            }
            Rule::AllowedValues(allowed) => {
                let ok = match value {
                    Value::Array(items) => {
                        items.iter().all(|i| allowed.iter().any(|a| py_eq(i, a)))
                    }
                    _ => allowed.iter().any(|a| same_as_schema_type(a, value, ptype)),
                };
                let list = allowed.iter().map(py_str).collect::<Vec<_>>().join(", ");
                (!ok).then(|| format!("\"{}\" is not an allowed value [{list}]", shown(value)))
            }
            Rule::AllowedPattern(pattern) => {
                let p = self.compiled.as_ref()?;
                let ok = p.full_match(value.as_str().unwrap_or_default());
                match ok {
                    Some(true) => None,
                    Some(false) => Some(format!(
                        "\"{}\" does not match pattern \"{pattern}\"",
                        shown(value)
                    )),
                    None => Some(format!(
                        "pattern \"{pattern}\" is too costly to check locally"
                    )),
                }
            }
            Rule::Custom(_) => None,
        }
    }
}

/// Heat compares `allowed_values` after converting both sides to the
/// parameter's type: `"1"` is allowed by `[1]` for a number parameter.
fn same_as_schema_type(allowed: &Value, value: &Value, ptype: ParamType) -> bool {
    match ptype {
        ParamType::Number => match (str_to_num(allowed), str_to_num(value)) {
            (Some(a), Some(v)) => py_eq(&a, &v),
            _ => false,
        },
        ParamType::Boolean => {
            let (a, v) = (
                bool_from_string(&py_str(allowed)),
                bool_from_string(&py_str(value)),
            );
            a.is_some() && a == v
        }
        _ => py_str(allowed) == py_str(value),
    }
}
