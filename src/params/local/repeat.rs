//! The `repeat` function: one copy of `template` per item (or per
//! combination of items) of the `for_each` lists.

use serde_json::{Map, Value};

use super::pyvalue::py_repr;
use super::version::Version;

pub(crate) fn repeat(a: &Value, version: Version) -> Result<Value, String> {
    let usage = "arguments must be a map with `for_each` and `template`";
    let Value::Object(m) = a else {
        return Err(usage.into());
    };
    let (Some(for_each), Some(template)) = (m.get("for_each"), m.get("template")) else {
        return Err(usage.into());
    };
    let permutations = match m.get("permutations") {
        Some(Value::Bool(b)) if version.repeat_has_permutations() => *b,
        Some(_) if version.repeat_has_permutations() => {
            return Err("`permutations` must be a boolean".into());
        }
        _ => true,
    };
    let Value::Object(for_each) = for_each else {
        return Err("`for_each` must be a map".into());
    };
    if for_each.is_empty() {
        return Err("`for_each` must name at least one placeholder".into());
    }
    let mut keys = Vec::new();
    let mut lists = Vec::new();
    for (key, value) in for_each {
        keys.push(key.as_str());
        lists.push(match value {
            Value::Null => Vec::new(),
            Value::Array(items) => items.clone(),
            // Iterating a map gives its keys, as in Python.
            Value::Object(m) if permutations => {
                m.keys().map(|k| Value::String(k.clone())).collect()
            }
            other => {
                return Err(format!(
                    "the values of `for_each` must be lists, not `{}`",
                    py_repr(other)
                ));
            }
        });
    }
    let combos = if permutations {
        product(&lists)
    } else {
        let lens: Vec<usize> = for_each
            .values()
            .zip(&lists)
            .filter(|(v, _)| !v.is_null())
            .map(|(_, l)| l.len())
            .collect();
        if lens.windows(2).any(|w| w[0] != w[1]) {
            return Err(
                "without `permutations`, the `for_each` lists must have the same length".into(),
            );
        }
        let n = lists.iter().map(Vec::len).min().unwrap_or(0);
        (0..n)
            .map(|i| lists.iter().map(|l| l[i].clone()).collect())
            .collect()
    };
    let copies = combos
        .iter()
        .map(|values| substitute(&keys, values, template))
        .collect::<Result<_, _>>()?;
    Ok(Value::Array(copies))
}

/// Every combination, the first list varying slowest (`itertools.product`).
fn product(lists: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut combos: Vec<Vec<Value>> = vec![Vec::new()];
    for list in lists {
        combos = combos
            .iter()
            .flat_map(|prefix| {
                list.iter()
                    .map(move |item| [prefix.clone(), vec![item.clone()]].concat())
            })
            .collect();
    }
    combos
}

fn substitute(keys: &[&str], values: &[Value], t: &Value) -> Result<Value, String> {
    Ok(match t {
        Value::String(s) => Value::String(replace_in(keys, values, s)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| substitute(keys, values, i))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(replace_in(keys, values, k)?, substitute(keys, values, v)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn replace_in(keys: &[&str], values: &[Value], s: &str) -> Result<String, String> {
    let mut out = s.to_string();
    for (key, value) in keys.iter().zip(values) {
        let Value::String(v) = value else {
            return Err(format!(
                "can only put strings into the template, not `{}`",
                py_repr(value)
            ));
        };
        out = out.replace(key, v);
    }
    Ok(out)
}
