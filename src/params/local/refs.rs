//! Static walk over a template's expressions: which parameters, resources and
//! conditions they name. Used to reject dangling references and misspelt
//! functions before evaluating anything, to find the RandomStrings behind a
//! value, and to find the parameters that switch a resource off.

use serde_json::Value;

use super::LocalTemplate;
use super::error::{LocalError, RefKind};
use super::params::PSEUDO;
use super::version::{CondFn, FnStatus, Func, Version, looks_like_function};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ref {
    pub kind: RefKind,
    pub name: String,
}

/// The references in `expr`, which is a value expression or (when
/// `condition` is set) a condition expression.
pub(crate) fn collect(expr: &Value, version: Version, condition: bool) -> Result<Vec<Ref>, String> {
    let mut out = Vec::new();
    walk(expr, version, condition, &mut out)?;
    Ok(out)
}

fn push(out: &mut Vec<Ref>, kind: RefKind, name: &str) {
    out.push(Ref {
        kind,
        name: name.to_string(),
    });
}

fn walk(expr: &Value, version: Version, condition: bool, out: &mut Vec<Ref>) -> Result<(), String> {
    match expr {
        Value::Object(m) if m.len() == 1 => {
            let (key, args) = m.iter().next().expect("one entry");
            if condition && let Some(f) = version.condition_function(key) {
                return walk_condition_fn(f, args, version, out);
            }
            match version.function(key) {
                FnStatus::Available(_) if condition => {
                    Err(format!("`{key}` cannot be used in a condition"))
                }
                FnStatus::Available(f) => walk_fn(f, args, version, out),
                FnStatus::Later(v) => Err(format!(
                    "`{key}` needs `heat_template_version` {v} or later"
                )),
                FnStatus::Removed => Err(format!("the function `{key}` is not supported in HOT")),
                FnStatus::NotAFunction if looks_like_function(key) => {
                    Err(format!("unknown function `{key}`"))
                }
                FnStatus::NotAFunction => walk(args, version, condition, out),
            }
        }
        Value::Object(m) => m
            .values()
            .try_for_each(|v| walk(v, version, condition, out)),
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| walk(v, version, condition, out)),
        _ => Ok(()),
    }
}

fn walk_fn(f: Func, args: &Value, version: Version, out: &mut Vec<Ref>) -> Result<(), String> {
    match (f, args) {
        (Func::GetParam, _) => param_ref(args, out),
        (Func::GetResource, Value::String(name)) => push(out, RefKind::Resource, name),
        (Func::GetAttr, Value::Array(items)) => {
            if let Some(Value::String(name)) = items.first() {
                push(out, RefKind::Resource, name);
            }
        }
        (Func::If, Value::Array(items)) if !items.is_empty() => {
            condition_ref(&items[0], version, out)?;
            return items[1..]
                .iter()
                .try_for_each(|v| walk(v, version, false, out));
        }
        _ => {}
    }
    walk(args, version, false, out)
}

fn walk_condition_fn(
    f: CondFn,
    args: &Value,
    version: Version,
    out: &mut Vec<Ref>,
) -> Result<(), String> {
    match (f, args) {
        (CondFn::GetParam, _) => param_ref(args, out),
        (CondFn::Not, _) => return condition_ref(args, version, out),
        (CondFn::And | CondFn::Or, Value::Array(items)) => {
            return items
                .iter()
                .try_for_each(|i| condition_ref(i, version, out));
        }
        _ => {}
    }
    walk(args, version, true, out)
}

/// A place that takes a condition: a name, a boolean, or a condition function.
pub(crate) fn condition_ref(
    expr: &Value,
    version: Version,
    out: &mut Vec<Ref>,
) -> Result<(), String> {
    match expr {
        Value::String(name) => {
            push(out, RefKind::Condition, name);
            Ok(())
        }
        other => walk(other, version, true, out),
    }
}

fn param_ref(args: &Value, out: &mut Vec<Ref>) {
    let name = match args {
        Value::String(n) => Some(n.as_str()),
        Value::Array(items) => items.first().and_then(Value::as_str),
        _ => None,
    };
    if let Some(n) = name {
        push(out, RefKind::Parameter, n);
    }
}

