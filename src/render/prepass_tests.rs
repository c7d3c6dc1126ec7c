use super::*;

fn rewrite(src: &str) -> String {
    prepare(src, 0).unwrap().text
}

fn contexts(src: &str) -> Vec<Context> {
    prepare(src, 0)
        .unwrap()
        .placeholders
        .into_iter()
        .map(|p| p.context)
        .collect()
}

#[test]
fn lone_placeholder_is_a_typed_value() {
    assert_eq!(rewrite("a: {{x}}\n"), "a: {{__ko_value x 0 0}}\n");
    assert_eq!(rewrite("- {{x}}\n"), "- {{__ko_value x 0 0}}\n");
}

#[test]
fn mixed_plain_scalar_becomes_double_quoted() {
    assert_eq!(
        rewrite("image: {{reg}}/a\\b:{{tag}} # c\n"),
        "image: \"{{__ko_quoted reg 0 0}}/a\\\\b:{{__ko_quoted tag 0 1}}\" # c\n"
    );
}

#[test]
fn single_quoted_scalar_becomes_double_quoted() {
    assert_eq!(
        rewrite("a: 'it''s \"{{x}}\"'\n"),
        "a: \"it's \\\"{{__ko_quoted x 0 0}}\\\"\"\n"
    );
}

#[test]
fn double_quoted_scalar_is_kept() {
    assert_eq!(
        rewrite("a: \"u={{x}}\"\n"),
        "a: \"u={{__ko_quoted x 0 0}}\"\n"
    );
}

#[test]
fn keys_with_placeholders_are_escaped() {
    assert_eq!(
        contexts("{{k}}: v\npre-{{k}}: v\n"),
        vec![Context::Value, Context::Quoted]
    );
    assert_eq!(
        rewrite("pre-{{k}}: v\n"),
        "\"pre-{{__ko_quoted k 0 0}}\": v\n"
    );
}

#[test]
fn flow_sequence_items() {
    assert_eq!(
        rewrite("command: [sh, -c, \"echo {{a}}\", --x={{b}}, {{c}}]\n"),
        "command: [sh, -c, \"echo {{__ko_quoted a 0 0}}\", \"--x={{__ko_quoted b 0 1}}\", {{__ko_value c 0 2}}]\n"
    );
}

#[test]
fn flow_collection_spanning_lines() {
    let src = "args: [\n  --a={{a}},\n  {{b}}\n]\nnext: {{c}}\n";
    assert_eq!(
        contexts(src),
        vec![Context::Quoted, Context::Value, Context::Value]
    );
}

#[test]
fn comments_are_their_own_context() {
    assert_eq!(
        contexts("# {{a}}\nb: c # {{d}}\n"),
        vec![Context::Comment, Context::Comment]
    );
}

#[test]
fn block_scalars_know_their_indentation() {
    let src = "data:\n  conf: |\n    [db]\n    url = {{u}}\n  other: {{v}}\n";
    assert_eq!(
        contexts(src),
        vec![Context::Literal { indent: 4 }, Context::Value]
    );
    let folded = "a: >-\n  text {{x}}\n";
    assert_eq!(contexts(folded), vec![Context::Folded { indent: 2 }]);
}

#[test]
fn block_starting_with_a_placeholder_gets_an_indentation_indicator() {
    assert_eq!(
        rewrite("a:\n  b: |\n    {{x}}\n"),
        "a:\n  b: |2\n    {{__ko_literal x 0 0}}\n"
    );
    assert_eq!(
        rewrite("- |-\n  {{x}}\n"),
        "- |2-\n  {{__ko_literal x 0 0}}\n"
    );
}

#[test]
fn explicit_indentation_indicator_is_respected() {
    assert_eq!(
        contexts("a: |2\n    {{x}}\n"),
        vec![Context::Literal { indent: 2 }]
    );
}

