//! A proof may only stand in for the full parse where the full parse would say the same:
//! every render a proof covers is parsed in full here too, and the two must agree.

use super::super::engine::{Engine, Source};
use super::super::objects;
use super::super::proofs::Proofs;
use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// Renders `template` with `v` (and `w`) through the proofs, then parses the output in
/// full: `Some(true)` when a proof covered it (and agreed), `Some(false)` when it was left
/// to the full parse, `None` when the render itself failed.
fn check(engine: &Engine, proofs: &Proofs, template: &str, v: &Json) -> Option<bool> {
    let data = handlebars::Context::wraps(json!({"v": v, "w": "w"})).unwrap();
    let src = Source {
        display: "t.yaml".into(),
        text: template.into(),
    };
    let rendered = engine.render(&src, &data, Some(proofs));
    // The render by the kept proof gives what the render it was kept from gives.
    let fast = proofs.render(template, data.data(), &mut |_| {});
    let rendered = match rendered {
        Ok(r) => r,
        Err(e) => {
            assert!(fast.is_none(), "{template:?} with {v} fails in full: {e:?}");
            return None;
        }
    };
    if let Some((text, _)) = &fast {
        assert_eq!(text, &rendered.text, "{template:?} with {v}");
    }
    assert_eq!(
        fast.map(|(_, idents)| idents),
        rendered.proven,
        "{template:?} with {v}"
    );
    let full = objects::parse("t.yaml", &rendered.text);
    let Some(idents) = rendered.proven else {
        return Some(false);
    };
    let fast = objects(&rendered.text, idents);
    match full {
        Ok(full) => assert_eq!(fast, Some(full), "{template:?} with {v}"),
        Err(e) => panic!(
            "proven, but the full parse refuses {template:?} with {v}: {e:?}\n{}",
            rendered.text
        ),
    }
    Some(true)
}

/// Values meant to break out of their position (the texts are shared with the command
/// line's adversarial test), and values of every type.
fn values() -> Vec<Json> {
    let texts: Vec<String> =
        serde_json::from_str(include_str!("../../tests/fixtures/hostile-values.json"))
            .expect("the fixture is a JSON array of strings");
    let mut all: Vec<Json> = texts.iter().map(|t| json!(t)).collect();
    let deep = (0..200).fold(json!(1), |v, _| json!([v]));
    all.extend([
        json!(3),
        json!(-5),
        json!(1.5),
        json!(1e300),
        json!(true),
        json!(null),
        json!([1, "a"]),
        json!({"k": "v", "a: b": [null]}),
        deep,
    ]);
    all
}

const HEAD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n";

#[test]
fn proofs_agree_with_the_full_parse_on_hostile_values() {
    let templates = [
        // Every position the shipped tree puts a value in.
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n  labels:\n    a: probe # {{v}}\ndata:\n  plain: {{v}}\n  mixed: pre-{{v}}-post\n  double: \"x{{v}}\"\n  single: 'x''{{v}}'\n  flow: [sh, {{v}}, --x={{v}}, \"q{{v}}\"]\n  map: {a: {{v}}, b: x{{v}}}\n  block: |\n    a={{v}}\n    b=2\n  first: |\n    {{v}}\n  folded: >\n    f {{v}}\n  last: end\n",
        "# {{v}}\n---\napiVersion: {{v}}\nkind: \"{{v}}\"\nmetadata:\n  name: {{v}}\n---\n\n\napiVersion: v1\nkind: Secret\nmetadata:\n  generateName: \"{{v}}\"\nstringData:\n  x: |\n    {{v}}\n...\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{v}}-x\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"a\\\n  {{v}}\"\n",
        // An escaped line break: the scalar is the value alone, but spaces it starts with go.
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"\\\n    {{v}}\"\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\ndata:\n  {{v}}: 1\n  k: {{v}}\n    more\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\ndata:\n  a: !!str {{v}}\n  b: &x {{v}}\n  c: *x\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\ndata:\n  ? [\"{{v}}\"]\n  : 1\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  - {{v}}\n  - - {{v}}\n    - \"multi\n      {{v}} line\"\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  name: q\ndata: {{v}}\n",
        "kind: Pod\nmetadata:\n  name: {{v}}\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\ndata:\n  a: {{{v}}}\n",
        "{{v}}\n",
        "--- {{v}}\n",
    ];
    let (engine, _) = Engine::new(&[], None).unwrap();
    let proofs = Proofs::default();
    let mut covered = 0;
    for t in templates {
        for v in values() {
            covered += usize::from(check(&engine, &proofs, t, &v) == Some(true));
        }
    }
    assert!(covered > 100, "proofs covered only {covered} renders");
    let plain = json!("plain value");
    for (t, proven) in [
        (templates[0], true),
        (templates[1], true),
        (templates[2], false),
    ] {
        assert_eq!(check(&engine, &proofs, t, &plain), Some(proven), "{t}");
    }
    // A name made of a number is left to the full parse, which reads it as text.
    assert_eq!(
        check(&engine, &proofs, templates[1], &json!(7)),
        Some(false)
    );
}

