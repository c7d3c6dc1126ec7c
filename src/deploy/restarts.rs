//! Which long-running workloads a change of the tree restarts: those whose pod template
//! changed, and those reading a Secret or ConfigMap whose data changed (the
//! configuration hash their template carries, see [`super::apply::CONFIG_HASH`]). Only
//! names are given, never a value.

use super::manifest::{Manifest, ObjectId};
use super::order::is_long_running;
use crate::diff::Restart;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The data of a Secret or ConfigMap, as the configuration hash reads it.
fn data(m: &Manifest) -> [Option<&Value>; 3] {
    ["data", "stringData", "binaryData"].map(|f| m.body.get(f))
}

/// The workloads of `new` that `old` also has and that would restart, in `new`'s order.
pub fn restarts(old: &[Manifest], new: &[Manifest]) -> Vec<Restart> {
    let before: HashMap<&ObjectId, &Manifest> = old.iter().map(|m| (&m.id, m)).collect();
    let after: HashMap<&ObjectId, &Manifest> = new.iter().map(|m| (&m.id, m)).collect();
    let config_changed = |id: &ObjectId| match (before.get(id), after.get(id)) {
        (Some(b), Some(a)) => data(b) != data(a),
        (None, None) => false,
        _ => true,
    };
    let mut out = Vec::new();
    for m in new.iter().filter(|m| is_long_running(&m.id.kind)) {
        let Some(was) = before.get(&m.id) else {
            continue;
        };
        let mut because = Vec::new();
        if was.body.pointer("/spec/template") != m.body.pointer("/spec/template") {
            because.push("its pod template changed".to_string());
        }
        let mut read = super::infer::references(m);
        read.extend(super::infer::references(was));
        read.sort();
        read.dedup();
        for r in read.into_iter().filter(|r| config_changed(r)) {
            if matches!(r.kind.as_str(), "Secret" | "ConfigMap") {
                because.push(format!("`{r}` changed"));
            }
        }
        if !because.is_empty() {
            out.push(Restart {
                object: m.id.to_string(),
                because,
            });
        }
    }
    out
}

/// The data of a Secret or ConfigMap as bytes by key, however it is written (`stringData`
/// or base64 `data` of a Secret, `data` or base64 `binaryData` of a ConfigMap), so the
/// tree's object compares with the live one the server stores.
fn bytes_of(body: &Value) -> BTreeMap<String, Vec<u8>> {
    use base64::Engine as _;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_default()
    };
    let secret = body.get("kind").and_then(Value::as_str) == Some("Secret");
    let mut out = BTreeMap::new();
    for (field, encoded) in [
        ("data", secret),
        ("binaryData", true),
        ("stringData", false),
    ] {
        for (k, v) in body
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let raw = match encoded {
                true => b64(v),
                false => v.as_str().unwrap_or_default().as_bytes().to_vec(),
            };
            out.insert(k.clone(), raw);
        }
    }
    out
}

/// Whether the live workload `now` is restarted by applying `wanted` (its desired body,
/// from `m`), and why: its template hash or its configuration hash differs from the live
/// template's; the configuration is named by the Secrets and ConfigMaps whose data the
/// cluster holds otherwise.
pub fn live_restart(
    m: &Manifest,
    wanted: &Value,
    now: &Value,
    tree: &[Manifest],
    live: &dyn Fn(&ObjectId) -> Option<Value>,
) -> Option<Restart> {
    if !is_long_running(&m.id.kind) {
        return None;
    }
    let stamp = |v: &Value, key: &str| {
        v.pointer("/spec/template/metadata/annotations")
            .and_then(|a| a.get(key))
            .cloned()
    };
    let mut because = Vec::new();
    let (template, config) = (super::rollout::TEMPLATE_HASH, super::apply::CONFIG_HASH);
    let config_changed = stamp(wanted, config) != stamp(now, config);
    // The template hash covers the configuration hash, so it tells of a template change
    // only when the configuration is the same (the live template, with the server's
    // defaults, cannot be compared field by field).
    if !config_changed
        && stamp(wanted, template).is_some()
        && stamp(wanted, template) != stamp(now, template)
    {
        because.push("its pod template changed".to_string());
    }
    if config_changed {
        let changed: Vec<String> = super::infer::references(m)
            .into_iter()
            .filter(|r| matches!(r.kind.as_str(), "Secret" | "ConfigMap"))
            .filter(|r| {
                let ours = tree.iter().find(|t| &t.id == r).map(|t| bytes_of(&t.body));
                ours != live(r).map(|l| bytes_of(&l))
            })
            .map(|r| format!("`{r}` changed"))
            .collect();
        match changed.is_empty() {
            true => because.push("the configuration it reads changed".into()),
            false => because.extend(changed),
        }
    }
    (!because.is_empty()).then(|| Restart {
        object: m.id.to_string(),
        because,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tree(password: &str, greeting: &str) -> Vec<Manifest> {
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData: {{password: {password}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg}}\ndata: {{a: b}}\n---\napiVersion: v1\nkind: ReplicationController\nmetadata: {{name: api}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        image: api\n        env:\n        - name: PW\n          valueFrom: {{secretKeyRef: {{name: db, key: password}}}}\n---\napiVersion: v1\nkind: ReplicationController\nmetadata: {{name: web}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web\n        args: [{greeting}]\n        envFrom: [{{configMapRef: {{name: cfg}}}}]\n"
        );
        super::super::manifest::parse_file(Path::new("t.yaml"), &text).unwrap()
    }

    #[test]
    fn a_changed_secret_restarts_its_readers_and_a_changed_template_its_own_workload() {
        assert_eq!(
            restarts(&tree("pw-old", "hi"), &tree("pw-old", "hi")),
            vec![]
        );
        assert_eq!(
            restarts(&tree("pw-old", "hi"), &tree("pw-new", "hi")),
            vec![Restart {
                object: "ReplicationController/api".into(),
                because: vec!["`Secret/db` changed".into()],
            }]
        );
        let both = restarts(&tree("pw-old", "hi"), &tree("pw-new", "hello"));
        let names: Vec<&str> = both.iter().map(|r| r.object.as_str()).collect();
        assert_eq!(
            names,
            ["ReplicationController/api", "ReplicationController/web"]
        );
        assert_eq!(both[1].because, ["its pod template changed"]);
        let shown = format!("{both:?}");
        assert!(!shown.contains("pw-"), "{shown}");
    }
}