/// Check every reference and function name in the template.
pub(crate) fn check(t: &LocalTemplate) -> Result<(), LocalError> {
    let params: Names = t.parameters.iter().map(|p| p.name.as_str()).collect();
    let invalid = |at: &str, message: String| LocalError::Invalid {
        template: t.name.clone(),
        at: at.into(),
        message,
    };
    for (name, def) in &t.conditions {
        let at = format!("condition `{name}`");
        let shape_ok = matches!(def, Value::Bool(_))
            || matches!(def, Value::Object(m) if m.len() == 1 && m.keys().all(|k| t.version.condition_function(k).is_some()));
        if !shape_ok {
            return Err(invalid(
                &at,
                "the definition must be a boolean or a condition function".into(),
            ));
        }
        let refs = collect(def, t.version, true).map_err(|m| invalid(&at, m))?;
        verify(t, &params, &at, &refs)?;
    }
    for (name, r) in &t.resources {
        let at = format!("resource `{name}`");
        let mut refs = match &r.properties {
            Some(p) => collect(p, t.version, false).map_err(|m| invalid(&at, m))?,
            None => Vec::new(),
        };
        if let Some(c) = &r.condition {
            condition_ref(c, t.version, &mut refs).map_err(|m| invalid(&at, m))?;
        }
        refs.extend(r.depends_on.iter().map(|d| Ref {
            kind: RefKind::Resource,
            name: d.clone(),
        }));
        verify(t, &params, &at, &refs)?;
    }
    for o in &t.outputs {
        let at = format!("output `{}`", o.name);
        let mut refs = collect(&o.value, t.version, false).map_err(|m| invalid(&at, m))?;
        if let Some(c) = &o.condition {
            condition_ref(c, t.version, &mut refs).map_err(|m| invalid(&at, m))?;
        }
        verify(t, &params, &at, &refs)?;
    }
    Ok(())
}

/// Each reference names something the template declares. A lookup per reference (the
/// list of known names is made only for the error): a template of N resources each
/// naming the next is checked in N steps, not N * N.
fn verify(t: &LocalTemplate, params: &Names, at: &str, refs: &[Ref]) -> Result<(), LocalError> {
    for r in refs {
        let known = match r.kind {
            RefKind::Parameter => PSEUDO.contains(&r.name.as_str()) || params.contains(&*r.name),
            RefKind::Resource => t.resources.contains_key(&r.name),
            RefKind::Condition => t.conditions.contains_key(&r.name),
        };
        if !known {
            return Err(LocalError::UnknownReference {
                template: t.name.clone(),
                at: at.into(),
                kind: r.kind,
                name: r.name.clone(),
                known: known_names(t, r.kind),
            });
        }
    }
    Ok(())
}

/// The declared parameters' names, looked up once per reference.
type Names<'a> = std::collections::HashSet<&'a str>;

fn known_names(t: &LocalTemplate, kind: RefKind) -> Vec<String> {
    match kind {
        RefKind::Parameter => t.parameters.iter().map(|p| p.name.clone()).collect(),
        RefKind::Resource => t.resources.keys().cloned().collect(),
        RefKind::Condition => t.conditions.keys().cloned().collect(),
    }
}

/// Stack parameters read by a condition expression, following named conditions.
pub(crate) fn condition_params(t: &LocalTemplate, expr: &Value) -> Vec<String> {
    let mut params = Vec::new();
    let mut seen = Vec::new();
    let mut todo = vec![expr.clone()];
    while let Some(e) = todo.pop() {
        let mut refs = Vec::new();
        if condition_ref(&e, t.version, &mut refs).is_err() {
            continue;
        }
        for r in refs {
            match r.kind {
                RefKind::Parameter if !params.contains(&r.name) => params.push(r.name),
                RefKind::Condition if !seen.contains(&r.name) => {
                    if let Some(def) = t.conditions.get(&r.name) {
                        todo.push(def.clone());
                    }
                    seen.push(r.name);
                }
                _ => {}
            }
        }
    }
    params.sort();
    params
}
