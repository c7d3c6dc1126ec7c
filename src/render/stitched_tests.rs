//! Odd templates through the whole render of one file: found panics, kept as a test.

use super::*;
use std::panic::AssertUnwindSafe;

const FRAGS: &[&str] = &[
    "{{",
    "}}",
    "{{{",
    "}}}",
    "{{x}}",
    "{{#if x}}",
    "{{/if}}",
    "{{else}}",
    "{{> p}}",
    "{{upper}}",
    "{{include \"a\"}}",
    "{{~x~}}",
    "\\{{x}}",
    "{{!c}}",
    "{{!--",
    "--}}",
    "a",
    ": ",
    ":",
    "- ",
    "-",
    "|",
    "|-",
    "|+",
    ">",
    ">-",
    "|2",
    "\"",
    "'",
    "#",
    " #",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "  ",
    "é",
    "😀",
    "\u{2028}",
    "\u{feff}",
    "[",
    "]",
    "{",
    "}",
    ",",
    "---",
    "...",
    "&a",
    "*a",
    "!!str",
    "? ",
    "%YAML 1.2",
    "key",
    "x",
    "{{#each l}}",
    "{{/each}}",
    "{{@index}}",
    "{{this}}",
    "{{lookup o \"k\"}}",
    "{{default \"d\" x}}",
    "{{indent 2 x}}",
    "{{b64dec x}}",
    "{{join}}",
    "{{x.y.z}}",
    "{{../x}}",
    "{{ x }}",
    "{{x y z}}",
    "{{#with o}}",
    "{{/with}}",
    "\\",
    "\u{0}",
    "\u{7f}",
    "\u{85}",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Templates stitched together from fragments that stress the tag scanner, the YAML
/// pre-pass and the escaping (multi-byte and line-separator characters right after
/// `{{`, unclosed tags, block scalars, comments) must render or fail, never panic.
/// `KO_FUZZ_ITERS` and `KO_FUZZ_SEED` run it longer or elsewhere.
#[test]
fn stitched_templates_never_panic() {
    let iters: u64 = std::env::var("KO_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let seed: u64 = std::env::var("KO_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
    let params: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "x": "a\"b\\c\nd: #e", "y": 5, "l": [1, "two\n"], "o": {"k": "v", "y": {"z": "\u{2028}"}}, "e": "", "n": null,
    })).unwrap();
    let data = handlebars::Context::wraps(&params).unwrap();
    let (engine, _) = engine::Engine::new(&[], None).unwrap();
    let mut found = Vec::new();
    for _ in 0..iters {
        let n = 1 + rng.next() % 30;
        let mut t = String::new();
        for _ in 0..n {
            t.push_str(FRAGS[(rng.next() % FRAGS.len() as u64) as usize]);
        }
        let src = engine::Source {
            display: "t.yaml".into(),
            text: t.clone(),
        };
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
            if let Ok(r) = engine.render(&src, &data, None) {
                let _ = objects::parse("t.yaml", &r.text);
            }
        }));
        if r.is_err() {
            found.push(t);
        }
    }
    found.sort_by_key(|t| t.len());
    for t in found.iter().take(10) {
        eprintln!("panics on {t:?}");
    }
    assert!(found.is_empty(), "{} panics", found.len());
}
