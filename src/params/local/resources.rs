//! Resources: which exist (their `condition`), what the locally evaluable
//! types produce, and what `get_resource` / `get_attr` give for each.

use serde_json::{Map, Value, json};

use super::error::{CloudNeed, Fail};
use super::eval::{Evaluator, select};
use super::pyvalue::{py_str, str_to_num};
use super::random::RandomSpec;
use super::refs;
use super::template::ResourceDef;
use super::val::Val;

/// A resource after local evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    /// Its condition is false: it does not exist, references give null.
    Disabled,
    /// `OS::Heat::RandomString` and its value.
    Random(String),
    /// `OS::Heat::Value` and its (typed) value.
    Value(Val),
    /// `OS::Heat::None`.
    Nothing,
    /// `OS::Heat::ResourceGroup` of locally evaluable members, by index.
    Group(Vec<Resolved>),
    /// Anything else: only a cloud can create it.
    Cloud(CloudNeed),
}

impl Evaluator<'_, '_> {
    /// Resolve a resource once per run (memoised, cycles reported).
    pub(crate) fn resource(&mut self, name: &str) -> Result<Resolved, Fail> {
        match self.resources.get(name) {
            Some(Some(done)) => return done.clone(),
            Some(None) => return Err(self.cycle("resources", name)),
            None => {}
        }
        self.deep_enough("resources", name)?;
        self.resources.insert(name.to_string(), None);
        self.stack.push(name.to_string());
        let result = self.resolve_resource(name);
        self.stack.pop();
        self.resources
            .insert(name.to_string(), Some(result.clone()));
        result
    }

    fn resolve_resource(&mut self, name: &str) -> Result<Resolved, Fail> {
        let t = self.t;
        let def = &t.resources[name];
        let at = format!("resource `{name}`");
        if let Some(c) = &def.condition
            && !self.condition_arg(c, &at)?
        {
            return Ok(Resolved::Disabled);
        }
        match def.rtype.as_str() {
            // Heat never reads the properties of OS::Heat::None.
            "OS::Heat::None" => Ok(Resolved::Nothing),
            "OS::Heat::RandomString" => match self.properties(def, &at) {
                Ok(props) => self.random(name, &props, &at),
                // Without a cloud the properties may be out of reach, but a
                // value generated earlier is still this resource's value.
                Err(Fail::Cloud(needs)) => self
                    .store
                    .stored(name)
                    .map(Resolved::Random)
                    .ok_or(Fail::Cloud(needs)),
                Err(e) => Err(e),
            },
            "OS::Heat::Value" => {
                let props = self.properties(def, &at)?;
                self.value_resource(&props, &at)
            }
            "OS::Heat::ResourceGroup" => {
                let props = self.properties(def, &at)?;
                self.group(name, &props, &at)
            }
            other => Ok(Resolved::Cloud(CloudNeed::Resource {
                name: name.to_string(),
                resource_type: other.to_string(),
                condition_params: def
                    .condition
                    .as_ref()
                    .map(|c| refs::condition_params(t, c))
                    .unwrap_or_default(),
            })),
        }
    }

    /// The evaluated `properties` of a resource, which must be a map.
    fn properties(&mut self, def: &ResourceDef, at: &str) -> Result<Val, Fail> {
        let Some(expr) = &def.properties else {
            return Ok(Val::plain(json!({})));
        };
        let props = self.eval(expr, at)?;
        match props.v {
            Value::Object(_) => Ok(props),
            _ => Err(self.invalid(at, "`properties` must be a map")),
        }
    }

    /// A RandomString's value from its evaluated properties; stored under `key`.
    pub(crate) fn random(&mut self, key: &str, props: &Val, at: &str) -> Result<Resolved, Fail> {
        let map = props.v.as_object().cloned().unwrap_or_default();
        let spec = RandomSpec::from_properties(&map).map_err(|m| self.invalid(at, m))?;
        Ok(Resolved::Random(self.store.obtain(
            key,
            &spec,
            &mut self.warnings,
        )))
    }

