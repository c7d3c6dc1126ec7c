//! Pods that will not become ready however long one waits: an image that does not exist
//! or cannot be named, a container whose configuration cannot be made (a missing Secret
//! key), a container that keeps crashing, a pod no node can take. A workload with such a
//! pod fails within seconds, with the reason, the pod's last log lines and its events,
//! instead of waiting out its timeout.

use super::apply::Target;
use super::discovery::Resource;
use super::ops;
use super::ready;
use serde_json::Value;

/// How many log lines and events come with a failure.
const LAST_LINES: usize = 20;

/// A workload's pod is judged to crash for good once its container failed twice in a
/// row and the kubelet backs off (`CrashLoopBackOff` after one restart). The kubelet
/// restarts at once after a first exit, then waits 10 s, 20 s, 40 s: waiting for a third
/// restart as one-shot pods do ([`ready::CRASH_LOOP_RESTARTS`]) would report it after
/// 30 s or more, and a crash on start that repeats right away is not transient (werf's
/// kubedog likewise allows one failure per replica by default).
pub const WORKLOAD_CRASH_RESTARTS: i64 = 1;

/// Not being deleted and not finished.
pub fn active(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_none()
        && !matches!(
            pod.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        )
}

/// The pod's `Ready` condition is true.
pub fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The message of the pod's `PodScheduled` condition when no node can take it.
fn unschedulable(pod: &Value) -> Option<&str> {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c["type"] == "PodScheduled" && c["reason"] == "Unschedulable")
        .map(|c| c["message"].as_str().unwrap_or_default())
}

/// A container that waits instead of running.
struct Waiting<'a> {
    container: &'a str,
    reason: &'a str,
    message: &'a str,
    restarts: i64,
}

/// The pod's waiting containers, in the order of its container statuses.
fn waiting(pod: &Value) -> impl Iterator<Item = Waiting<'_>> {
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    statuses.into_iter().flatten().filter_map(|c| {
        let w = c.pointer("/state/waiting")?;
        Some(Waiting {
            container: c.get("name").and_then(Value::as_str).unwrap_or("?"),
            reason: w.get("reason").and_then(Value::as_str)?,
            message: w.get("message").and_then(Value::as_str).unwrap_or_default(),
            restarts: c.get("restartCount").and_then(Value::as_i64).unwrap_or(0),
        })
    })
}

/// Why the pod will not become ready, if it will not.
pub fn doomed(pod: &Value) -> Option<String> {
    if let Some(why) =
        ready::missing_image(pod).or_else(|| ready::crash_looping(pod, WORKLOAD_CRASH_RESTARTS))
    {
        return Some(why);
    }
    if let Some(message) = unschedulable(pod) {
        return Some(format!("cannot be scheduled: {message}"));
    }
    const NEVER_STARTS: [&str; 3] = [
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    ];
    waiting(pod)
        .find(|w| NEVER_STARTS.contains(&w.reason))
        .map(|w| format!("container `{}` {}: {}", w.container, w.reason, w.message))
}

/// What keeps one of a workload's pods from being ready, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trouble {
    pub pod: String,
    /// Kubernetes' own word for it: `ImagePullBackOff`, `CrashLoopBackOff`,
    /// `Unschedulable`, ...
    pub reason: String,
    pub message: String,
    /// It will not pass by waiting (see [`doomed`]).
    pub fatal: bool,
}

/// The worst trouble among `owner`'s active pods (a fatal one first), if any pod has one.
pub fn trouble(owner: &Value, pods: &[Value]) -> Option<Trouble> {
    let uid = owner.pointer("/metadata/uid").and_then(Value::as_str)?;
    let mine = pods.iter().filter(|p| {
        active(p)
            && p.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|r| r["controller"] == true && r["uid"].as_str() == Some(uid))
    });
    let mut found: Vec<Trouble> = mine.filter_map(pod_trouble).collect();
    found.sort_by_key(|t| !t.fatal);
    found.into_iter().next()
}

fn pod_trouble(pod: &Value) -> Option<Trouble> {
    let name = pod.pointer("/metadata/name").and_then(Value::as_str)?;
    let fatal = doomed(pod);
    let (reason, detail) = if unschedulable(pod).is_some() {
        ("Unschedulable".to_string(), String::new())
    } else {
        // A container on its way to start is no trouble.
        let w =
            waiting(pod).find(|w| !["ContainerCreating", "PodInitializing"].contains(&w.reason))?;
        let mut detail = format!("container `{}` {}", w.container, w.reason);
        if w.restarts > 0 {
            detail.push_str(&format!(" ({} restarts)", w.restarts));
        }
        if !w.message.is_empty() {
            detail.push_str(&format!(": {}", w.message));
        }
        (w.reason.to_string(), detail)
    };
    Some(Trouble {
        pod: name.to_string(),
        reason,
        fatal: fatal.is_some(),
        message: fatal.unwrap_or(detail),
    })
}

/// The pod's last log lines and its events, for a failure report.
pub async fn last_words(t: &Target<'_>, pod: &str) -> Option<String> {
    let pods = super::rollout::pods_resource();
    let mut out = String::new();
    if let Ok(log) = ops::logs(t.kube, &pods, t.namespace, pod).await {
        let lines: Vec<&str> = log.lines().collect();
        for line in &lines[lines.len().saturating_sub(LAST_LINES)..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    let events = Resource {
        kind: "Event".into(),
        plural: "events".into(),
        ..pods
    };
    if let Ok(items) = ops::list(t.kube, &events, t.namespace, "").await {
        let mine: Vec<&Value> = items
            .iter()
            .filter(|e| e.pointer("/involvedObject/name").and_then(Value::as_str) == Some(pod))
            .collect();
        for e in &mine[mine.len().saturating_sub(LAST_LINES)..] {
            let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
            out.push_str(&format!(
                "event: {} {}: {}\n",
                field("type"),
                field("reason"),
                field("message")
            ));
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn waiting(reason: &str, message: &str) -> Value {
        json!({"status": {"phase": "Pending", "containerStatuses": [{"name": "api",
            "restartCount": 0, "state": {"waiting": {"reason": reason, "message": message}}}]}})
    }

    #[test]
    fn pods_that_cannot_start_are_doomed_and_those_on_their_way_are_not() {
        assert_eq!(
            doomed(&waiting(
                "CreateContainerConfigError",
                "secret \"s\" not found"
            )),
            Some("container `api` CreateContainerConfigError: secret \"s\" not found".into())
        );
        assert!(doomed(&waiting("InvalidImageName", "bad")).is_some());
        assert!(doomed(&waiting("ErrImagePull", "manifest unknown")).is_some());
        assert_eq!(doomed(&waiting("ContainerCreating", "")), None);
        assert_eq!(doomed(&waiting("ErrImagePull", "connection refused")), None);
        let unschedulable = json!({"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled",
            "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available"}]}});
        assert_eq!(
            doomed(&unschedulable),
            Some("cannot be scheduled: 0/3 nodes are available".into())
        );
        let looping = |restarts: i64| {
            json!({"status": {"phase": "Running", "containerStatuses": [{"name": "api",
            "restartCount": restarts, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})
        };
        assert_eq!(
            doomed(&looping(1)),
            Some("container `api` keeps failing: restarted once".into()),
            "a long-running pod that failed twice in a row"
        );
        assert_eq!(
            doomed(&looping(0)),
            None,
            "a first failure restarts at once"
        );
    }
}
