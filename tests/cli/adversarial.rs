//! No parameter value can change a rendered document's structure, and every value reads
//! back exactly — checked with PyYAML (a YAML 1.1 reader, as Kubernetes' is) and serde_yaml.

use crate::support::{Project, failure, missing, stderr, stdout};
use serde_json::{Value, json};
use std::process::Command;

/// Every position the shipped tree puts a value in.
const TEMPLATE: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
  labels:
    app.kubernetes.io/name: probe # {{v}}
data:
  plain: {{v}}
  mixed: pre-{{v}}-post
  double: "x{{v}}"
  single: 'x''{{v}}'
  url: mysql+pymysql://user:{{v}}@mariadb/db?charset=utf8
  flow: [sh, {{v}}, --x={{v}}, "q{{v}}"]
  block: |
    a={{v}}
    b=2
  last: end
"#;

/// Values meant to break out of their position (shared with the render's proof tests).
fn values() -> Vec<String> {
    serde_json::from_str(include_str!("../fixtures/hostile-values.json"))
        .expect("the fixture is a JSON array of strings")
}

fn expected(v: &str) -> Value {
    json!({
        "plain": v,
        "mixed": format!("pre-{v}-post"),
        "double": format!("x{v}"),
        "single": format!("x'{v}"),
        "url": format!("mysql+pymysql://user:{v}@mariadb/db?charset=utf8"),
        "flow": ["sh", v, format!("--x={v}"), format!("q{v}")],
        "block": format!("a={v}\nb=2\n"),
        "last": "end",
    })
}

/// The rendered text, or what the render said when it refused the value.
fn render(p: &Project, v: &str) -> Result<String, String> {
    p.write("params.json", &json!({ "v": v }).to_string());
    let out = p
        .cmd()
        .args([
            "render",
            "--stdout",
            "--source",
            "file",
            "--params-file",
            "params.json",
        ])
        .output()
        .unwrap();
    match out.status.success() {
        true => Ok(stdout(&out)),
        false => Err(stderr(&out)),
    }
}

/// A block scalar has no escapes: a carriage return, a Unicode line break or a control
/// character cannot be written in one and keep its value.
fn block_cannot_hold(v: &str) -> bool {
    v.chars().any(|c| {
        matches!(c, '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
            || (c.is_control() && c != '\n' && c != '\t')
    })
}

/// Every text as PyYAML reads it (`KO_PYTHON`, the virtualenv `scripts/test.sh` makes, or
/// `python3`). Without Python or PyYAML the test fails saying so.
fn pyyaml_load_all(texts: &[String]) -> Vec<Value> {
    let script = "import json,sys,yaml\nprint(json.dumps([yaml.safe_load(t) for t in json.load(sys.stdin)]))";
    let python = std::env::var("KO_PYTHON").unwrap_or_else(|_| "python3".into());
    let how = "`apt-get install python3-yaml`, or point `KO_PYTHON` at a Python with PyYAML (scripts/test.sh does)";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| missing(&format!("`{python}` ({e})"), how));
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!(texts).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if String::from_utf8_lossy(&out.stderr).contains("No module named 'yaml'") {
        missing(&format!("PyYAML for `{python}`"), how);
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn adversarial_values_never_change_structure_and_read_back_exactly() {
    let p = Project::new();
    p.write("kubernetes-in/probe.yaml", TEMPLATE);
    let (refused, values): (Vec<String>, Vec<String>) =
        values().into_iter().partition(|v| block_cannot_hold(v));
    assert!(!refused.is_empty() && !values.is_empty());
    for v in &refused {
        let err = render(&p, v).expect_err(&format!("{v:?} cannot be in the block scalar"));
        assert!(
            err.contains("kubernetes-in/probe.yaml:15:7: `v` cannot be placed here")
                && err.contains("block scalar cannot hold"),
            "value {v:?}: {err}"
        );
    }
    let rendered: Vec<String> = values
        .iter()
        .map(|v| render(&p, v).unwrap_or_else(|e| panic!("value {v:?}: {e}")))
        .collect();
    for (v, text) in values.iter().zip(&rendered) {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(text).unwrap_or_else(|e| panic!("value {v:?}: {e}\n{text}"));
        let data = serde_json::to_value(&doc["data"]).unwrap();
        assert_eq!(data, expected(v), "serde_yaml, value {v:?}:\n{text}");
        let labels = serde_json::to_value(&doc["metadata"]["labels"]).unwrap();
        assert_eq!(
            labels,
            json!({"app.kubernetes.io/name": "probe"}),
            "the comment kept {v:?} inside it"
        );
    }
    for (v, doc) in values.iter().zip(pyyaml_load_all(&rendered)) {
        assert_eq!(doc["data"], expected(v), "PyYAML (YAML 1.1), value {v:?}");
        assert_eq!(
            doc["metadata"]["labels"],
            json!({"app.kubernetes.io/name": "probe"})
        );
    }
}

#[test]
fn values_keep_their_types_when_alone_in_a_scalar() {
    let p = Project::new();
    p.write("kubernetes-in/t.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\ndata:\n  n: {{n}}\n  b: {{b}}\n  l: {{l}}\n  s: {{s}}\n")
        .write("params.yaml", "n: 3\nb: true\nl: [1, \"two\"]\ns: \"3\"\n");
    let out = p.with_params(&["render", "--stdout"]).output().unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        serde_json::to_value(&doc["data"]).unwrap(),
        json!({"n": 3, "b": true, "l": [1, "two"], "s": "3"})
    );
}

#[test]
fn values_a_block_scalar_cannot_hold_are_refused_with_the_position() {
    let p = Project::new();
    p.write("kubernetes-in/t.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\ndata:\n  conf: |\n    a={{v}}\n  f: >\n    {{w}}\n")
        .write("params.json", &json!({"v": "x\ry", "w": "a\nb"}).to_string());
    let out = p
        .cmd()
        .args([
            "render",
            "--stdout",
            "--source",
            "file",
            "--params-file",
            "params.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("t.yaml:7:7: `v` cannot be placed here") && err.contains("carriage return"),
        "{err}"
    );
    assert!(
        err.contains("t.yaml:9:5: `w` cannot be placed here") && err.contains("folded"),
        "{err}"
    );
}

#[test]
fn a_block_starting_with_a_value_that_starts_with_spaces_keeps_its_indentation() {
    let p = Project::new();
    p.write("kubernetes-in/t.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\ndata:\n  conf: |\n    {{v}}\n    tail\n")
        .write("params.json", &json!({"v": "  indented\n    more"}).to_string());
    let out = p
        .cmd()
        .args([
            "render",
            "--stdout",
            "--source",
            "file",
            "--params-file",
            "params.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", failure(&out));
    let doc: serde_yaml::Value = serde_yaml::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        doc["data"]["conf"].as_str(),
        Some("  indented\n    more\ntail\n")
    );
}
