//! Intrinsic functions give what Heat gives, and refuse what Heat refuses,
//! saying which function and where.

use serde_json::json;

use super::*;

#[test]
fn get_param_follows_paths_into_json_and_list_parameters() {
    assert_eq!(value_of("{get_param: word}"), json!("hello"));
    assert_eq!(value_of("{get_param: n}"), json!(3));
    assert_eq!(value_of("{get_param: [cfg, db, hosts, 1]}"), json!("h2"));
    assert_eq!(value_of("{get_param: [list, '0']}"), json!("a"));
    assert_eq!(value_of("{get_param: [list, -1]}"), json!("c"));
    // Heat answers an empty string for a path that leads nowhere.
    assert_eq!(value_of("{get_param: [cfg, nope, x]}"), json!(""));
    assert!(
        error_of("{get_param: [{a: 1}]}")
            .contains("`get_param`: the parameter name must be a string")
    );
}

#[test]
fn get_attr_follows_paths_and_lists_all_attributes() {
    assert_eq!(value_of("{get_attr: [v, value, a, 0]}"), json!(1));
    // Unlike get_param, get_attr does not turn "0" into an index.
    assert_eq!(value_of("{get_attr: [v, value, a, '0']}"), json!(null));
    assert_eq!(value_of("{get_attr: [v]}"), json!({"value": {"a": [1, 2]}}));
    assert_eq!(
        value_of("{get_attr: [pw, value]}").as_str().unwrap().len(),
        8
    );
    assert_eq!(
        value_of("{get_attr: [pw, value, 0]}")
            .as_str()
            .unwrap()
            .len(),
        1
    );
    assert!(
        error_of("{get_attr: [pw, length]}")
            .contains("resource `pw` (OS::Heat::RandomString) has no attribute `length`")
    );
    assert!(error_of("{get_attr: []}").contains("`get_attr`"));
}

#[test]
fn get_resource_of_a_random_string_is_its_value() {
    let e = eval(&with_expr("[{get_resource: pw}, {get_attr: [pw, value]}]"));
    let out = &output(&e, "out").value;
    assert_eq!(out[0], out[1]);
}

#[test]
fn str_replace_prefers_longer_keys_and_never_rescans_replacements() {
    let v =
        value_of("{str_replace: {template: '$var $var2 $var', params: {$var: '$var2', $var2: b}}}");
    assert_eq!(v, json!("$var2 b $var2"));
}

