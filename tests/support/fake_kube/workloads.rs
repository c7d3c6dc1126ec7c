//! The controllers of a cluster whose pods are real (with the node of `node/`):
//!
//! - ReplicationController: creates pods from its template (`generateName`-style names,
//!   a controller `ownerReference`, the template's labels) until `replicas` active pods
//!   match its selector, adopts matching orphans, deletes the surplus (not-ready and
//!   younger ones first); it never replaces a pod because the template changed, as the
//!   real controller does not. Its status counts the real pods.
//! - DaemonSet: one pod on the one node (`RollingUpdate` replaces a pod of an older
//!   template, `OnDelete` does not; a failed pod is deleted and made again).
//! - Deployments and Jobs are not run on real pods: they are reported (an event and a
//!   condition), never shown as ready.
//! - The garbage collector: foreground deletion waits for dependents; dependents of a
//!   deleted owner, and objects of a deleted namespace, are deleted.

use super::discovery;
use super::events;
use super::objects::{Key, Store, now_rfc3339, rfc3339_at};
use super::writes::create;
use super::{Shared, api::Target};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

pub fn tick(shared: &Shared) {
    let mut store = shared.store.lock().unwrap();
    let keys: Vec<Key> = store.objects.keys().cloned().collect();
    for key in &keys {
        match key.0.as_str() {
            "replicationcontrollers" => replication_controller(shared, &mut store, key),
            "daemonsets" => daemon_set(shared, &mut store, key),
            "deployments" | "jobs" => not_run(&mut store, key),
            _ => {}
        }
    }
    collect_garbage(&mut store);
}

/// The replication controllers, DaemonSets and the garbage collector of the simulated
/// cluster whose pods are only statuses (`Faults::rc_pods`): the same decisions as with
/// real pods.
pub fn simulated_pods(shared: &Shared, store: &mut Store) {
    let keys: Vec<Key> = store.objects.keys().cloned().collect();
    for key in &keys {
        match key.0.as_str() {
            "replicationcontrollers" => replication_controller(shared, store, key),
            "daemonsets" => daemon_set(shared, store, key),
            _ => {}
        }
    }
    collect_garbage(store);
}

fn meta<'a>(o: &'a Value, k: &str) -> &'a str {
    o["metadata"][k].as_str().unwrap_or_default()
}

fn terminating(o: &Value) -> bool {
    o.pointer("/metadata/deletionTimestamp").is_some()
}

fn active(pod: &Value) -> bool {
    !terminating(pod)
        && !matches!(
            pod.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        )
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn controller_uid(o: &Value) -> Option<&str> {
    o.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r["controller"] == true)
        .and_then(|r| r["uid"].as_str())
}

/// The pods of `owner`'s namespace it controls or may adopt: its own, and orphans its
/// selector matches (adopted now).
fn claim(
    store: &mut Store,
    owner: &Value,
    matches: impl Fn(Option<&Value>) -> bool,
) -> Vec<(Key, Value)> {
    let (ns, uid) = (meta(owner, "namespace").to_string(), meta(owner, "uid"));
    let mut out = Vec::new();
    let candidates: Vec<Key> = store
        .objects
        .iter()
        .filter(|((p, pns, _), _)| p == "pods" && *pns == ns)
        .map(|(k, _)| k.clone())
        .collect();
    for k in candidates {
        let pod = &store.objects[&k].object;
        match controller_uid(pod) {
            Some(u) if u == uid => out.push((k.clone(), pod.clone())),
            None if matches(pod.pointer("/metadata/labels")) && !terminating(pod) => {
                let rv = store.next_rv();
                let s = store.objects.get_mut(&k).expect("listed");
                s.object["metadata"]["ownerReferences"] = json!([owner_ref(owner)]);
                s.object["metadata"]["resourceVersion"] = json!(rv);
                out.push((k.clone(), s.object.clone()));
            }
            _ => {}
        }
    }
    out
}

fn owner_ref(owner: &Value) -> Value {
    json!({"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta(owner, "name"),
        "uid": meta(owner, "uid"), "controller": true, "blockOwnerDeletion": true})
}

/// A new pod from `template`, named `BASE-xxxxx` as `generateName` would.
fn create_pod(
    shared: &Shared,
    store: &mut Store,
    owner: &Value,
    template: &Value,
    extra_labels: &[(&str, String)],
    node: Option<&str>,
) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let (ns, base) = (meta(owner, "namespace").to_string(), meta(owner, "name"));
    let name = loop {
        let suffix: String = (0..5)
            .map(|_| ALPHABET[(shared.roll() * ALPHABET.len() as f64) as usize] as char)
            .collect();
        let name = format!("{base}-{suffix}");
        if !store
            .objects
            .contains_key(&("pods".into(), ns.clone(), name.clone()))
        {
            break name;
        }
    };
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    for (k, v) in extra_labels {
        labels[*k] = json!(v);
    }
    let mut metadata = json!({"name": name, "generateName": format!("{base}-"), "labels": labels,
        "ownerReferences": [owner_ref(owner)]});
    if let Some(a) = template.pointer("/metadata/annotations") {
        metadata["annotations"] = a.clone();
    }
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec});
    let target = Target {
        t: discovery::find("", "v1", "pods").expect("pods are served"),
        ns: ns.clone(),
        name: None,
        sub: None,
    };
    create(
        store,
        &target,
        &name,
        pod,
        "kube-controller-manager",
        None,
        false,
        Instant::now(),
    );
    events::record(
        store,
        owner,
        "Normal",
        "SuccessfulCreate",
        &format!("Created pod: {name}"),
        controller_of(owner),
    );
    name
}

