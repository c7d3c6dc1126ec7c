use super::*;
use crate::render::prepass;
use serde_json::json;

const TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"{{name}}\"\n# é {{v}}\ndata:\n  a: pre-{{v}}-é'x'\n  b: |\n    {{v}}\n    t={{n}}\n  c: {{n}}\r\n";

fn kept() -> Vec<u8> {
    let prepared = prepass::prepare(TEMPLATE, 0).unwrap();
    let pieces = prepared.direct.clone().unwrap();
    derive(TEMPLATE, &prepared, &pieces).unwrap().1
}

#[test]
fn a_kept_template_renders_from_its_own_text() {
    let data = json!({"name": "n1", "v": "x\n\"y\": z", "n": 3});
    let mut names = Vec::new();
    let (text, idents) =
        render(&kept(), TEMPLATE, &data, &mut |n| names.push(n.to_string())).expect("covered");
    let (engine, _) = crate::render::engine::Engine::new(&[], None).unwrap();
    let src = crate::render::engine::Source {
        display: "t.yaml".into(),
        text: TEMPLATE.into(),
    };
    let context = handlebars::Context::wraps(&data).unwrap();
    assert_eq!(text, engine.render(&src, &context, None).unwrap().text);
    assert!(
        text.contains("  a: \"pre-x\\n\\\"y\\\": z-é'x'\"\n"),
        "{text}"
    );
    assert_eq!(idents.len(), 1);
    assert_eq!(names, ["n", "name", "v"]);
    // Missing, or not admitted where it goes: left to the full render, which says why.
    assert!(
        render(
            &kept(),
            TEMPLATE,
            &json!({"name": "n1", "v": 1}),
            &mut |_| {}
        )
        .is_none()
    );
    let list = json!({"name": ["l"], "v": 1, "n": 2});
    assert!(render(&kept(), TEMPLATE, &list, &mut |_| {}).is_none());
}

#[test]
fn damaged_bytes_render_nothing_and_never_panic() {
    let data = json!({"name": "n1", "v": "x", "n": 3});
    let bytes = kept();
    for cut in 0..bytes.len() {
        assert!(render(&bytes[..cut], TEMPLATE, &data, &mut |_| {}).is_none());
    }
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0xa5;
        let _ = render(&damaged, TEMPLATE, &data, &mut |_| {});
        let _ = proof(&damaged);
    }
    // Another text than the one kept (which its key rules out) cannot be cut wrong either.
    let _ = render(&bytes, "é", &data, &mut |_| {});
}
