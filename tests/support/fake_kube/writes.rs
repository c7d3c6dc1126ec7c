//! Writes: create, server-side apply (merge per field manager, conflicts, validation,
//! immutable fields, no new resourceVersion when nothing changes) and graceful delete.

use super::Shared;
use super::api::{Target, check_namespace, key};
use super::objects::{self, ApiError, Stored, bad_request, not_found, status};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Instant;

type Reply = Result<(u16, Value), ApiError>;

#[allow(clippy::too_many_arguments)]
pub(super) fn create(
    store: &mut objects::Store,
    t: &Target,
    name: &str,
    mut obj: Value,
    manager: &str,
    applied: Option<&Value>,
    dry_run: bool,
    now: Instant,
) -> Value {
    let m = obj["metadata"].as_object_mut().expect("validated");
    m.insert(
        "uid".into(),
        json!(if dry_run {
            String::new()
        } else {
            store.next_uid()
        }),
    );
    m.insert("creationTimestamp".into(), json!(objects::now_rfc3339()));
    m.insert("generation".into(), json!(1));
    if t.t.namespaced {
        m.insert("namespace".into(), json!(t.ns));
    }
    let op = if applied.is_some() { "Apply" } else { "Update" };
    let fields = objects::fields_v1(applied.unwrap_or(&obj));
    obj["metadata"]["managedFields"] = json!([{"manager": manager, "operation": op, "apiVersion": t.t.api_version(),
        "time": objects::now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": fields}]);
    defaults(t.t.kind, &mut obj, store, dry_run);
    objects::fold_string_data(t.t.kind, &mut obj);
    if dry_run {
        return obj;
    }
    obj["metadata"]["resourceVersion"] = json!(store.next_rv());
    let k = key(t, name);
    *store.creations.entry(k.clone()).or_default() += 1;
    let mut applied_by = std::collections::BTreeMap::new();
    if let Some(a) = applied {
        applied_by.insert(manager.to_string(), a.clone());
    }
    store.objects.insert(
        k,
        Stored {
            object: obj.clone(),
            applied: applied_by,
            changed_at: now,
            delete_at: None,
        },
    );
    obj
}

/// What the server fills in: a Service's cluster IP, a new pod's phase, a DaemonSet's
/// update strategy.
fn defaults(kind: &str, obj: &mut Value, store: &mut objects::Store, dry_run: bool) {
    match kind {
        "Service" => {
            if obj.pointer("/spec/clusterIP").is_none() && obj.get("spec").is_some() {
                let n = store.objects.len() as u64 + 1;
                let pooled = match dry_run {
                    true => store.cluster_ips.last().cloned(),
                    false => store.cluster_ips.pop(),
                };
                let ip = pooled.unwrap_or_else(|| format!("10.96.{}.{}", n / 250, n % 250 + 1));
                obj["spec"]["clusterIP"] = json!(ip);
            }
            if obj.pointer("/spec/type").is_none() && obj.get("spec").is_some() {
                obj["spec"]["type"] = json!("ClusterIP");
            }
        }
        "Pod" => {
            if obj.pointer("/spec/restartPolicy").is_none() {
                obj["spec"]["restartPolicy"] = json!("Always");
            }
            obj["status"] = json!({"phase": "Pending"});
        }
        "ReplicationController" | "Deployment" => {
            if obj.pointer("/spec/replicas").is_none() {
                obj["spec"]["replicas"] = json!(1);
            }
            obj["status"] = json!({"replicas": 0, "observedGeneration": 0});
        }
        "DaemonSet" => {
            let template = &mut obj["spec"]["template"]["spec"];
            if template.get("restartPolicy").is_none() {
                template["restartPolicy"] = json!("Always");
            }
            if template.get("dnsPolicy").is_none() {
                template["dnsPolicy"] = json!("ClusterFirst");
            }
            if obj.pointer("/spec/updateStrategy").is_none() {
                obj["spec"]["updateStrategy"] = json!({"type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}});
            }
            if obj.pointer("/spec/revisionHistoryLimit").is_none() {
                obj["spec"]["revisionHistoryLimit"] = json!(10);
            }
            obj["status"] = json!({"currentNumberScheduled": 0, "numberMisscheduled": 0,
                "desiredNumberScheduled": 0, "numberReady": 0});
        }
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn apply(
    store: &mut objects::Store,
    t: &Target,
    name: &str,
    q: &HashMap<String, String>,
    ct: &str,
    body: &[u8],
    dry_run: bool,
    now: Instant,
) -> Reply {
    if !ct.starts_with("application/apply-patch+yaml") {
        let msg = format!(
            "the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml (got `{ct}`)"
        );
        return Err(status(415, "UnsupportedMediaType", msg, Value::Null));
    }
    let manager = q.get("fieldManager").cloned().unwrap_or_default();
    if manager.is_empty() {
        return Err(invalid_patch(
            "fieldManager: Required value: is required for apply patch",
        ));
    }
    let force = q.get("force").is_some_and(|v| v == "true");
    let config: Value = serde_yaml::from_slice(body)
        .map_err(|e| bad_request(format!("error decoding YAML: {e}")))?;
    let (kind, api_version) = (
        config.get("kind").and_then(Value::as_str),
        config.get("apiVersion").and_then(Value::as_str),
    );
    if kind != Some(t.t.kind) || api_version != Some(t.t.api_version().as_str()) {
        return Err(bad_request(format!(
            "the apiVersion and kind of the object ({api_version:?}, {kind:?}) do not match the request ({}, {})",
            t.t.api_version(),
            t.t.kind
        )));
    }
    let body_name = config.pointer("/metadata/name").and_then(Value::as_str);
    if body_name != Some(name) {
        return Err(bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            body_name.unwrap_or("")
        )));
    }
    if let Some(ns) = config
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        && ns != t.ns
    {
        return Err(bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ));
    }
    check_namespace(store, t)?;
    let k = key(t, name);
    let Some(existing) = store.objects.get(&k) else {
        objects::validate(t.t.kind, &config)?;
        return Ok((
            201,
            create(
                store,
                t,
                name,
                config.clone(),
                &manager,
                Some(&config),
                dry_run,
                now,
            ),
        ));
    };
    if !force {
        let mut mine = Default::default();
        objects::leaves(&config, "", &mut mine);
        let mut conflicts = Vec::new();
        for (other, applied) in existing.applied.iter().filter(|(m, _)| **m != manager) {
            let mut theirs = Default::default();
            objects::leaves(applied, "", &mut theirs);
            for (path, v) in &mine {
                if theirs.get(path).is_some_and(|tv| tv != v) {
                    conflicts.push(json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{other}\""), "field": path}));
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(status(
                409,
                "Conflict",
                format!("Apply failed with {} conflicts", conflicts.len()),
                json!({"causes": conflicts}),
            ));
        }
    }
    let mut merged = objects::merge_apply(
        Some(&existing.object),
        existing.applied.get(&manager),
        &config,
    );
    objects::fold_string_data(t.t.kind, &mut merged);
    objects::validate(t.t.kind, &merged)?;
    objects::check_immutable(t.t.kind, &existing.object, &merged)?;
    if objects::content(&merged) == objects::content(&existing.object)
        && existing.applied.get(&manager) == Some(&config)
    {
        // Nothing changes: no new resourceVersion, no new generation.
        return Ok((200, existing.object.clone()));
    }
    let spec_changed = merged.get("spec") != existing.object.get("spec");
    let mut obj = merged;
    let generation = existing
        .object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    obj["metadata"]["generation"] = json!(if spec_changed {
        generation + 1
    } else {
        generation
    });
    let mut fields: Vec<Value> = existing
        .object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.get("manager").and_then(Value::as_str) != Some(manager.as_str()))
        .collect();
    fields.push(json!({"manager": manager, "operation": "Apply", "apiVersion": t.t.api_version(), "time": objects::now_rfc3339(),
        "fieldsType": "FieldsV1", "fieldsV1": objects::fields_v1(&config)}));
    obj["metadata"]["managedFields"] = Value::Array(fields);
    if dry_run {
        return Ok((200, obj));
    }
    obj["metadata"]["resourceVersion"] = json!(store.next_rv());
    let stored = store.objects.get_mut(&k).expect("checked above");
    stored.object = obj.clone();
    stored.applied.insert(manager, config);
    if spec_changed {
        stored.changed_at = now;
    }
    Ok((200, obj))
}

fn invalid_patch(message: &str) -> ApiError {
    status(
        422,
        "Invalid",
        format!("PatchOptions.meta.k8s.io \"\" is invalid: {message}"),
        json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]}),
    )
}

