//! Intrinsic functions that compute a value from their (already evaluated)
//! arguments. Errors are plain messages; the evaluator adds where and which
//! function.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512, Sha512_224, Sha512_256};

use super::pyvalue::{py_eq, py_int, py_json, py_repr, py_str, py_truthy};
use super::url::make_url;
use super::val::Val;
use super::version::{Func, Version};

pub(crate) fn apply(f: Func, args: &Val, version: Version) -> Result<Val, String> {
    let a = &args.v;
    let v = match f {
        Func::StrReplace => str_replace(a, false, true)?,
        Func::StrReplaceStrict => str_replace(a, true, true)?,
        Func::StrReplaceVstrict => str_replace(a, true, false)?,
        Func::ListJoin => list_join(a)?,
        Func::StrSplit => str_split(a)?,
        Func::MapMerge => map_merge(a)?,
        Func::MapReplace => map_replace(a)?,
        Func::Repeat => super::repeat::repeat(a, version)?,
        Func::Digest => digest(a)?,
        Func::ListConcat => list_concat(a, false)?,
        Func::ListConcatUnique => list_concat(a, true)?,
        Func::Contains => {
            let [value, seq] = two(a)?;
            Value::Bool(contains(value, seq)?)
        }
        Func::Filter => filter(a)?,
        Func::MakeUrl => make_url(a)?,
        other => return Err(format!("`{}` is not evaluated here", other.name())),
    };
    Ok(Val {
        v,
        secret: args.secret,
    })
}

fn two(a: &Value) -> Result<[&Value; 2], String> {
    match a.as_array().map(Vec::as_slice) {
        Some([x, y]) => Ok([x, y]),
        _ => Err("arguments must be a list of two values".into()),
    }
}

fn str_replace(a: &Value, strict: bool, allow_empty: bool) -> Result<Value, String> {
    let Value::Object(m) = a else {
        return Err("arguments must be a map with `template` and `params`".into());
    };
    let (Some(template), Some(params)) = (m.get("template"), m.get("params")) else {
        return Err("arguments must be a map with `template` and `params`".into());
    };
    let Value::String(template) = template else {
        return Err("`template` must be a string".into());
    };
    let Value::Object(params) = params else {
        return Err("`params` must be a map".into());
    };
    let mut pairs = Vec::new();
    for (key, value) in params {
        if key.is_empty() {
            return Err("`params` keys must not be empty".into());
        }
        pairs.push((key.as_str(), replacement(key, value, allow_empty)?));
    }
    // Longer keys first, then alphabetical: Heat's rule for overlapping keys.
    pairs.sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then(a.cmp(b)));
    let mut found = BTreeSet::new();
    let result = replace_all(template, &pairs, &mut found);
    if strict {
        let missing: Vec<&str> = pairs
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !found.contains(*k))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the following params were not found in the template: {}",
                missing.join(",")
            ));
        }
    }
    Ok(Value::String(result))
}

fn replacement(key: &str, value: &Value, allow_empty: bool) -> Result<String, String> {
    let text = match value {
        Value::Null => String::new(),
        Value::Array(_) | Value::Object(_) => {
            if !allow_empty && !py_truthy(value) {
                return Err(format!(
                    "`params` has an undefined or empty value for `{key}`"
                ));
            }
            py_json(value)
        }
        scalar => py_str(scalar),
    };
    if !allow_empty && text.is_empty() {
        return Err(format!(
            "`params` has an undefined or empty value for `{key}`"
        ));
    }
    Ok(text)
}

/// Split on the first key, replace the rest in each piece, join with the
/// value: replaced text is never scanned again, as in Heat.
fn replace_all(s: &str, pairs: &[(&str, String)], found: &mut BTreeSet<String>) -> String {
    let Some(((key, value), rest)) = pairs.split_first() else {
        return s.to_string();
    };
    let pieces: Vec<&str> = s.split(key).collect();
    if pieces.len() > 1 {
        found.insert(key.to_string());
    }
    pieces
        .iter()
        .map(|p| replace_all(p, rest, found))
        .collect::<Vec<_>>()
        .join(value)
}

