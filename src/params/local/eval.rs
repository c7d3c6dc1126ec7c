//! The evaluator: walks an expression, calls intrinsic functions, and keeps
//! the per-run state (parameter values, resolved resources and conditions,
//! the generated-values store, warnings).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::LocalTemplate;
use super::error::{CloudNeed, Fail, LocalError, RefKind};
use super::functions;
use super::params::PSEUDO;
use super::pyvalue::py_int;
use super::random::GeneratedValues;
use super::resources::Resolved;
use super::val::Val;
use super::version::{FnStatus, Func};

/// A memo slot: `None` while being computed, to catch cycles.
pub(crate) type Slot<T> = Option<Result<T, Fail>>;

pub(crate) struct Evaluator<'t, 's> {
    pub t: &'t LocalTemplate,
    pub params: BTreeMap<String, Val>,
    pub store: &'s mut GeneratedValues,
    pub warnings: Vec<String>,
    pub conditions: HashMap<String, Slot<bool>>,
    pub resources: HashMap<String, Slot<Resolved>>,
    /// Names being resolved, outermost first, to report a cycle's path.
    pub stack: Vec<String>,
}

impl<'t, 's> Evaluator<'t, 's> {
    pub(crate) fn new(
        t: &'t LocalTemplate,
        params: BTreeMap<String, Val>,
        store: &'s mut GeneratedValues,
    ) -> Self {
        Evaluator {
            t,
            params,
            store,
            warnings: t.warnings.clone(),
            conditions: HashMap::new(),
            resources: HashMap::new(),
            stack: Vec::new(),
        }
    }

    pub(crate) fn fn_err(&self, at: &str, function: &str, message: impl Into<String>) -> Fail {
        LocalError::Function {
            template: self.t.name.clone(),
            at: at.into(),
            function: function.into(),
            message: message.into(),
        }
        .into()
    }

    pub(crate) fn invalid(&self, at: &str, message: impl Into<String>) -> Fail {
        LocalError::Invalid {
            template: self.t.name.clone(),
            at: at.into(),
            message: message.into(),
        }
        .into()
    }

    pub(crate) fn unknown(&self, at: &str, kind: RefKind, name: &str) -> Fail {
        let known = match kind {
            RefKind::Parameter => self.t.parameters.iter().map(|p| p.name.clone()).collect(),
            RefKind::Resource => self.t.resources.keys().cloned().collect(),
            RefKind::Condition => self.t.conditions.keys().cloned().collect(),
        };
        LocalError::UnknownReference {
            template: self.t.name.clone(),
            at: at.into(),
            kind,
            name: name.into(),
            known,
        }
        .into()
    }

    /// Evaluate a value expression.
    pub(crate) fn eval(&mut self, expr: &Value, at: &str) -> Result<Val, Fail> {
        match expr {
            Value::Object(m) if m.len() == 1 => {
                let (key, args) = m.iter().next().expect("one entry");
                match self.t.version.function(key) {
                    FnStatus::Available(f) => self.call(f, args, at),
                    _ => self.eval_map(m, at),
                }
            }
            Value::Object(m) => self.eval_map(m, at),
            Value::Array(items) => {
                let vals = all(items.iter().map(|i| self.eval(i, at)))?;
                let v = Value::Array(vals.iter().map(|x| x.v.clone()).collect());
                Ok(Val::derived(v, &vals))
            }
            other => Ok(Val::plain(other.clone())),
        }
    }

    fn eval_map(&mut self, m: &Map<String, Value>, at: &str) -> Result<Val, Fail> {
        let vals = all(m.values().map(|v| self.eval(v, at)))?;
        let out: Map<String, Value> = m
            .keys()
            .cloned()
            .zip(vals.iter().map(|x| x.v.clone()))
            .collect();
        Ok(Val::derived(Value::Object(out), &vals))
    }

    fn call(&mut self, f: Func, args: &Value, at: &str) -> Result<Val, Fail> {
        if f == Func::If {
            return self.fn_if(args, at);
        }
        let a = self.eval(args, at)?;
        match f {
            Func::GetParam => self.get_param(&a, at),
            Func::GetResource => self.get_resource(&a, at),
            Func::GetAttr => self.get_attr(&a, at),
            Func::GetFile => Err(self.fn_err(
                at,
                f.name(),
                "needs the files sent along with the template to Heat; not available locally",
            )),
            Func::ResourceFacade => {
                Err(self.fn_err(at, f.name(), "only works in the template of a nested stack"))
            }
            Func::Yaql => {
                Err(self.fn_err(at, f.name(), "yaql expressions cannot be evaluated locally"))
            }
            _ => functions::apply(f, &a, self.t.version).map_err(|m| self.fn_err(at, f.name(), m)),
        }
    }

