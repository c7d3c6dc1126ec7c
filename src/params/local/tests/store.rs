//! Generated values stay stable across runs; template changes are warned
//! about, never applied silently; `regenerate` applies them.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

const ONE: &str = "
heat_template_version: 2018-08-31
resources:
  db_password:
    type: OS::Heat::RandomString
    properties: {length: 16}
outputs:
  db_password:
    value: {get_resource: db_password}
";

const TWO: &str = "
heat_template_version: 2018-08-31
resources:
  db_password:
    type: OS::Heat::RandomString
    properties: {length: 16}
  token:
    type: OS::Heat::RandomString
outputs:
  db_password:
    value: {get_resource: db_password}
  token:
    value: {get_attr: [token, value]}
";

fn run(text: &str, store: &mut GeneratedValues) -> Evaluation {
    parse(text)
        .evaluate(&BTreeMap::new(), &BTreeSet::new(), store)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn value(e: &Evaluation, name: &str) -> String {
    output(e, name).value.as_str().unwrap().to_string()
}

#[test]
fn the_same_store_gives_the_same_values() {
    let mut store = GeneratedValues::new();
    let first = run(ONE, &mut store);
    let second = run(ONE, &mut store);
    assert_eq!(first, second);
    assert_ne!(
        value(&first, "db_password"),
        value(&run(ONE, &mut GeneratedValues::new()), "db_password")
    );
}

#[test]
fn a_new_resource_gets_a_value_and_old_values_stay() {
    let mut store = GeneratedValues::new();
    let before = value(&run(ONE, &mut store), "db_password");
    let after = run(TWO, &mut store);
    assert_eq!(value(&after, "db_password"), before);
    assert_eq!(value(&after, "token").len(), 32);
    assert!(after.warnings.is_empty(), "{:?}", after.warnings);
}

#[test]
fn a_removed_resource_keeps_its_stored_value() {
    let mut store = GeneratedValues::new();
    let token = value(&run(TWO, &mut store), "token");
    run(ONE, &mut store);
    assert_eq!(store.get("token"), Some(token.as_str()));
}

#[test]
fn changed_properties_keep_the_value_and_warn() {
    let mut store = GeneratedValues::new();
    let before = value(&run(ONE, &mut store), "db_password");
    let e = run(&ONE.replace("length: 16", "length: 24"), &mut store);
    assert_eq!(value(&e, "db_password"), before);
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    let w = &e.warnings[0];
    assert!(
        w.contains("`db_password`") && w.contains("kube-openstack params regenerate db_password"),
        "{w}"
    );
}

#[test]
fn regenerate_forgets_a_value_so_the_next_run_applies_the_template() {
    let mut store = GeneratedValues::new();
    let before = value(&run(ONE, &mut store), "db_password");
    let changed = ONE.replace("length: 16", "length: 24");
    assert_eq!(store.regenerate("db_password"), Some(before.clone()));
    let e = run(&changed, &mut store);
    let after = value(&e, "db_password");
    assert_eq!(after.len(), 24);
    assert_ne!(after, before);
    assert!(e.warnings.is_empty());
    assert_eq!(store.regenerate("no_such_resource"), None);
}

#[test]
fn regenerate_all_forgets_every_member_of_a_group() {
    let mut store = GeneratedValues::new();
    let group = "
heat_template_version: 2018-08-31
resources:
  keys:
    type: OS::Heat::ResourceGroup
    properties:
      count: 2
      resource_def: {type: OS::Heat::RandomString}
outputs:
  keys: {value: {get_attr: [keys, value]}}
";
    run(group, &mut store);
    assert_eq!(store.len(), 2);
    assert_eq!(store.regenerate_all("keys").len(), 2);
    assert!(store.is_empty());
}

#[test]
fn the_store_round_trips_through_json_and_hides_values_from_debug() {
    let mut store = GeneratedValues::new();
    let pw = value(&run(ONE, &mut store), "db_password");
    let json = serde_json::to_value(&store).unwrap();
    assert_eq!(json["db_password"]["value"], pw.as_str());
    assert!(json["db_password"]["fingerprint"].is_string());
    let back: GeneratedValues = serde_json::from_value(json).unwrap();
    assert_eq!(back, store);
    assert!(!format!("{store:?}").contains(&pw));
}

#[test]
fn an_imported_value_without_fingerprint_is_used_without_warning() {
    let mut store: GeneratedValues =
        serde_json::from_str(r#"{"db_password": {"value": "from-heat"}}"#).unwrap();
    let e = run(ONE, &mut store);
    assert_eq!(value(&e, "db_password"), "from-heat");
    assert!(e.warnings.is_empty());
    // Its fingerprint is recorded now, so later template changes are noticed.
    let e = run(&ONE.replace("length: 16", "length: 20"), &mut store);
    assert_eq!(e.warnings.len(), 1);
}

#[test]
fn a_stored_value_serves_even_when_its_properties_need_a_cloud() {
    let text = "
heat_template_version: 2018-08-31
resources:
  db:
    type: OS::Trove::Instance
  pw:
    type: OS::Heat::RandomString
    properties: {salt: {get_attr: [db, hostname]}}
outputs:
  pw: {value: {get_resource: pw}}
";
    let t = parse(text);
    let none = BTreeSet::new();
    assert!(matches!(
        t.evaluate(&BTreeMap::new(), &none, &mut GeneratedValues::new()),
        Err(LocalError::CannotEvaluate { .. })
    ));
    let mut store: GeneratedValues =
        serde_json::from_str(r#"{"pw": {"value": "kept", "fingerprint": "x"}}"#).unwrap();
    let e = t.evaluate(&BTreeMap::new(), &none, &mut store).unwrap();
    assert_eq!(value(&e, "pw"), "kept");
}