fn controller_of(owner: &Value) -> &'static str {
    match owner["kind"].as_str() {
        Some("DaemonSet") => "daemonset-controller",
        _ => "replication-controller",
    }
}

/// Starts a pod's graceful deletion, as `DELETE` without a grace period does.
pub fn delete_pod(store: &mut Store, key: &Key, grace: Option<u64>) {
    let rv = store.next_rv();
    let Some(s) = store.objects.get_mut(key) else {
        return;
    };
    if terminating(&s.object) {
        return;
    }
    let grace = grace.unwrap_or_else(|| {
        s.object
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_u64)
            .unwrap_or(30)
    });
    if grace == 0 {
        store.objects.remove(key);
        return;
    }
    let at = std::time::SystemTime::now() + std::time::Duration::from_secs(grace);
    s.object["metadata"]["deletionTimestamp"] = json!(rfc3339_at(at));
    s.object["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
    s.object["metadata"]["resourceVersion"] = json!(rv);
}

/// Which of `pods` to delete first: unscheduled, pending, not ready, then the youngest.
fn deletion_order(pods: &mut [(Key, Value)]) {
    let rank = |p: &Value| {
        let phase = match p.pointer("/status/phase").and_then(Value::as_str) {
            Some("Running") => 2,
            Some("Pending") => 0,
            _ => 1,
        };
        let created = meta(p, "creationTimestamp").to_string();
        (
            p.pointer("/spec/nodeName").is_some(),
            phase,
            ready(p),
            std::cmp::Reverse(created),
        )
    };
    pods.sort_by_key(|(_, p)| rank(p));
}

fn set_status(store: &mut Store, key: &Key, status: Value) {
    if store.objects.get(key).and_then(|s| s.object.get("status")) == Some(&status) {
        return;
    }
    let rv = store.next_rv();
    if let Some(s) = store.objects.get_mut(key) {
        s.object["status"] = status;
        s.object["metadata"]["resourceVersion"] = json!(rv);
    }
}