fn list_join(a: &Value) -> Result<Value, String> {
    let usage = "arguments must be [delimiter, [string, ...], ...]";
    let Some((delim, lists)) = a
        .as_array()
        .and_then(|i| i.split_first())
        .filter(|(_, l)| !l.is_empty())
    else {
        return Err(usage.into());
    };
    let Value::String(delim) = delim else {
        return Err("the delimiter must be a string".into());
    };
    let mut strings = Vec::new();
    for list in lists {
        if !py_truthy(list) {
            continue;
        }
        let Value::Array(items) = list else {
            return Err(format!("can only join lists, not `{}`", py_repr(list)));
        };
        for item in items {
            strings.push(match item {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(_) | Value::Object(_) => py_json(item),
                other => {
                    return Err(format!(
                        "items to join must be string, map or list, not {}",
                        py_repr(other)
                    ));
                }
            });
        }
    }
    Ok(Value::String(strings.join(delim)))
}

fn str_split(a: &Value) -> Result<Value, String> {
    let usage = "arguments must be [delimiter, string, (index)]";
    let Some(items) = a.as_array().filter(|i| (2..=3).contains(&i.len())) else {
        return Err(usage.into());
    };
    let text = match &items[1] {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => s,
        other => return Err(format!("can only split a string, not `{}`", py_repr(other))),
    };
    let pieces: Vec<Value> = match &items[0] {
        // Python's split(None) splits on runs of whitespace.
        Value::Null => text
            .split_whitespace()
            .map(|p| Value::String(p.into()))
            .collect(),
        Value::String(d) if d.is_empty() => return Err("the delimiter must not be empty".into()),
        Value::String(d) => text
            .split(d.as_str())
            .map(|p| Value::String(p.into()))
            .collect(),
        _ => return Err("the delimiter must be a string".into()),
    };
    let Some(index) = items.get(2) else {
        return Ok(Value::Array(pieces));
    };
    let i = match index {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(s) => py_int(s),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
    .ok_or_else(|| format!("incorrect index `{}`; {usage}", py_str(index)))?;
    let len = pieces.len() as i64;
    let at = if i < 0 { len + i } else { i };
    if !(0..len).contains(&at) {
        return Err(format!(
            "incorrect index {i}: must be between 0 and {}",
            len - 1
        ));
    }
    Ok(pieces[at as usize].clone())
}

fn map_merge(a: &Value) -> Result<Value, String> {
    let Value::Array(items) = a else {
        return Err("arguments must be a list of maps".into());
    };
    let mut out = Map::new();
    for item in items {
        match item {
            Value::Null => {}
            Value::Object(m) => out.extend(m.clone()),
            _ => return Err("items to merge must be maps".into()),
        }
    }
    Ok(Value::Object(out))
}

fn as_map<'v>(v: &'v Value, what: &str) -> Result<Option<&'v Map<String, Value>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        _ => Err(format!("{what} must be a map")),
    }
}

fn map_replace(a: &Value) -> Result<Value, String> {
    let [input, repl] =
        two(a).map_err(|_| "arguments must be [map, {keys: ..., values: ...}]".to_string())?;
    let empty = Map::new();
    let input = as_map(input, "the first argument")?.unwrap_or(&empty);
    let repl = as_map(repl, "the second argument")?.unwrap_or(&empty);
    if let Some(bad) = repl.keys().find(|k| *k != "keys" && *k != "values") {
        return Err(format!("unknown key `{bad}`: use `keys` and `values`"));
    }
    let keys = as_map(repl.get("keys").unwrap_or(&Value::Null), "`keys`")?.unwrap_or(&empty);
    let values = as_map(repl.get("values").unwrap_or(&Value::Null), "`values`")?.unwrap_or(&empty);
    let mut out = Map::new();
    for (k, v) in input {
        let key = match keys.get(k) {
            None | Some(Value::Null) => k.clone(),
            Some(Value::String(new)) if input.contains_key(new) && new != k => {
                return Err(format!(
                    "key replacement `{new}` collides with a key in the input map"
                ));
            }
            Some(Value::String(new)) if out.contains_key(new) => {
                return Err(format!(
                    "key replacement `{new}` collides with a key in the output map"
                ));
            }
            Some(Value::String(new)) => new.clone(),
            Some(other) => {
                return Err(format!(
                    "key replacement `{}` must be a string",
                    py_repr(other)
                ));
            }
        };
        let value = match v {
            Value::String(s) => values.get(s).cloned().unwrap_or_else(|| v.clone()),
            _ => v.clone(),
        };
        out.insert(key, value);
    }
    Ok(Value::Object(out))
}

