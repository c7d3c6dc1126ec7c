//! Conditions: the `conditions` section, `condition:` of resources and
//! outputs, and the first argument of `if`, evaluated as Heat does (named
//! conditions resolved once; `and`/`or` evaluate every argument).

use serde_json::Value;

use super::error::{Fail, LocalError, MAX_CHAIN, RefKind};
use super::eval::Evaluator;
use super::pyvalue::py_eq;
use super::val::Val;
use super::version::{CondFn, FnStatus};

impl Evaluator<'_, '_> {
    /// A place that takes a condition: a condition name, a boolean, or an
    /// inline condition function.
    pub(crate) fn condition_arg(&mut self, expr: &Value, at: &str) -> Result<bool, Fail> {
        match expr {
            Value::Bool(b) => Ok(*b),
            Value::String(name) => self.named_condition(name, at),
            Value::Object(_) => {
                let v = self.cond_value(expr, at)?;
                self.as_condition(&v, at)
            }
            other => Err(self.invalid(at, format!("invalid condition `{other}`"))),
        }
    }

    /// Heat's `is_enabled`: a boolean stands for itself, a string names a condition.
    fn as_condition(&mut self, v: &Value, at: &str) -> Result<bool, Fail> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(name) => self.named_condition(name, at),
            other => Err(self.invalid(at, format!("invalid condition `{other}`"))),
        }
    }

    pub(crate) fn named_condition(&mut self, name: &str, at: &str) -> Result<bool, Fail> {
        let Some(def) = self.t.conditions.get(name) else {
            return Err(self.unknown(at, RefKind::Condition, name));
        };
        match self.conditions.get(name) {
            Some(Some(done)) => return done.clone(),
            Some(None) => return Err(self.cycle("conditions", name)),
            None => {}
        }
        self.deep_enough("conditions", name)?;
        self.conditions.insert(name.to_string(), None);
        self.stack.push(name.to_string());
        let here = format!("condition `{name}`");
        let result = self.cond_value(def, &here).and_then(|v| match v {
            Value::Bool(b) => Ok(b),
            other => Err(self.invalid(
                &here,
                format!("the definition must evaluate to a boolean, not `{other}`"),
            )),
        });
        self.stack.pop();
        self.conditions
            .insert(name.to_string(), Some(result.clone()));
        result
    }

    /// Refuses to resolve `name` one level deeper than [`MAX_CHAIN`]: each level is a
    /// frame of the evaluator's recursion, and a long enough chain of resources (or
    /// conditions) each referring to the next would otherwise overflow the stack.
    pub(crate) fn deep_enough(&self, kind: &'static str, name: &str) -> Result<(), Fail> {
        if self.stack.len() < MAX_CHAIN {
            return Ok(());
        }
        Err(LocalError::TooDeep {
            template: self.t.name.clone(),
            kind,
            first: self.stack.first().cloned().unwrap_or_default(),
            last: name.to_string(),
        }
        .into())
    }

    pub(crate) fn cycle(&self, kind: &'static str, name: &str) -> Fail {
        let start = self.stack.iter().position(|n| n == name).unwrap_or(0);
        let mut chain: Vec<String> = self.stack[start..].to_vec();
        chain.push(name.to_string());
        LocalError::Cycle {
            template: self.t.name.clone(),
            kind,
            chain,
        }
        .into()
    }

    /// Resolve an expression where only condition functions are functions.
    fn cond_value(&mut self, expr: &Value, at: &str) -> Result<Value, Fail> {
        match expr {
            Value::Object(m) if m.len() == 1 => {
                let (key, args) = m.iter().next().expect("one entry");
                if let Some(f) = self.t.version.condition_function(key) {
                    return self.cond_fn(f, key, args, at);
                }
                if let FnStatus::Available(_) = self.t.version.function(key) {
                    return Err(self.fn_err(at, key, "cannot be used in a condition"));
                }
                Ok(Value::Object(m.clone()))
            }
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    out.insert(k.clone(), self.cond_value(v, at)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => Ok(Value::Array(
                items
                    .iter()
                    .map(|i| self.cond_value(i, at))
                    .collect::<Result<_, _>>()?,
            )),
            other => Ok(other.clone()),
        }
    }

    fn cond_fn(&mut self, f: CondFn, name: &str, args: &Value, at: &str) -> Result<Value, Fail> {
        let pair = |this: &Self| -> Result<(Value, Value), Fail> {
            match args.as_array().map(Vec::as_slice) {
                Some([a, b]) => Ok((a.clone(), b.clone())),
                _ => Err(this.fn_err(at, name, "arguments must be a list of two values")),
            }
        };
        match f {
            CondFn::GetParam => {
                let a = self.cond_value(args, at)?;
                Ok(self.get_param(&Val::plain(a), at)?.v)
            }
            CondFn::Equals => {
                let (a, b) = pair(self)?;
                let (a, b) = (self.cond_value(&a, at)?, self.cond_value(&b, at)?);
                Ok(Value::Bool(py_eq(&a, &b)))
            }
            CondFn::Not => {
                let v = self.cond_value(args, at)?;
                Ok(Value::Bool(!self.as_condition(&v, at)?))
            }
            CondFn::And | CondFn::Or => {
                let items = match args.as_array() {
                    Some(items) if items.len() >= 2 => items,
                    _ => {
                        return Err(self.fn_err(
                            at,
                            name,
                            "arguments must be a list of at least two conditions",
                        ));
                    }
                };
                // Heat resolves every argument before combining them.
                let mut bools = Vec::new();
                for item in items {
                    let v = self.cond_value(item, at)?;
                    bools.push(self.as_condition(&v, at)?);
                }
                let and = f == CondFn::And;
                Ok(Value::Bool(if and {
                    bools.iter().all(|b| *b)
                } else {
                    bools.iter().any(|b| *b)
                }))
            }
            CondFn::Contains => {
                let (a, b) = pair(self)?;
                let (value, seq) = (self.cond_value(&a, at)?, self.cond_value(&b, at)?);
                super::functions::contains(&value, &seq)
                    .map(Value::Bool)
                    .map_err(|m| self.fn_err(at, name, m))
            }
            CondFn::Yaql => {
                Err(self.fn_err(at, name, "yaql expressions cannot be evaluated locally"))
            }
        }
    }
}
