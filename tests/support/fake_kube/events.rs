//! `v1` Events, as the kubelet and the controllers record them: one object per
//! (involved object, reason, message), its `count` and `lastTimestamp` bumped when the
//! same thing happens again.

use super::objects::{Store, Stored, now_rfc3339};
use serde_json::{Value, json};
use std::time::Instant;

/// Records that `reason` happened to `involved` (an object as stored); `kind` is
/// `Normal` or `Warning`.
pub fn record(
    store: &mut Store,
    involved: &Value,
    kind: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let meta = |k: &str| {
        involved
            .pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (ns, name, uid) = (meta("namespace"), meta("name"), meta("uid"));
    let now = now_rfc3339();
    let same = store.objects.iter().find_map(|((plural, ens, ename), s)| {
        let e = &s.object;
        (plural == "events"
            && *ens == ns
            && e.pointer("/involvedObject/uid").and_then(Value::as_str) == Some(uid.as_str())
            && e["reason"] == reason
            && e["message"] == message)
            .then(|| ename.clone())
    });
    let rv = store.next_rv();
    if let Some(ename) = same {
        let stored = store
            .objects
            .get_mut(&("events".to_string(), ns, ename))
            .expect("found above");
        let count = stored.object["count"].as_i64().unwrap_or(1) + 1;
        stored.object["count"] = json!(count);
        stored.object["lastTimestamp"] = json!(now);
        stored.object["metadata"]["resourceVersion"] = json!(rv);
        return;
    }
    let ename = format!("{name}.{:016x}", store.resource_version);
    let event_uid = store.next_uid();
    let object = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": ename, "namespace": ns, "uid": event_uid, "resourceVersion": rv,
            "creationTimestamp": now},
        "involvedObject": {"kind": involved.get("kind").cloned().unwrap_or(Value::Null),
            "apiVersion": involved.get("apiVersion").cloned().unwrap_or(Value::Null),
            "namespace": ns, "name": name, "uid": uid},
        "reason": reason, "message": message, "type": kind, "count": 1,
        "firstTimestamp": now, "lastTimestamp": now,
        "source": {"component": component, "host": super::node::NODE_NAME},
        "reportingComponent": component, "reportingInstance": super::node::NODE_NAME});
    store.objects.insert(
        ("events".to_string(), ns, ename),
        Stored {
            object,
            applied: Default::default(),
            changed_at: Instant::now(),
            delete_at: None,
        },
    );
}

/// The events recorded about the object with `uid`, oldest first: `(type, reason,
/// message)`.
pub fn about(store: &Store, uid: &str) -> Vec<(String, String, String)> {
    let mut found: Vec<(u64, (String, String, String))> = store
        .objects
        .iter()
        .filter(|((plural, _, _), s)| {
            plural == "events"
                && s.object
                    .pointer("/involvedObject/uid")
                    .and_then(Value::as_str)
                    == Some(uid)
        })
        .map(|(_, s)| {
            let e = &s.object;
            let t = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            let rv = e
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            (rv, (t("type"), t("reason"), t("message")))
        })
        .collect();
    found.sort_by_key(|(rv, _)| *rv);
    found.into_iter().map(|(_, e)| e).collect()
}