    fn fn_if(&mut self, args: &Value, at: &str) -> Result<Val, Fail> {
        let Value::Array(items) = args else {
            return Err(self.fn_err(
                at,
                "if",
                "arguments must be [condition, value_if_true, value_if_false]",
            ));
        };
        let [cond, yes, no] = items.as_slice() else {
            return Err(self.fn_err(
                at,
                "if",
                "arguments must be [condition, value_if_true, value_if_false]",
            ));
        };
        // Only the chosen branch is evaluated, as in Heat: the other may name
        // a resource that the same condition disables.
        if self.condition_arg(cond, at)? {
            self.eval(yes, at)
        } else {
            self.eval(no, at)
        }
    }

    pub(crate) fn get_param(&mut self, a: &Val, at: &str) -> Result<Val, Fail> {
        let (name, path) = match &a.v {
            Value::String(s) if !s.is_empty() => (s.as_str(), &[][..]),
            Value::Array(items) if !items.is_empty() => match &items[0] {
                Value::String(s) => (s.as_str(), &items[1..]),
                _ => {
                    return Err(self.fn_err(
                        at,
                        "get_param",
                        "the parameter name must be a string",
                    ));
                }
            },
            Value::Null | Value::String(_) | Value::Array(_) => {
                return Err(self.fn_err(at, "get_param", "needs a parameter name"));
            }
            _ => {
                return Err(self.fn_err(
                    at,
                    "get_param",
                    "argument must be a parameter name or a list",
                ));
            }
        };
        if PSEUDO.contains(&name) {
            return Err(Fail::Cloud(vec![CloudNeed::PseudoParameter {
                name: name.into(),
            }]));
        }
        let Some(p) = self.params.get(name) else {
            return Err(self.unknown(at, RefKind::Parameter, name));
        };
        // Heat answers "" for a path that does not lead anywhere.
        let v = select(&p.v, path, true).unwrap_or_else(|| Value::String(String::new()));
        Ok(Val {
            v,
            secret: p.secret || a.secret,
        })
    }

    fn get_resource(&mut self, a: &Val, at: &str) -> Result<Val, Fail> {
        let Value::String(name) = &a.v else {
            return Err(self.fn_err(at, "get_resource", "argument must be a resource name"));
        };
        if !self.t.resources.contains_key(name) {
            return Err(self.unknown(at, RefKind::Resource, name));
        }
        let resolved = self.resource(name)?;
        self.reference(name, &resolved)
    }

    fn get_attr(&mut self, a: &Val, at: &str) -> Result<Val, Fail> {
        let Some(items) = a.v.as_array().filter(|i| !i.is_empty()) else {
            return Err(self.fn_err(
                at,
                "get_attr",
                "arguments must be [resource_name, attribute, (path), ...]",
            ));
        };
        let Value::String(name) = &items[0] else {
            return Err(self.fn_err(at, "get_attr", "the resource name must be a string"));
        };
        let attr = match items.get(1) {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                return Err(self.fn_err(at, "get_attr", "the attribute name must be a string"));
            }
        };
        if !self.t.resources.contains_key(name) {
            return Err(self.unknown(at, RefKind::Resource, name));
        }
        let resolved = self.resource(name)?;
        let path = items.get(2..).unwrap_or_default();
        let mut v = self.attribute(name, &resolved, attr, path, at)?;
        v.secret |= a.secret;
        Ok(v)
    }
}

/// Evaluate every item, collecting what each needs from a cloud so one
/// report can list all of it; a real error stops at once.
pub(crate) fn all(results: impl Iterator<Item = Result<Val, Fail>>) -> Result<Vec<Val>, Fail> {
    let mut vals = Vec::new();
    let mut needs: Vec<CloudNeed> = Vec::new();
    for r in results {
        match r {
            Ok(v) => vals.push(v),
            Err(Fail::Cloud(n)) => needs.extend(n),
            Err(e) => return Err(e),
        }
    }
    if needs.is_empty() {
        Ok(vals)
    } else {
        needs.sort();
        needs.dedup();
        Err(Fail::Cloud(needs))
    }
}

/// Follow a path of keys and indexes into a value, as Heat's `get_param`
/// (`index_strings`: list indexes may be given as text) and `get_attr` do.
/// Python semantics: negative indexes count from the end, a string is a
/// sequence of characters, a wrong step yields nothing.
pub(crate) fn select(value: &Value, path: &[Value], index_strings: bool) -> Option<Value> {
    let mut cur = value.clone();
    for key in path {
        let index = |len: usize| -> Option<usize> {
            let i = match key {
                Value::Number(n) => n.as_i64()?,
                Value::Bool(b) => i64::from(*b),
                Value::String(s) if index_strings => py_int(s)?,
                _ => return None,
            };
            let i = if i < 0 { len as i64 + i } else { i };
            (0..len as i64).contains(&i).then_some(i as usize)
        };
        cur = match &cur {
            Value::Object(m) => m.get(key.as_str()?)?.clone(),
            Value::Array(items) => items[index(items.len())?].clone(),
            Value::String(s) => {
                let chars: Vec<char> = s.chars().collect();
                Value::String(chars[index(chars.len())?].to_string())
            }
            _ => return None,
        };
    }
    Some(cur)
}
