//! The templates behind the recorded Heat exchanges in `tests/fixtures/heat/` evaluate
//! to the outputs a real Heat gave, with the same names and value shapes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::*;

const RANDOM: &str = include_str!("../../../../tests/fixtures/heat/random.yaml");
const RANDOM_SHOW: &str = include_str!("../../../../tests/fixtures/heat/13-stack-show.json");
const SWIFT: &str = include_str!("../../../../tests/fixtures/heat/swift.yaml");
const SWIFT_SHOW: &str = include_str!("../../../../tests/fixtures/heat/73-swift-stack-show.json");
const MANY: &str = include_str!("../../../../tests/fixtures/heat/many.yaml");
const FAILING: &str = include_str!("../../../../tests/fixtures/heat/failing.yaml");
const INVALID: &str = include_str!("../../../../tests/fixtures/heat/invalid.yaml");

/// A value's shape: its JSON type, with string lengths, list lengths and map keys.
fn shape(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(format!("string({})", s.chars().count())),
        Value::Number(n) if n.is_f64() => "float".into(),
        Value::Number(_) => "integer".into(),
        Value::Bool(_) => "boolean".into(),
        Value::Null => "null".into(),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Recorded outputs of a `GET .../stacks/{name}/{id}` response, by key.
fn recorded(show: &str) -> BTreeMap<String, (Value, Option<String>)> {
    let doc: Value = serde_json::from_str(show).unwrap();
    let params = &doc["stack"]["outputs"];
    params
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let key = o["output_key"].as_str().unwrap().to_string();
            let description = o["description"]
                .as_str()
                .filter(|d| *d != "No description given")
                .map(str::to_string);
            (key, (o["output_value"].clone(), description))
        })
        .collect()
}

fn recorded_params(show: &str) -> BTreeMap<String, String> {
    let doc: Value = serde_json::from_str(show).unwrap();
    let params = doc["stack"]["parameters"].as_object().unwrap();
    params
        .iter()
        .filter(|(k, _)| !k.starts_with("OS::"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn random_template_gives_the_outputs_heat_gave_with_the_same_shapes() {
    let t = parse(RANDOM);
    let mut store = GeneratedValues::new();
    let e = t
        .evaluate(&recorded_params(RANDOM_SHOW), &BTreeSet::new(), &mut store)
        .unwrap();
    let real = recorded(RANDOM_SHOW);
    let ours: BTreeSet<&str> = e.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(ours, real.keys().map(String::as_str).collect());
    for o in &e.outputs {
        let (value, description) = &real[&o.name];
        assert_eq!(shape(&o.value), shape(value), "output `{}`", o.name);
        assert_eq!(&o.description, description, "output `{}`", o.name);
    }
}

#[test]
fn random_template_values_relate_as_in_the_recorded_stack() {
    let e = eval_with(RANDOM, &[("prefix", "probe")]).unwrap();
    let s = |n: &str| output(&e, n).value.as_str().unwrap().to_string();
    let (a, b) = (s("a_resource_id"), s("b_value"));
    assert!(a.chars().all(|c| c.is_ascii_lowercase()), "{a}");
    assert!(b.chars().all(|c| "0123456789ABCDEF".contains(c)), "{b}");
    assert_eq!(s("full_name"), format!("probe-{a}-{b}"));
    assert_eq!(s("joined"), format!("probe-{a}-{b}"));
    assert_eq!(output(&e, "as_list").value, serde_json::json!([a, b]));
    assert_eq!(
        output(&e, "as_map").value,
        serde_json::json!({"a": a, "length": 12})
    );
    assert_eq!(output(&e, "secret_len").value, serde_json::json!(12));
    assert_eq!(s("prefix_param"), "probe");
}

#[test]
fn random_template_marks_generated_values_secret_and_plain_parameters_not() {
    let e = eval(RANDOM);
    for name in [
        "a_resource_id",
        "b_value",
        "full_name",
        "joined",
        "as_list",
        "as_map",
    ] {
        assert!(output(&e, name).secret, "{name} should be secret");
    }
    assert!(!output(&e, "prefix_param").secret);
    // A number from a plain parameter, secret only because of its name.
    assert!(output(&e, "secret_len").secret);
}

#[test]
fn swift_template_needs_its_container_for_every_output() {
    let t = parse(SWIFT);
    let real: BTreeSet<String> = recorded(SWIFT_SHOW).into_keys().collect();
    assert_eq!(t.output_names().into_iter().collect::<BTreeSet<_>>(), real);
    let err = t
        .evaluate(
            &BTreeMap::new(),
            &BTreeSet::new(),
            &mut GeneratedValues::new(),
        )
        .unwrap_err();
    let LocalError::CannotEvaluate { outputs, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(outputs.len(), 7, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("output `website_url` needs resource `site` (OS::Swift::Container)"),
        "{text}"
    );
}

#[test]
fn swift_template_evaluates_when_the_cloud_outputs_are_provided() {
    let t = parse(SWIFT);
    let provided: BTreeSet<String> = t.output_names().into_iter().collect();
    let mut store = GeneratedValues::new();
    let e = t.evaluate(&BTreeMap::new(), &provided, &mut store).unwrap();
    assert!(e.outputs.is_empty());
    // The container name's random suffix is still generated, as Heat would.
    let suffix = store.get("suffix").unwrap();
    assert!(
        suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_lowercase()),
        "{suffix}"
    );
}

#[test]
fn resource_group_of_random_strings_yields_one_value_per_member() {
    let t = parse(MANY);
    let mut store = GeneratedValues::new();
    let params = BTreeMap::from([("count".to_string(), "3".to_string())]);
    let e = t.evaluate(&params, &BTreeSet::new(), &mut store).unwrap();
    let values = output(&e, "values").value.as_array().unwrap().clone();
    assert_eq!(values.len(), 3);
    assert!(values.iter().all(|v| {
        v.as_str()
            .is_some_and(|s| s.len() == 8 && s.chars().all(|c| c.is_ascii_alphanumeric()))
    }));
    // refs of RandomString members are their values, as on a real stack.
    assert_eq!(output(&e, "refs").value, Value::Array(values));
    assert_eq!(
        store.names().collect::<Vec<_>>(),
        ["group/0", "group/1", "group/2"]
    );
    assert!(output(&e, "values").secret);
}

#[test]
fn resource_group_default_count_matches_the_template() {
    let e = eval(MANY);
    assert_eq!(output(&e, "values").value.as_array().unwrap().len(), 30);
}

#[test]
fn random_string_with_a_non_integer_length_is_an_error_naming_it() {
    let err = eval_with(FAILING, &[]).unwrap_err().to_string();
    assert!(
        err.contains("resource `broken`")
            && err.contains("not-a-number")
            && err.contains("not an integer"),
        "{err}"
    );
}

#[test]
fn random_string_length_below_one_is_refused_like_heat_does() {
    let err = eval_with(INVALID, &[]).unwrap_err().to_string();
    assert!(
        err.contains("resource `r`") && err.contains("-5 is out of range (min: 1, max: 512)"),
        "{err}"
    );
}
