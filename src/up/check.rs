//! Whether a deployed part is exactly as the last run left it, from one list of the live
//! objects: every object there, the same one (uid), our fields untouched, and ready.

use super::record::Mark;
use crate::deploy::manifest::ObjectId;
use crate::deploy::ops::FIELD_MANAGER;
use crate::deploy::ready::{Readiness, readiness};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The mark of a live object: uid and a digest of the fields our manager owns.
pub fn mark(live: &Value) -> Mark {
    let uid = live
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let ours: Vec<&Value> = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER))
        .filter_map(|f| f.get("fieldsV1"))
        .collect();
    Mark {
        uid,
        fields: super::digest_json(&Value::from(ours.into_iter().cloned().collect::<Vec<_>>())),
    }
}

/// Why the objects `ids` are not as recorded (the first few reasons), or `None` when
/// every one is: present with the recorded mark and ready. Objects in `cleaned` may be
/// absent.
pub fn drift(
    ids: &[ObjectId],
    recorded: &BTreeMap<String, Mark>,
    cleaned: &[String],
    live: &HashMap<ObjectId, Value>,
) -> Option<String> {
    let mut reasons = Vec::new();
    for id in ids {
        let key = id.to_string();
        let reason = match (live.get(id), recorded.get(&key)) {
            (None, _) if cleaned.contains(&key) => continue,
            (None, _) => "missing".to_string(),
            (Some(_), None) => "not deployed by the last run".to_string(),
            (Some(obj), Some(m)) if mark(obj).uid != m.uid => "replaced since".to_string(),
            (Some(obj), Some(m)) if mark(obj).fields != m.fields => "changed since".to_string(),
            (Some(obj), Some(_)) => match readiness(&id.kind, obj) {
                Readiness::Ready => continue,
                Readiness::Pending(why) | Readiness::Failed(why) => format!("not ready ({why})"),
            },
        };
        reasons.push(format!("{key} {reason}"));
    }
    match reasons.len() {
        0 => None,
        1..=3 => Some(reasons.join(", ")),
        n => Some(format!("{}, and {} more", reasons[..3].join(", "), n - 3)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rc(uid: &str, ready: i64, field: &str) -> Value {
        json!({"metadata": {"uid": uid, "generation": 1, "managedFields": [
                {"manager": "kubectl", "fieldsV1": {"f:other": {}}},
                {"manager": "kube-openstack", "fieldsV1": {field: {}}}]},
               "spec": {"replicas": 1},
               "status": {"observedGeneration": 1, "readyReplicas": ready}})
    }

    #[test]
    fn unchanged_ready_objects_are_no_drift_and_every_change_is_named() {
        let id = ObjectId::new("ReplicationController", "keystone");
        let live_ok = rc("u1", 1, "f:spec");
        let recorded: BTreeMap<String, Mark> = [(id.to_string(), mark(&live_ok))].into();
        let check = |obj: Option<Value>| {
            let live: HashMap<ObjectId, Value> = obj.map(|o| (id.clone(), o)).into_iter().collect();
            drift(std::slice::from_ref(&id), &recorded, &[], &live)
        };
        assert_eq!(check(Some(live_ok.clone())), None);
        // Another manager's fields do not count.
        let mut other = live_ok.clone();
        other["metadata"]["managedFields"][0]["fieldsV1"] = json!({"f:x": {}});
        assert_eq!(check(Some(other)), None);
        assert!(check(None).unwrap().contains("missing"));
        assert!(
            check(Some(rc("u2", 1, "f:spec")))
                .unwrap()
                .contains("replaced")
        );
        assert!(
            check(Some(rc("u1", 1, "f:metadata")))
                .unwrap()
                .contains("changed")
        );
        assert!(
            check(Some(rc("u1", 0, "f:spec")))
                .unwrap()
                .contains("not ready")
        );
    }

    #[test]
    fn cleaned_one_shot_pods_may_be_gone() {
        let id = ObjectId::new("Pod", "keystone-db-sync");
        let live = HashMap::new();
        assert!(drift(std::slice::from_ref(&id), &BTreeMap::new(), &[], &live).is_some());
        assert_eq!(
            drift(
                std::slice::from_ref(&id),
                &BTreeMap::new(),
                &[id.to_string()],
                &live
            ),
            None
        );
    }
}