#[test]
fn yaml_producing_helpers_and_triple_stash_are_raw() {
    let src = "a: {{toYaml m}}\nb: {{{c}}}\nc: {{quote d}}\n";
    assert_eq!(
        contexts(src),
        vec![Context::Raw, Context::Raw, Context::Raw]
    );
    assert_eq!(rewrite("b: {{{c}}}\n"), "b: {{__ko_raw c 0 0}}\n");
}

#[test]
fn helper_calls_become_subexpressions() {
    assert_eq!(
        rewrite("a: {{default \"x y\" v}}\n"),
        "a: {{__ko_value (default \"x y\" v) 0 0}}\n"
    );
    assert_eq!(rewrite("a: {{~ v ~}}\n"), "a: {{~__ko_value v 0 0~}}\n");
}

#[test]
fn block_helpers_inside_a_scalar_stay_put() {
    assert_eq!(
        rewrite("a: x-{{#if b}}{{c}}{{else}}d{{/if}}\n"),
        "a: \"x-{{#if b}}{{__ko_quoted c 0 0}}{{else}}d{{/if}}\"\n"
    );
    assert_eq!(
        rewrite("a: {{#if b}}x{{c}}{{/if}}\n"),
        "a: \"{{#if b}}x{{__ko_quoted c 0 0}}{{/if}}\"\n"
    );
}

#[test]
fn standalone_block_lines_do_not_end_a_block_scalar() {
    let src = "a: |\n  x\n{{#if y}}\n  {{z}}\n{{/if}}\nb: 1\n";
    assert_eq!(contexts(src), vec![Context::Literal { indent: 2 }]);
}

#[test]
fn multi_line_double_quoted_scalar() {
    let src = "a: \"one\n  two {{x}}\"\nb: {{y}}\n";
    assert_eq!(contexts(src), vec![Context::Quoted, Context::Value]);
}

#[test]
fn placeholder_in_multi_line_plain_scalar_is_refused() {
    let err = prepare("a: one\n  two {{x}}\n", 0).unwrap_err();
    assert_eq!((err.line, err.column), (2, 7));
    assert!(err.message.contains("spans lines"), "{}", err.message);
}

#[test]
fn placeholder_in_anchor_is_refused() {
    let err = prepare("a: &{{x}} v\n", 0).unwrap_err();
    assert_eq!(err.line, 1);
}

#[test]
fn placeholders_record_line_and_column() {
    let p = prepare("a: 1\nbb: é{{x}}\n", 0).unwrap();
    assert_eq!((p.placeholders[0].line, p.placeholders[0].column), (2, 6));
}

#[test]
fn names_collects_paths_but_not_literals_or_hash_keys() {
    let p = prepare(
        "{{#if enable_x}}a: {{default \"d\" pw}} {{> labels name=\"k\"}}{{/if}} {{obj.field}}",
        0,
    )
    .unwrap();
    for n in ["enable_x", "pw", "obj", "default", "labels"] {
        assert!(p.names.contains(&n.to_string()), "{n} in {:?}", p.names);
    }
    assert!(!p.names.contains(&"name".to_string()));
    assert!(!p.names.iter().any(|n| n.starts_with('"')));
}

#[test]
fn document_markers_and_sequences_of_mappings() {
    let src = "---\n- name: {{a}}\n  value: x{{b}}\n---\nkind: {{c}}\n";
    assert_eq!(
        contexts(src),
        vec![Context::Value, Context::Quoted, Context::Value]
    );
}

#[test]
fn columns_of_many_placeholders_on_one_line() {
    // Columns are counted on from the previous placeholder of the line: the same figures
    // as counting from the line's start, across multi-byte text, lines and new lines.
    let src = "a: [é{{x}}, ü{{y}}, {{z}}]\n# {{w}} ß {{v}}\nb: \"{{u}}\"\n";
    let p = prepare(src, 0).unwrap();
    let found: Vec<_> = p.placeholders.iter().map(|p| (p.line, p.column)).collect();
    let expected: Vec<_> = src
        .match_indices("{{")
        .map(|(at, _)| super::line_col(src, at))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(found[1], (1, 14));
}
