use super::*;
use serde_json::json;

fn recorded(name: &str) -> Stack {
    let path = format!("{}/tests/fixtures/heat/{name}", env!("CARGO_MANIFEST_DIR"));
    let body: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_value(body["stack"].clone()).unwrap()
}

fn random_template() -> LocalTemplate {
    let path = format!(
        "{}/tests/fixtures/heat/random.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    LocalTemplate::parse(&std::fs::read_to_string(path).unwrap(), "random.yaml").unwrap()
}

#[test]
fn outputs_keep_their_json_types() {
    let saved = from_stack(&recorded("13-stack-show.json"), None, None).unwrap();
    assert_eq!(saved.outputs["secret_len"].value, json!(12));
    assert_eq!(
        saved.outputs["as_list"].value,
        json!(["csiqswhhcniv", "3B396ABB"])
    );
    assert_eq!(
        saved.outputs["as_map"].value,
        json!({"a": "csiqswhhcniv", "length": 12})
    );
    assert_eq!(
        saved.outputs["full_name"].value,
        json!("probe-csiqswhhcniv-3B396ABB")
    );
    assert_eq!(saved.id, "a8d8e0e2-2c0e-4d9e-9f1e-1cb0a1aa94e7");
}

#[test]
fn outputs_built_on_random_strings_are_secret_when_the_template_is_known() {
    let stack = recorded("13-stack-show.json");
    let without = from_stack(&stack, None, None).unwrap();
    assert!(!without.outputs["full_name"].secret);
    let with = from_stack(&stack, Some(&random_template()), None).unwrap();
    for key in [
        "a_resource_id",
        "b_value",
        "joined",
        "full_name",
        "as_list",
        "as_map",
    ] {
        assert!(with.outputs[key].secret, "{key} comes from a RandomString");
    }
    assert!(!with.outputs["prefix_param"].secret);
    assert!(
        with.outputs["secret_len"].secret,
        "named like a secret, so masked even though it is a plain number"
    );
}

#[test]
fn every_output_without_a_value_is_reported_at_once() {
    let err = from_stack(
        &recorded("61-stack-show-delete-in-progress.json"),
        None,
        None,
    )
    .unwrap_err();
    let ParamsError::OutputErrors { stack, problems } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(stack, "probe-slow");
    let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["after_value", "early_value", "slow_value"]);
    assert!(
        err.to_string()
            .contains("`slow_value`: The specified reference \"slow\" (in unknown) is incorrect."),
        "{err}"
    );
}

#[test]
fn the_swift_url_comes_from_the_catalog_when_the_stack_made_the_container() {
    let mut stack = recorded("13-stack-show.json");
    stack.outputs.push(
        serde_json::from_value(
            json!({"output_key": "swift_container", "output_value": "registry"}),
        )
        .unwrap(),
    );
    let store = Some("http://127.0.0.1:8080/v1/AUTH_p");
    assert!(
        !from_stack(&stack, None, store)
            .unwrap()
            .outputs
            .contains_key("swift_siteurl")
    );
    stack
        .parameters
        .insert("create_swift_container".into(), json!("true"));
    let saved = from_stack(&stack, None, store).unwrap();
    assert_eq!(
        saved.outputs["swift_siteurl"].value,
        json!("http://127.0.0.1:8080/v1/AUTH_p/registry")
    );
}

#[test]
fn changes_name_added_removed_and_changed_keys() {
    let old = from_stack(&recorded("13-stack-show.json"), None, None).unwrap();
    let mut new = old.clone();
    new.outputs.remove("joined");
    new.outputs.get_mut("b_value").unwrap().value = json!("NEW");
    new.outputs.insert(
        "extra".into(),
        SavedOutput {
            value: json!(1),
            secret: false,
            description: None,
        },
    );
    let c = changes(Some(&old), &new);
    assert_eq!(c.len(), 3);
    assert!(c.contains(&Change::Changed {
        key: "b_value".into(),
        old: json!("3B396ABB"),
        new: json!("NEW"),
        secret: false
    }));
    assert!(
        matches!(&c[..], [Change::Added { key, .. }, ..] | [_, Change::Added { key, .. }, ..] if key == "extra")
    );
    assert!(
        c.iter()
            .any(|x| matches!(x, Change::Removed { key, .. } if key == "joined"))
    );
    assert!(changes(Some(&old), &old).is_empty());
}

#[test]
fn saved_outputs_round_trip_privately_and_belong_to_one_stack() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let state = StateDir::new(t.path().join("state"));
    let saved = from_stack(&recorded("13-stack-show.json"), None, None).unwrap();
    save(&state, &saved).unwrap();
    assert_eq!(saved_or_none(&state, "probe-random"), Some(saved));
    assert_eq!(saved_or_none(&state, "other"), None);
    let mode = std::fs::metadata(t.path().join("state").join(OUTPUTS_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

fn saved_or_none(state: &StateDir, stack: &str) -> Option<SavedStack> {
    saved(state, stack).unwrap()
}