fn digest(a: &Value) -> Result<Value, String> {
    let Some([Value::String(algorithm), Value::String(value)]) = a.as_array().map(Vec::as_slice)
    else {
        return Err("arguments must be [\"<algorithm>\", \"<value>\"] (two strings)".into());
    };
    // Python's `six.b`: the text must be Latin-1.
    let bytes: Vec<u8> = value
        .chars()
        .map(|c| {
            u8::try_from(u32::from(c)).map_err(|_| "the value must be Latin-1 text".to_string())
        })
        .collect::<Result<_, _>>()?;
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let out = match algorithm.to_lowercase().as_str() {
        "sha224" => hex(&Sha224::digest(&bytes)),
        "sha256" => hex(&Sha256::digest(&bytes)),
        "sha384" => hex(&Sha384::digest(&bytes)),
        "sha512" => hex(&Sha512::digest(&bytes)),
        "sha512_224" => hex(&Sha512_224::digest(&bytes)),
        "sha512_256" => hex(&Sha512_256::digest(&bytes)),
        other => {
            return Err(format!(
                "algorithm `{other}` is not available locally; use sha224, sha256, sha384, sha512, sha512_224 or sha512_256"
            ));
        }
    };
    Ok(Value::String(out))
}

fn list_concat(a: &Value, unique: bool) -> Result<Value, String> {
    let Value::Array(lists) = a else {
        return Err("arguments must be a list of lists".into());
    };
    let mut out: Vec<Value> = Vec::new();
    for list in lists {
        match list {
            Value::Null => {}
            Value::Array(items) => out.extend(items.iter().cloned()),
            _ => return Err("items to concat must be lists".into()),
        }
    }
    if unique {
        // Heat keeps the last occurrence of each item.
        let mut kept: Vec<Value> = Vec::new();
        for (i, item) in out.iter().enumerate() {
            if !out[i + 1..].iter().any(|later| py_eq(later, item)) {
                kept.push(item.clone());
            }
        }
        out = kept;
    }
    Ok(Value::Array(out))
}

/// Python's `value in sequence`: membership for lists, substring for strings.
pub(crate) fn contains(value: &Value, seq: &Value) -> Result<bool, String> {
    match (seq, value) {
        (Value::Array(items), _) => Ok(items.iter().any(|i| py_eq(i, value))),
        (Value::String(s), Value::String(v)) => Ok(s.contains(v.as_str())),
        (Value::String(_), _) => Err("a string can only contain a string".into()),
        _ => Err("the second argument must be a sequence".into()),
    }
}

fn filter(a: &Value) -> Result<Value, String> {
    let [values, seq] = two(a).map_err(|_| "arguments must be [values, sequence]".to_string())?;
    if !py_truthy(seq) {
        return Ok(seq.clone());
    }
    let Value::Array(items) = seq else {
        return Err("only works with lists".into());
    };
    if !py_truthy(values) {
        return Ok(seq.clone());
    }
    let Value::Array(drop) = values else {
        return Err("the values to filter out must be a list".into());
    };
    Ok(Value::Array(
        items
            .iter()
            .filter(|i| !drop.iter().any(|d| py_eq(d, i)))
            .cloned()
            .collect(),
    ))
}
