//! Simulated controllers: replication controllers, deployments and daemon sets (one pod
//! on each of [`NODES`] nodes) become ready a while after their spec changes; one-shot pods go Pending -> Running -> Succeeded (or Failed,
//! for the names a test chooses) and write a log; Jobs complete; gracefully deleted
//! objects go once their grace period ends.

use super::Shared;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The nodes of the fake cluster, each running one pod of every DaemonSet.
pub const NODES: i64 = 3;

pub async fn run(shared: std::sync::Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if shared.node.get().is_some() {
            // Pods are real: the workload controllers make them and read their status.
            super::workloads::tick(&shared);
            tokio::time::sleep(Duration::from_millis(80)).await;
        } else {
            tick(&shared, Instant::now());
        }
    }
}

fn tick(shared: &Shared, now: Instant) {
    let faults = shared.faults.lock().unwrap().clone();
    let mut store = shared.store.lock().unwrap();
    if faults.rc_pods {
        super::workloads::simulated_pods(shared, &mut store);
        // What the controllers and the garbage collector deleted goes after the grace.
        for s in store.objects.values_mut() {
            if s.delete_at.is_none() && s.object.pointer("/metadata/deletionTimestamp").is_some() {
                s.delete_at = Some(now + faults.deletion_delay);
            }
        }
    }
    let gone: Vec<_> = store
        .objects
        .iter()
        .filter(|(_, s)| s.delete_at.is_some_and(|t| t <= now))
        .map(|(k, _)| k.clone())
        .collect();
    for k in gone {
        store.objects.remove(&k);
    }
    let keys: Vec<_> = store.objects.keys().cloned().collect();
    for key in keys {
        let (plural, name) = (key.0.as_str(), key.2.clone());
        let stored = &store.objects[&key];
        if stored.delete_at.is_some() {
            continue;
        }
        let age = now.duration_since(stored.changed_at);
        let obj = &stored.object;
        let new_status: Option<Value> = match plural {
            "replicationcontrollers" | "daemonsets" if faults.rc_pods => None,
            "replicationcontrollers" | "deployments" => {
                let generation = obj.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
                let want = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
                let never = faults.never_ready.contains(&name);
                let ready = if never { 0 } else { want };
                let status = json!({"replicas": want, "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": generation});
                (age >= faults.ready_delay && obj.get("status") != Some(&status)).then_some(status)
            }
            "daemonsets" => {
                let never = faults.never_ready.contains(&name);
                let status = daemon_set_status(obj, never);
                (age >= faults.ready_delay && obj.get("status") != Some(&status)).then_some(status)
            }
            "pods" => {
                let owner = owner_name(obj);
                let named = |list: &[String]| list.contains(&name) || list.contains(&owner);
                let waiting = faults.pod_waiting.get(&name).or_else(|| faults.pod_waiting.get(&owner));
                match waiting {
                    Some((reason, message)) => waiting_status(obj, reason, message),
                    None => pod_status(obj, age, faults.pod_run_time, named(&faults.fail_pods), named(&faults.never_ready)),
                }
            }
            "jobs" => (age >= faults.pod_run_time && obj.pointer("/status/succeeded").is_none()).then(|| {
                json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
            }),
            _ => None,
        };
        let Some(status) = new_status else { continue };
        let phase = status
            .get("phase")
            .and_then(Value::as_str)
            .map(str::to_string);
        let rv = store.next_rv();
        let stored = store.objects.get_mut(&key).expect("listed above");
        stored.object["status"] = status;
        stored.object["metadata"]["resourceVersion"] = json!(rv);
        if let Some(phase) = phase {
            let log = store.logs.entry(key.clone()).or_default();
            match phase.as_str() {
                // A pod that starts has a log of its own (a pod recreated under the same
                // name does not show its predecessor's lines).
                "Running" => *log = format!("{name}: starting\n"),
                "Succeeded" | "Failed" if faults.pod_logs.contains_key(&name) => {
                    log.push_str(&faults.pod_logs[&name])
                }
                "Succeeded" => log.push_str(&format!("{name}: schema up to date\n")),
                "Failed" => {
                    log.push_str(&format!("{name}: ERROR: cannot connect to the database\n"))
                }
                _ => {}
            }
        }
    }
}

/// The next status of a pod, if it changes now.
fn pod_status(
    pod: &Value,
    age: Duration,
    run_time: Duration,
    fails: bool,
    never_ready: bool,
) -> Option<Value> {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    let one_shot = pod
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always")
        != "Always";
    match phase {
        "Pending" if age >= run_time / 2 => {
            let mut status = json!({"phase": "Running", "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0, "state": {"running": {}}}]});
            if !one_shot {
                let ready = if never_ready { "False" } else { "True" };
                status["conditions"] = json!([{"type": "Ready", "status": ready}]);
            }
            Some(status)
        }
        "Running" if one_shot && age >= run_time => {
            let (phase, code, reason) = if fails {
                ("Failed", 1, "Error")
            } else {
                ("Succeeded", 0, "Completed")
            };
            Some(
                json!({"phase": phase, "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": code, "reason": reason}}}]}),
            )
        }
        _ => None,
    }
}

/// The name of the pod's controller, if it has one.
fn owner_name(pod: &Value) -> String {
    pod.pointer("/metadata/ownerReferences/0/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A pod whose container cannot start: it waits with `reason`, as a kubelet reports a
/// pull back-off or a missing Secret key (unschedulable: the scheduler's condition).
fn waiting_status(pod: &Value, reason: &str, message: &str) -> Option<Value> {
    let status = if reason == "Unschedulable" {
        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": message}]})
    } else if reason == "CrashLoopBackOff" {
        // A kubelet backs off only after runs that failed: the pod has restarts.
        json!({"phase": "Running", "containerStatuses": [{"name": "main", "ready": false,
            "restartCount": 4, "state": {"waiting": {"reason": reason, "message": message}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]})
    } else {
        json!({"phase": "Pending", "containerStatuses": [{"name": "main", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": reason, "message": message}}}]})
    };
    (pod.get("status") != Some(&status)).then_some(status)
}

/// A DaemonSet's status once its controller has a current pod on every node, as the real
/// DaemonSet controller writes it; `never` ready: the pods run but never pass readiness.
fn daemon_set_status(ds: &Value, never: bool) -> Value {
    let generation = ds
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ready = if never { 0 } else { NODES };
    let mut status = json!({"currentNumberScheduled": NODES, "numberMisscheduled": 0,
        "desiredNumberScheduled": NODES, "numberReady": ready, "observedGeneration": generation,
        "updatedNumberScheduled": NODES, "numberAvailable": ready});
    if ready < NODES {
        status["numberUnavailable"] = json!(NODES - ready);
    }
    status
}
