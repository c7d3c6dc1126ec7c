//! What "ready" means per kind, read from the live object.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet; what it is waiting for.
    Pending(String),
    /// Will not become ready (a one-shot pod that failed, a failed Job).
    Failed(String),
}

/// Whether the kind has a readiness condition beyond existing.
pub fn has_readiness(kind: &str) -> bool {
    matches!(
        kind,
        "ReplicationController"
            | "Deployment"
            | "StatefulSet"
            | "ReplicaSet"
            | "DaemonSet"
            | "Pod"
            | "Job"
    )
}

/// Readiness of a live object. Objects without a notion of readiness (Service, Secret,
/// ConfigMap, ...) are ready once they exist.
pub fn readiness(kind: &str, live: &Value) -> Readiness {
    if live.pointer("/metadata/deletionTimestamp").is_some() {
        return Readiness::Pending("being deleted".into());
    }
    let int = |p: &str| live.pointer(p).and_then(Value::as_i64);
    match kind {
        "ReplicationController" | "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let generation = int("/metadata/generation").unwrap_or(0);
            let observed = int("/status/observedGeneration").unwrap_or(0);
            let want = int("/spec/replicas").unwrap_or(1);
            let ready = int("/status/readyReplicas").unwrap_or(0);
            if observed < generation {
                Readiness::Pending(format!("generation {generation} not yet observed"))
            } else if ready == want {
                Readiness::Ready
            } else {
                Readiness::Pending(format!("{ready}/{want} replicas ready"))
            }
        }
        "DaemonSet" => {
            // As `kubectl rollout status`: every node that should run a pod runs one of
            // the current template, and it is available (old pods being ready is not enough).
            let generation = int("/metadata/generation").unwrap_or(0);
            let observed = int("/status/observedGeneration").unwrap_or(0);
            let want = int("/status/desiredNumberScheduled").unwrap_or(0);
            let updated = int("/status/updatedNumberScheduled").unwrap_or(0);
            let available = int("/status/numberAvailable").unwrap_or(0);
            if observed < generation {
                Readiness::Pending(format!("generation {generation} not yet observed"))
            } else if updated < want {
                Readiness::Pending(format!("{updated}/{want} pods updated"))
            } else if available < want {
                Readiness::Pending(format!("{available}/{want} pods available"))
            } else {
                Readiness::Ready
            }
        }
        "Pod" => pod_readiness(live),
        "Job" => {
            let conditions = live.pointer("/status/conditions").and_then(Value::as_array);
            let has = |t: &str| {
                conditions.into_iter().flatten().find(|c| {
                    c.get("type").and_then(Value::as_str) == Some(t)
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            };
            if has("Complete").is_some() {
                Readiness::Ready
            } else if let Some(c) = has("Failed") {
                Readiness::Failed(
                    c.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("job failed")
                        .to_string(),
                )
            } else {
                Readiness::Pending("not complete".into())
            }
        }
        _ => Readiness::Ready,
    }
}

fn pod_readiness(live: &Value) -> Readiness {
    let phase = live
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    let one_shot = live
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always")
        != "Always";
    match phase {
        "Succeeded" => Readiness::Ready,
        "Failed" => {
            let reason = live
                .pointer("/status/reason")
                .and_then(Value::as_str)
                .unwrap_or("");
            let exit = live
                .pointer("/status/containerStatuses/0/state/terminated/exitCode")
                .and_then(Value::as_i64)
                .map(|c| format!(" (exit code {c})"))
                .unwrap_or_default();
            Readiness::Failed(format!(
                "pod failed{}{exit}",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            ))
        }
        "Running" if !one_shot => {
            let ready = live
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                });
            if ready {
                Readiness::Ready
            } else {
                Readiness::Pending("running, not ready".into())
            }
        }
        _ if one_shot && crash_looping(live, CRASH_LOOP_RESTARTS).is_some() => {
            Readiness::Failed(crash_looping(live, CRASH_LOOP_RESTARTS).unwrap_or_default())
        }
        _ if missing_image(live).is_some() => {
            Readiness::Failed(missing_image(live).unwrap_or_default())
        }
        other => {
            let restarts = live
                .pointer("/status/containerStatuses/0/restartCount")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let note = if restarts > 0 {
                format!(", {restarts} restarts")
            } else {
                String::new()
            };
            Readiness::Pending(format!("phase {other}{note}{}", waiting(live)))
        }
    }
}

/// `; container `NAME` REASON: MESSAGE` for the first container that waits for something
/// other than its turn (a pull back-off, a missing Secret key), else nothing.
fn waiting(pod: &Value) -> String {
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    statuses
        .into_iter()
        .flatten()
        .find_map(|c| {
            let w = c.pointer("/state/waiting")?;
            let reason = w.get("reason").and_then(Value::as_str)?;
            if ["ContainerCreating", "PodInitializing"].contains(&reason) {
                return None;
            }
            let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
            let message = w.get("message").and_then(Value::as_str).unwrap_or_default();
            Some(if message.is_empty() {
                format!("; container `{name}` {reason}")
            } else {
                format!("; container `{name}` {reason}: {message}")
            })
        })
        .unwrap_or_default()
}

/// A container whose image the registry says does not exist (`ErrImagePull`, or
/// `ImagePullBackOff` whose message carries the pull error, as kubelets since 1.32 give
/// it): waiting would only repeat the answer. Other pull errors (a registry not up yet,
/// a refused connection) keep the pod pending.
pub(super) fn missing_image(pod: &Value) -> Option<String> {
    const ABSENT: &[&str] = &["not found", "manifest unknown", "name unknown"];
    let statuses = pod.pointer("/status/containerStatuses")?.as_array()?;
    statuses.iter().find_map(|c| {
        let w = c.pointer("/state/waiting")?;
        let reason = w.get("reason").and_then(Value::as_str)?;
        let message = w.get("message").and_then(Value::as_str).unwrap_or_default();
        let lower = message.to_lowercase();
        let pulling = reason == "ErrImagePull" || reason == "ImagePullBackOff";
        if !pulling || !ABSENT.iter().any(|a| lower.contains(a)) {
            return None;
        }
        let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
        Some(format!(
            "container `{name}` cannot pull its image ({reason}): {message}"
        ))
    })
}