#[allow(clippy::too_many_arguments)]
pub(super) fn delete(
    shared: &Shared,
    store: &mut objects::Store,
    t: &Target,
    name: &str,
    q: &HashMap<String, String>,
    body: &[u8],
    dry_run: bool,
    now: Instant,
) -> Reply {
    let k = key(t, name);
    let grace = shared.faults.lock().unwrap().deletion_delay;
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let foreground = body.get("propagationPolicy").and_then(Value::as_str) == Some("Foreground")
        || q.get("propagationPolicy")
            .is_some_and(|p| p == "Foreground");
    let dry_run = dry_run
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    let Some(existing) = store.objects.get(&k) else {
        return Err(not_found(t.t, name));
    };
    if dry_run {
        return Ok((200, existing.object.clone()));
    }
    if shared.node.get().is_some() {
        return Ok((200, delete_real(store, t, &k, q, &body)));
    }
    // Pods terminate gracefully; foreground deletion waits for dependents: either way the
    // object lingers with `deletionTimestamp` set for a while, then goes.
    let graceful = (t.t.kind == "Pod" || foreground) && !grace.is_zero();
    if !graceful {
        let gone = store.objects.remove(&k).expect("checked above");
        return Ok((200, gone.object));
    }
    if existing.delete_at.is_some() {
        return Ok((200, existing.object.clone()));
    }
    let rv = store.next_rv();
    let stored = store.objects.get_mut(&k).expect("checked above");
    stored.delete_at = Some(now + grace);
    stored.object["metadata"]["deletionTimestamp"] = json!(objects::now_rfc3339());
    stored.object["metadata"]["deletionGracePeriodSeconds"] = json!(grace.as_secs());
    stored.object["metadata"]["resourceVersion"] = json!(rv);
    if foreground {
        stored.object["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
    }
    Ok((200, stored.object.clone()))
}

/// Deletion when pods are real: a pod lingers (`deletionTimestamp`) until the node has
/// stopped its containers within the grace period (from the request, else the pod's
/// `terminationGracePeriodSeconds`, else 30 s; 0 removes it at once); other objects
/// follow the propagation policy (default: `Orphan` for v1 ReplicationControllers, as
/// the API server keeps it for them, `Background` otherwise), with the garbage collector
/// of `workloads.rs` finishing foreground and background deletions.
fn delete_real(
    store: &mut objects::Store,
    t: &Target,
    k: &objects::Key,
    q: &HashMap<String, String>,
    body: &Value,
) -> Value {
    let existing = store.objects[k].object.clone();
    if existing.pointer("/metadata/deletionTimestamp").is_some() {
        return existing;
    }
    if t.t.kind == "Pod" {
        let grace = body
            .get("gracePeriodSeconds")
            .and_then(Value::as_u64)
            .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
        super::workloads::delete_pod(store, k, grace);
        return store.objects.get(k).map_or(existing, |s| s.object.clone());
    }
    let orphan_flag = body.get("orphanDependents").and_then(Value::as_bool) == Some(true)
        || q.get("orphanDependents").is_some_and(|v| v == "true");
    let default = if t.t.kind == "ReplicationController" {
        "Orphan"
    } else {
        "Background"
    };
    let policy = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or_else(|| q.get("propagationPolicy").map(String::as_str))
        .unwrap_or(if orphan_flag { "Orphan" } else { default })
        .to_string();
    let uid = existing["metadata"]["uid"].clone();
    match policy.as_str() {
        "Foreground" => {
            let rv = store.next_rv();
            let stored = store.objects.get_mut(k).expect("checked above");
            stored.object["metadata"]["deletionTimestamp"] = json!(objects::now_rfc3339());
            stored.object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            stored.object["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
            stored.object["metadata"]["resourceVersion"] = json!(rv);
            stored.object.clone()
        }
        "Orphan" => {
            let keys: Vec<objects::Key> = store.objects.keys().cloned().collect();
            for dk in keys {
                let rv = store.next_rv();
                let d = &mut store.objects.get_mut(&dk).expect("listed").object;
                let Some(refs) = d
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                else {
                    continue;
                };
                let before = refs.len();
                refs.retain(|r| r["uid"] != uid);
                if refs.len() != before {
                    if refs.is_empty() {
                        d["metadata"]
                            .as_object_mut()
                            .unwrap()
                            .remove("ownerReferences");
                    }
                    d["metadata"]["resourceVersion"] = json!(rv);
                }
            }
            store.objects.remove(k).map_or(existing, |s| s.object)
        }
        _ => store.objects.remove(k).map_or(existing, |s| s.object),
    }
}