/// `{"k": n}` for the non-zero counts, as the API omits empty optional integers.
fn counts(pairs: &[(&str, i64)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in pairs {
        if *v != 0 {
            m.insert(k.to_string(), json!(v));
        }
    }
    Value::Object(m)
}

fn replication_controller(shared: &Shared, store: &mut Store, key: &Key) {
    let rc = store.objects[key].object.clone();
    if terminating(&rc) {
        return;
    }
    let template = rc.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    let selector: BTreeMap<String, Value> = rc
        .pointer("/spec/selector")
        .or_else(|| template.pointer("/metadata/labels"))
        .and_then(Value::as_object)
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default();
    if selector.is_empty() {
        return;
    }
    let matches = |labels: Option<&Value>| {
        selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    };
    let mut pods: Vec<(Key, Value)> = claim(store, &rc, matches)
        .into_iter()
        .filter(|(_, p)| active(p))
        .collect();
    let want = rc
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let have = pods.len() as i64;
    if have < want {
        for _ in 0..(want - have).min(500) {
            create_pod(shared, store, &rc, &template, &[], None);
        }
    } else if have > want {
        deletion_order(&mut pods);
        for (k, _) in pods.iter().take((have - want) as usize) {
            delete_pod(store, k, None);
            events::record(
                store,
                &rc,
                "Normal",
                "SuccessfulDelete",
                &format!("Deleted pod: {}", k.2),
                "replication-controller",
            );
        }
    }
    let labels = template.pointer("/metadata/labels");
    let fully = pods
        .iter()
        .filter(|(_, p)| {
            labels
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .all(|(k, v)| p.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
        })
        .count() as i64;
    let ready_count = pods.iter().filter(|(_, p)| ready(p)).count() as i64;
    let mut status = counts(&[
        ("fullyLabeledReplicas", fully),
        ("readyReplicas", ready_count),
        ("availableReplicas", ready_count),
        (
            "observedGeneration",
            rc["metadata"]["generation"].as_i64().unwrap_or(1),
        ),
    ]);
    status["replicas"] = json!(have);
    set_status(store, key, status);
}

/// A stable hash of a pod template (the `controller-revision-hash` label).
fn template_hash(template: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    template.to_string().hash(&mut h);
    format!("{:010x}", h.finish() & 0xff_ffff_ffff)
}

fn daemon_set(shared: &Shared, store: &mut Store, key: &Key) {
    let ds = store.objects[key].object.clone();
    if terminating(&ds) {
        return;
    }
    let template = ds.pointer("/spec/template").cloned().unwrap_or(Value::Null);
    let selector = ds.pointer("/spec/selector").cloned().unwrap_or(Value::Null);
    let matches =
        |labels: Option<&Value>| super::objects::label_selector_matches(&selector, labels);
    let owned = claim(store, &ds, matches);
    let fits = template
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| super::node::node_label(k) == v.as_str());
    let desired = i64::from(fits);
    let hash = template_hash(&template);
    let current =
        |p: &Value| p.pointer("/metadata/labels/controller-revision-hash") == Some(&json!(hash));
    for (k, p) in &owned {
        if p.pointer("/status/phase").and_then(Value::as_str) == Some("Failed") && !terminating(p) {
            delete_pod(store, k, None);
        }
    }
    let pods: Vec<(Key, Value)> = owned.into_iter().filter(|(_, p)| active(p)).collect();
    let rolling = ds
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        != Some("OnDelete");
    if pods.is_empty() && desired == 1 {
        let generation = ds["metadata"]["generation"]
            .as_i64()
            .unwrap_or(1)
            .to_string();
        create_pod(
            shared,
            store,
            &ds,
            &template,
            &[
                ("controller-revision-hash", hash.clone()),
                ("pod-template-generation", generation),
            ],
            Some(super::node::NODE_NAME),
        );
    } else if rolling {
        for (k, p) in &pods {
            if !current(p) || desired == 0 {
                delete_pod(store, k, None);
            }
        }
    }
    let scheduled = pods.len().min(1) as i64;
    let ready_count = pods.iter().filter(|(_, p)| ready(p)).count().min(1) as i64;
    let updated = pods.iter().filter(|(_, p)| current(p)).count().min(1) as i64;
    let mut status = counts(&[
        ("numberReady", ready_count),
        ("numberAvailable", ready_count),
        ("updatedNumberScheduled", updated),
        ("numberUnavailable", desired - ready_count),
        (
            "observedGeneration",
            ds["metadata"]["generation"].as_i64().unwrap_or(1),
        ),
    ]);
    status["currentNumberScheduled"] = json!(scheduled);
    status["desiredNumberScheduled"] = json!(desired);
    status["numberMisscheduled"] = json!(0);
    set_status(store, key, status);
}

/// Deployments and Jobs: said once, on the object and as an event.
fn not_run(store: &mut Store, key: &Key) {
    let obj = store.objects[key].object.clone();
    let message = format!(
        "{} is not run on the real-pod test cluster (it runs Pods, ReplicationControllers and DaemonSets)",
        obj["kind"].as_str().unwrap_or("this kind")
    );
    let (kind, status) = if key.0 == "jobs" {
        ("Failed", "True")
    } else {
        ("Progressing", "False")
    };
    let condition = json!({"type": kind, "status": status, "reason": "NotSupported",
        "message": message, "lastTransitionTime": now_rfc3339()});
    let has = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["reason"] == "NotSupported"));
    if has {
        return;
    }
    let mut status = obj.get("status").cloned().unwrap_or_else(|| json!({}));
    status["conditions"] = json!([condition]);
    set_status(store, key, status);
    events::record(
        store,
        &obj,
        "Warning",
        "NotSupported",
        &message,
        "fake-node",
    );
}

fn collect_garbage(store: &mut Store) {
    let uids: HashSet<String> = store
        .objects
        .values()
        .map(|s| meta(&s.object, "uid").to_string())
        .collect();
    let namespaces: HashSet<String> = store
        .objects
        .keys()
        .filter(|k| k.0 == "namespaces")
        .map(|k| k.2.clone())
        .collect();
    let mut doomed = Vec::new();
    let mut foreground_done = Vec::new();
    for (k, s) in &store.objects {
        let o = &s.object;
        let owners: Vec<&str> = o
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r["uid"].as_str())
            .collect();
        let orphaned = !owners.is_empty() && owners.iter().all(|u| !uids.contains(*u));
        let namespace_gone = !k.1.is_empty() && k.0 != "events" && !namespaces.contains(&k.1);
        if (orphaned || namespace_gone) && !terminating(o) {
            doomed.push(k.clone());
        }
        let foreground = terminating(o)
            && o.pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| f.iter().any(|f| f == "foregroundDeletion"));
        if foreground {
            let uid = meta(o, "uid");
            let dependents: Vec<Key> = store
                .objects
                .iter()
                .filter(|(_, d)| {
                    d.object
                        .pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .is_some_and(|r| r.iter().any(|r| r["uid"] == uid))
                })
                .map(|(k, _)| k.clone())
                .collect();
            if dependents.is_empty() {
                foreground_done.push(k.clone());
            } else {
                doomed.extend(dependents);
            }
        }
    }
    for k in doomed {
        if k.0 == "pods" {
            delete_pod(store, &k, None);
        } else if store
            .objects
            .get(&k)
            .is_some_and(|s| !terminating(&s.object))
        {
            store.objects.remove(&k);
        }
    }
    for k in foreground_done {
        store.objects.remove(&k);
    }
}