/// How many restarts of a one-shot pod's container (`restartPolicy: OnFailure`, whose
/// phase never becomes `Failed`) count as a failure rather than a slow start.
pub const CRASH_LOOP_RESTARTS: i64 = 3;

/// A container restarted `restarts` times and now backing off: it fails the same way
/// every time, and waiting for the timeout would only hide it.
pub(super) fn crash_looping(pod: &Value, restarts: i64) -> Option<String> {
    let least = restarts;
    let statuses = pod.pointer("/status/containerStatuses")?.as_array()?;
    statuses.iter().find_map(|c| {
        let restarts = c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        let waiting = c.pointer("/state/waiting/reason").and_then(Value::as_str);
        if restarts < least || waiting != Some("CrashLoopBackOff") {
            return None;
        }
        let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
        let code = c
            .pointer("/lastState/terminated/exitCode")
            .and_then(Value::as_i64);
        let code = code
            .map(|c| format!(", last exit code {c}"))
            .unwrap_or_default();
        Some(format!(
            "container `{name}` keeps failing: restarted {}{code}",
            match restarts {
                1 => "once".to_string(),
                n => format!("{n} times"),
            }
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replication_controller_is_ready_when_all_replicas_are_for_the_current_generation() {
        let mut rc = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "readyReplicas": 3}});
        assert!(
            matches!(
                readiness("ReplicationController", &rc),
                Readiness::Pending(_)
            ),
            "old generation"
        );
        rc["status"]["observedGeneration"] = json!(2);
        assert_eq!(readiness("ReplicationController", &rc), Readiness::Ready);
        rc["status"]["readyReplicas"] = json!(1);
        assert_eq!(
            readiness("ReplicationController", &rc),
            Readiness::Pending("1/3 replicas ready".into())
        );
    }

    #[test]
    fn one_shot_pod_is_ready_only_when_succeeded() {
        let pod = |phase: &str| json!({"spec": {"restartPolicy": "OnFailure"}, "status": {"phase": phase}});
        assert_eq!(readiness("Pod", &pod("Succeeded")), Readiness::Ready);
        assert!(matches!(
            readiness("Pod", &pod("Running")),
            Readiness::Pending(_)
        ));
        assert!(matches!(
            readiness("Pod", &pod("Failed")),
            Readiness::Failed(_)
        ));
        assert_eq!(readiness("Service", &json!({})), Readiness::Ready);
        let looping = json!({"spec": {"restartPolicy": "OnFailure"}, "status": {"phase": "Running", "containerStatuses": [
            {"name": "sync", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"exitCode": 1}}}]}});
        assert_eq!(
            readiness("Pod", &looping),
            Readiness::Failed(
                "container `sync` keeps failing: restarted 3 times, last exit code 1".into()
            )
        );
    }

    #[test]
    fn pod_whose_image_does_not_exist_fails_and_other_waits_say_why() {
        let pod = |reason: &str, message: &str| {
            json!({"spec": {"restartPolicy": "Always"}, "status": {"phase": "Pending",
                "containerStatuses": [{"name": "api", "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": message}}}]}})
        };
        let absent = pod(
            "ImagePullBackOff",
            "Back-off pulling image \"r/k:1\": ErrImagePull: reading manifest 1 in r/k: manifest unknown",
        );
        assert_eq!(
            readiness("Pod", &absent),
            Readiness::Failed("container `api` cannot pull its image (ImagePullBackOff): Back-off pulling image \"r/k:1\": ErrImagePull: reading manifest 1 in r/k: manifest unknown".into())
        );
        let unreachable = pod(
            "ErrImagePull",
            "failed to pull image \"r/k:1\": connection refused",
        );
        assert_eq!(
            readiness("Pod", &unreachable),
            Readiness::Pending(
                "phase Pending; container `api` ErrImagePull: failed to pull image \"r/k:1\": connection refused"
                    .into()
            ),
            "a registry that is not up yet may come up"
        );
        assert_eq!(
            readiness("Pod", &pod("ContainerCreating", "")),
            Readiness::Pending("phase Pending".into())
        );
    }

    #[test]
    fn daemon_set_is_ready_when_every_node_runs_an_available_pod_of_the_current_template() {
        let mut ds = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 1,
            "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3, "numberReady": 3}});
        assert_eq!(
            readiness("DaemonSet", &ds),
            Readiness::Pending("generation 2 not yet observed".into())
        );
        ds["status"]["observedGeneration"] = json!(2);
        assert_eq!(readiness("DaemonSet", &ds), Readiness::Ready);
        ds["status"]["updatedNumberScheduled"] = json!(1);
        assert_eq!(
            readiness("DaemonSet", &ds),
            Readiness::Pending("1/3 pods updated".into()),
            "old pods ready are not the new template"
        );
        ds["status"]["updatedNumberScheduled"] = json!(3);
        ds["status"]
            .as_object_mut()
            .unwrap()
            .remove("numberAvailable");
        assert_eq!(
            readiness("DaemonSet", &ds),
            Readiness::Pending("0/3 pods available".into())
        );
        let fresh = json!({"metadata": {"generation": 1}, "status": {}});
        assert!(matches!(
            readiness("DaemonSet", &fresh),
            Readiness::Pending(_)
        ));
    }
}