/// Line fragments (under `data:`) in every YAML position, combined at random.
const FRAGMENTS: &[&str] = &[
    "  k#: {{v}}\n",
    "  k#: pre-{{v}}-{{w}}\n",
    "  k#: \"x{{v}}\"\n",
    "  k#: 'x{{v}}'\n",
    "  k#: [a, {{v}}, \"{{w}}\", {b: {{v}}}]\n",
    "  k#: |\n    {{v}}\n    t\n",
    "  k#: |-\n    a {{v}}\n\n    {{w}}\n",
    "  k#: >\n    {{v}}\n",
    "  # {{v}}\n",
    "  k#: x # {{v}}\n",
    "  {{v}}: x\n",
    "  k#:\n  - {{v}}\n  - - {{w}}\n",
    "  k#: \"multi\n    {{v}} line\"\n",
    "  k#: {{v}}\n    cont\n",
    "  ? {{v}}\n  : x\n",
    "  k#: !!str {{v}}\n",
    "  k#: &a# {{v}}\n  j#: *a#\n",
    "  k#:\n    {{v}}: 1\n",
    "  k#: [\n    {{v}},\n    {{w}}]\n",
    "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {{v}}\ndata:\n",
    "---\n# {{v}}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: n#\ndata:\n",
    "  k#: {{v}}\n  k#: dup\n",
];

#[test]
fn proofs_agree_with_the_full_parse_on_random_templates() {
    let (engine, _) = Engine::new(&[], None).unwrap();
    let proofs = Proofs::default();
    let values = values();
    let mut rng = StdRng::seed_from_u64(18);
    let (mut covered, mut left) = (0, 0);
    for _ in 0..3000 {
        let mut t = format!("{HEAD}data:\n");
        for i in 0..rng.random_range(1..6) {
            let fragment = FRAGMENTS[rng.random_range(0..FRAGMENTS.len())];
            t.push_str(&fragment.replace('#', &i.to_string()));
        }
        let v = &values[rng.random_range(0..values.len())];
        match check(&engine, &proofs, &t, v) {
            Some(true) => covered += 1,
            Some(false) => left += 1,
            None => {}
        }
    }
    assert!(
        covered > 300 && left > 300,
        "{covered} renders proven, {left} left to the full parse"
    );
}

#[test]
fn a_template_using_the_marker_characters_is_not_proven() {
    let t = format!("{HEAD}data:\n  a: \"{OPEN}0{CLOSE}\"\n  b: {{{{v}}}}\n");
    let (engine, _) = Engine::new(&[], None).unwrap();
    assert_eq!(
        check(&engine, &Proofs::default(), &t, &json!("x")),
        Some(false)
    );
}