#[test]
fn str_replace_turns_values_into_text_as_heat_does() {
    let v = value_of(
        "{str_replace: {template: 'A B C D E', params: {A: {b: 1, a: [true]}, B: 1.5, C: true, D: null, E: 7}}}",
    );
    assert_eq!(v, json!(r#"{"a": [true], "b": 1} 1.5 True  7"#));
}

#[test]
fn str_replace_names_the_bad_argument_and_the_output() {
    let e = error_of("{str_replace: {template: x, params: [a]}}");
    assert!(
        e.contains("output `out`: `str_replace`: `params` must be a map"),
        "{e}"
    );
    assert!(
        error_of("{str_replace: {template: [x], params: {}}}")
            .contains("`template` must be a string")
    );
    assert!(error_of("{str_replace: [x]}").contains("`template` and `params`"));
}

#[test]
fn strict_replacements_insist_on_every_key_and_value() {
    assert_eq!(
        value_of("{str_replace_strict: {template: ab, params: {a: x}}}"),
        json!("xb")
    );
    assert!(
        error_of("{str_replace_strict: {template: ab, params: {c: x, dd: y}}}")
            .contains("not found in the template: dd,c")
    );
    assert!(
        error_of("{str_replace_vstrict: {template: ab, params: {a: ''}}}")
            .contains("empty value for `a`")
    );
}

#[test]
fn list_join_joins_several_lists_and_encodes_maps() {
    assert_eq!(
        value_of("{list_join: [',', [a, b], [], null, [c]]}"),
        json!("a,b,c")
    );
    assert_eq!(
        value_of("{list_join: ['-', [{get_param: word}, {k: v}, [1], null]]}"),
        json!(r#"hello-{"k": "v"}-[1]-"#)
    );
    assert!(
        error_of("{list_join: [',', [a, 1]]}")
            .contains("`list_join`: items to join must be string, map or list, not 1")
    );
    assert!(error_of("{list_join: [1, [a]]}").contains("delimiter must be a string"));
    assert!(error_of("{list_join: [',']}").contains("`list_join`"));
}

#[test]
fn if_evaluates_only_the_chosen_branch() {
    assert_eq!(
        value_of("{if: [on, yes_branch, no_branch]}"),
        json!("no_branch")
    );
    assert_eq!(value_of("{if: [true, 1, 2]}"), json!(1));
    assert_eq!(value_of("{if: [{not: on}, 1, 2]}"), json!(1));
    // The other branch needs a cloud resource but is never evaluated.
    assert_eq!(
        value_of("{if: [on, {get_attr: [db, hostname]}, local]}"),
        json!("local")
    );
    assert!(
        error_of("{if: [on, 1]}")
            .contains("`if`: arguments must be [condition, value_if_true, value_if_false]")
    );
}

#[test]
fn str_split_splits_and_indexes() {
    assert_eq!(
        value_of("{str_split: [',', 'a,b,,c']}"),
        json!(["a", "b", "", "c"])
    );
    assert_eq!(value_of("{str_split: [',', 'a,b,c', 1]}"), json!("b"));
    assert_eq!(value_of("{str_split: [',', 'a,b,c', '-1']}"), json!("c"));
    assert!(error_of("{str_split: [',', 'a,b', 5]}").contains("between 0 and 1"));
    assert!(error_of("{str_split: ',a'}").contains("`str_split`"));
}

#[test]
fn map_merge_lets_later_maps_win() {
    assert_eq!(
        value_of("{map_merge: [{a: 1, b: 2}, null, {b: 3, c: 4}]}"),
        json!({"a": 1, "b": 3, "c": 4})
    );
    assert!(error_of("{map_merge: [{a: 1}, [b]]}").contains("items to merge must be maps"));
}

#[test]
fn map_replace_renames_keys_and_swaps_values() {
    let v = value_of("{map_replace: [{k1: v1, k2: v2}, {keys: {k1: K1}, values: {v2: V2}}]}");
    assert_eq!(v, json!({"K1": "v1", "k2": "V2"}));
    assert!(error_of("{map_replace: [{a: 1, b: 2}, {keys: {a: b}}]}").contains("collides"));
}

#[test]
fn digest_hashes_with_the_sha2_family() {
    assert_eq!(
        value_of("{digest: [sha256, abc]}"),
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        value_of("{digest: [SHA512, '']}").as_str().unwrap().len(),
        128
    );
    assert!(error_of("{digest: [md5, abc]}").contains("`md5` is not available locally"));
}

#[test]
fn repeat_makes_one_copy_per_item_or_combination() {
    assert_eq!(
        value_of("{repeat: {for_each: {'%x%': [a, b]}, template: 'p-%x%'}}"),
        json!(["p-a", "p-b"])
    );
    assert_eq!(
        value_of(
            "{repeat: {for_each: {'%x%': [a, b], '%y%': ['1', '2']}, template: {'%x%': '%y%'}}}"
        ),
        json!([{"a": "1"}, {"a": "2"}, {"b": "1"}, {"b": "2"}])
    );
    assert_eq!(
        value_of(
            "{repeat: {for_each: {'%x%': [a, b], '%y%': ['1', '2']}, template: '%x%%y%', permutations: false}}"
        ),
        json!(["a1", "b2"])
    );
    assert_eq!(
        value_of("{repeat: {for_each: {'%x%': {get_param: list}}, template: '%x%'}}"),
        json!(["a", "b", "c"])
    );
    assert!(error_of("{repeat: {for_each: {'%x%': x}, template: y}}").contains("must be lists"));
}

#[test]
fn list_functions_concat_filter_and_test_membership() {
    assert_eq!(
        value_of("{list_concat: [[a, b], null, [c]]}"),
        json!(["a", "b", "c"])
    );
    assert_eq!(
        value_of("{list_concat_unique: [[a, b], [a, c]]}"),
        json!(["b", "a", "c"])
    );
    assert_eq!(value_of("{filter: [[b], [a, b, c]]}"), json!(["a", "c"]));
    assert_eq!(value_of("{contains: [b, [a, b]]}"), json!(true));
    assert_eq!(value_of("{contains: [ell, hello]}"), json!(true));
    assert!(error_of("{list_concat: [[a], b]}").contains("items to concat must be lists"));
}

#[test]
fn make_url_escapes_each_part() {
    let v = value_of(
        "{make_url: {scheme: mysql, username: nova, password: 'a@b', host: db, path: nova}}",
    );
    assert_eq!(v, json!("mysql://nova:a%40b@db/nova"));
}

#[test]
fn functions_that_need_heat_itself_are_refused() {
    assert!(error_of("{get_file: foo.sh}").contains("`get_file`"));
    assert!(error_of("{yaql: {expression: '$.data', data: {}}}").contains("`yaql`"));
}

#[test]
fn single_key_maps_that_are_not_functions_stay_data() {
    assert_eq!(value_of("{equals: [a, b]}"), json!({"equals": ["a", "b"]}));
    assert_eq!(
        value_of("{Web-Index: index.html}"),
        json!({"Web-Index": "index.html"})
    );
}

#[test]
fn misspelt_removed_and_too_new_functions_are_refused_when_parsing() {
    assert!(error_of("{get_parma: word}").contains("unknown function `get_parma`"));
    assert!(error_of("{Ref: word}").contains("`Ref` is not supported"));
    let old = with_expr("{contains: [a, [a]]}").replace("2018-08-31", "2016-10-14");
    let err = LocalTemplate::parse(&old, "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`contains` needs `heat_template_version` 2017-09-01 or later"),
        "{err}"
    );
}