    /// `OS::Heat::Value`: the `value` property, converted to `type` if given.
    pub(crate) fn value_resource(&mut self, props: &Val, at: &str) -> Result<Resolved, Fail> {
        let map = props.v.as_object().cloned().unwrap_or_default();
        if let Some(bad) = map.keys().find(|k| *k != "value" && *k != "type") {
            return Err(self.invalid(at, format!("unknown property `{bad}`")));
        }
        let Some(value) = map.get("value") else {
            return Err(self.invalid(at, "property `value` is required"));
        };
        let typed = match map.get("type").filter(|t| !t.is_null()) {
            None => Ok(value.clone()),
            Some(t) => typed_value(value, &py_str(t)),
        };
        let v = typed.map_err(|m| self.invalid(at, m))?;
        Ok(Resolved::Value(Val {
            v,
            secret: props.secret,
        }))
    }

    /// What `get_resource` gives.
    pub(crate) fn reference(&self, name: &str, r: &Resolved) -> Result<Val, Fail> {
        let id_only = |rtype: &str| {
            Fail::Cloud(vec![CloudNeed::ResourceId {
                name: name.into(),
                resource_type: rtype.into(),
            }])
        };
        match r {
            Resolved::Disabled => Ok(Val::null()),
            Resolved::Random(v) => Ok(Val::secret(Value::String(v.clone()))),
            Resolved::Value(_) => Err(id_only("OS::Heat::Value")),
            Resolved::Nothing => Err(id_only("OS::Heat::None")),
            Resolved::Group(_) => Err(id_only("OS::Heat::ResourceGroup")),
            Resolved::Cloud(need) => Err(Fail::Cloud(vec![need.clone()])),
        }
    }

    /// What `get_attr` gives; `attr` is `None` for "all attributes".
    pub(crate) fn attribute(
        &mut self,
        name: &str,
        r: &Resolved,
        attr: Option<&str>,
        path: &[Value],
        at: &str,
    ) -> Result<Val, Fail> {
        let (value, rtype) = match r {
            Resolved::Disabled | Resolved::Nothing => return Ok(Val::null()),
            Resolved::Cloud(need) => return Err(Fail::Cloud(vec![need.clone()])),
            Resolved::Group(members) => return self.group_attribute(name, members, attr, path, at),
            Resolved::Random(v) => (
                Val::secret(Value::String(v.clone())),
                "OS::Heat::RandomString",
            ),
            Resolved::Value(v) => (v.clone(), "OS::Heat::Value"),
        };
        match attr {
            None => Ok(Val {
                v: json!({ "value": value.v }),
                secret: value.secret,
            }),
            Some("value") => Ok(Val {
                v: select(&value.v, path, false).unwrap_or(Value::Null),
                secret: value.secret,
            }),
            // Every Heat resource has `show`; these have no cloud object to show.
            Some("show") => Ok(Val::null()),
            Some(other) => Err(self.invalid(
                at,
                format!("resource `{name}` ({rtype}) has no attribute `{other}`"),
            )),
        }
    }
}

/// Heat's conversion of an `OS::Heat::Value` property to its declared type.
fn typed_value(value: &Value, t: &str) -> Result<Value, String> {
    let shown = || py_str(value);
    match t {
        "string" => match value {
            Value::Null => Ok(json!("")),
            Value::String(_) => Ok(value.clone()),
            Value::Bool(_) => Ok(Value::String(py_str(value))),
            Value::Number(n) if !n.is_f64() => Ok(Value::String(py_str(value))),
            _ => Err(format!("value must be a string; got `{}`", shown())),
        },
        "number" => match value {
            Value::Null => Ok(json!(0)),
            _ => str_to_num(value).ok_or_else(|| format!("`{}` is not a number", shown())),
        },
        "comma_delimited_list" => match value {
            Value::Null => Ok(json!([])),
            Value::Array(_) => Ok(value.clone()),
            _ => Err(format!("`{}` is not a list", shown())),
        },
        "json" => match value {
            Value::Null => Ok(Value::Object(Map::new())),
            Value::Object(_) => Ok(value.clone()),
            _ => Err(format!("`{}` is not a map", shown())),
        },
        "boolean" => match value {
            Value::Null => Ok(json!(false)),
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if matches!(s.to_lowercase().as_str(), "true" | "false") => {
                Ok(json!(s.to_lowercase() == "true"))
            }
            _ => Err(format!("`{}` is not a valid boolean", shown())),
        },
        other => Err(format!(
            "`type` `{other}` is not one of string, number, comma_delimited_list, json, boolean"
        )),
    }
}
