//! `OS::Heat::ResourceGroup` whose members are locally evaluable
//! (RandomString, Value, None): `count` members named `0`, `1`, ..., each
//! from `resource_def` with the index variable replaced; stored as `group/N`.

use serde_json::{Map, Value};

use super::error::{CloudNeed, Fail};
use super::eval::{Evaluator, select};
use super::pyvalue::{py_int, py_str};
use super::resources::Resolved;
use super::val::Val;

const KEYS: &[&str] = &[
    "count",
    "index_var",
    "resource_def",
    "removal_policies",
    "removal_policies_mode",
];
const LOCAL_MEMBERS: &[&str] = &[
    "OS::Heat::RandomString",
    "OS::Heat::Value",
    "OS::Heat::None",
];

impl Evaluator<'_, '_> {
    pub(crate) fn group(&mut self, name: &str, props: &Val, at: &str) -> Result<Resolved, Fail> {
        let map = props.v.as_object().cloned().unwrap_or_default();
        if let Some(bad) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(self.invalid(at, format!("unknown property `{bad}`")));
        }
        let count = match map.get("count").filter(|c| !c.is_null()) {
            None => Some(1),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => py_int(s).and_then(|n| u64::try_from(n).ok()),
            Some(_) => None,
        }
        .ok_or_else(|| self.invalid(at, "`count` must be a whole number of at least 0"))?;
        let index_var = map
            .get("index_var")
            .filter(|v| !v.is_null())
            .map(py_str)
            .unwrap_or_else(|| "%index%".into());
        let Some(Value::Object(def)) = map.get("resource_def") else {
            return Err(self.invalid(at, "`resource_def` must be a map with a `type`"));
        };
        let Some(Value::String(rtype)) = def.get("type") else {
            return Err(self.invalid(at, "`resource_def` needs a `type`"));
        };
        if !LOCAL_MEMBERS.contains(&rtype.as_str()) {
            return Ok(Resolved::Cloud(CloudNeed::Resource {
                name: name.to_string(),
                resource_type: format!("OS::Heat::ResourceGroup of {rtype}"),
                condition_params: Vec::new(),
            }));
        }
        if map
            .get("removal_policies")
            .is_some_and(|p| p.as_array().is_some_and(|a| !a.is_empty()))
        {
            self.warnings.push(format!(
                "`removal_policies` of resource `{name}` are ignored locally"
            ));
        }
        let member_props = def
            .get("properties")
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        let mut members = Vec::new();
        for i in 0..count {
            let v = with_index(&member_props, &index_var, &i.to_string());
            let props = Val {
                v,
                secret: props.secret,
            };
            let key = format!("{name}/{i}");
            members.push(match rtype.as_str() {
                "OS::Heat::RandomString" => self.random(&key, &props, at)?,
                "OS::Heat::Value" => self.value_resource(&props, at)?,
                _ => Resolved::Nothing,
            });
        }
        Ok(Resolved::Group(members))
    }

    pub(crate) fn group_attribute(
        &mut self,
        name: &str,
        members: &[Resolved],
        attr: Option<&str>,
        path: &[Value],
        at: &str,
    ) -> Result<Val, Fail> {
        let Some(attr) = attr else {
            return Err(self.invalid(
                at,
                format!("`get_attr` of group `{name}` needs an attribute name"),
            ));
        };
        let member_key = |i: usize| format!("{name}/{i}");
        match attr {
            "refs" => {
                let refs = self.member_refs(name, members)?;
                let v = Value::Array(refs.iter().map(|r| r.v.clone()).collect());
                Ok(Val::derived(
                    select(&v, path, false).unwrap_or(Value::Null),
                    &refs,
                ))
            }
            "refs_map" => {
                let refs = self.member_refs(name, members)?;
                let map: Map<String, Value> = refs
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (i.to_string(), r.v.clone()))
                    .collect();
                Ok(Val::derived(Value::Object(map), &refs))
            }
            "removed_rsrc_list" => Ok(Val::plain(Value::Array(Vec::new()))),
            "attributes" => {
                let Some((first, rest)) = path.split_first() else {
                    return Err(self.invalid(
                        at,
                        format!("`get_attr` of `{name}` `attributes` needs an attribute name"),
                    ));
                };
                let inner = first.as_str().map(str::to_string);
                let mut out = Vec::new();
                for (i, m) in members.iter().enumerate() {
                    out.push((
                        i.to_string(),
                        self.attribute(&member_key(i), m, inner.as_deref(), rest, at)?,
                    ));
                }
                let map: Map<String, Value> =
                    out.iter().map(|(k, v)| (k.clone(), v.v.clone())).collect();
                Ok(Val::derived(Value::Object(map), out.iter().map(|(_, v)| v)))
            }
            a if a.starts_with("resource.") => self.member_attribute(name, members, a, path, at),
            other => {
                let mut vals = Vec::new();
                for (i, m) in members.iter().enumerate() {
                    vals.push(self.attribute(&member_key(i), m, Some(other), path, at)?);
                }
                Ok(Val::derived(
                    Value::Array(vals.iter().map(|v| v.v.clone()).collect()),
                    &vals,
                ))
            }
        }
    }

    /// `resource.N` (the member's reference), `resource.N.attr` and
    /// `[resource.N, attr, ...]` (the member's attribute).
    fn member_attribute(
        &mut self,
        name: &str,
        members: &[Resolved],
        key: &str,
        path: &[Value],
        at: &str,
    ) -> Result<Val, Fail> {
        let mut parts = key.splitn(3, '.').skip(1);
        let index = parts.next().unwrap_or_default();
        let inline_attr = parts.next();
        let Some(member) = index.parse::<usize>().ok().and_then(|i| members.get(i)) else {
            return Err(self.invalid(
                at,
                format!("member `{index}` not found in group resource `{name}`"),
            ));
        };
        let member_key = format!("{name}/{index}");
        match (inline_attr, path.split_first()) {
            (Some(a), _) => self.attribute(&member_key, member, Some(a), path, at),
            (None, None) => self.reference(&member_key, member),
            (None, Some((first, rest))) => {
                let a = first.as_str().map(str::to_string);
                self.attribute(&member_key, member, a.as_deref(), rest, at)
            }
        }
    }

    fn member_refs(&mut self, name: &str, members: &[Resolved]) -> Result<Vec<Val>, Fail> {
        let results: Vec<Result<Val, Fail>> = members
            .iter()
            .enumerate()
            .map(|(i, m)| self.reference(&format!("{name}/{i}"), m))
            .collect();
        super::eval::all(results.into_iter())
    }
}

/// Replace the index variable in every string value (not in keys), as Heat
/// does when it builds each member's definition.
fn with_index(v: &Value, var: &str, index: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(var, index)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| with_index(i, var, index)).collect())
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), with_index(x, var, index)))
                .collect(),
        ),
        other => other.clone(),
    }
}
