//! The default order by kind, as data. Deletion uses the reverse.

/// Groups of kinds, applied in this order. A kind not listed goes last, as Helm does
/// with kinds it does not know.
pub const KIND_ORDER: &[&[&str]] = &[
    &["Namespace"],
    &[
        "Secret",
        "ConfigMap",
        "ServiceAccount",
        "PersistentVolumeClaim",
    ],
    &["Service"],
    &[
        "ReplicationController",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
    ],
    &["Pod", "Job"],
];

/// The kind's place in [`KIND_ORDER`].
pub fn rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|group| group.contains(&kind))
        .unwrap_or(KIND_ORDER.len())
}

/// Kinds whose pod template is at `spec.template.spec`.
pub const WORKLOAD_KINDS: &[&str] = &[
    "ReplicationController",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
];

/// The pod spec of a Pod or of a workload's template.
pub fn pod_spec<'a>(kind: &str, body: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
    if kind == "Pod" {
        body.get("spec")
    } else if WORKLOAD_KINDS.contains(&kind) {
        body.pointer("/spec/template/spec")
    } else {
        None
    }
}

/// A Pod that runs to completion (not restarted forever), or a Job: run once per spec.
pub fn is_one_shot(kind: &str, body: &serde_json::Value) -> bool {
    match kind {
        "Job" => true,
        "Pod" => {
            body.pointer("/spec/restartPolicy")
                .and_then(|v| v.as_str())
                .unwrap_or("Always")
                != "Always"
        }
        _ => false,
    }
}

/// Workloads whose pods run until replaced, from a pod template: a change of the
/// configuration they read must restart them.
pub fn is_long_running(kind: &str) -> bool {
    matches!(
        kind,
        "ReplicationController" | "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_rank_in_the_documented_order() {
        let order = [
            "Namespace",
            "Secret",
            "ConfigMap",
            "Service",
            "ReplicationController",
            "Pod",
            "Role",
        ];
        let ranks: Vec<usize> = order.iter().map(|k| rank(k)).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
        assert_eq!(rank("Secret"), rank("ConfigMap"));
        assert!(rank("Service") < rank("Deployment") && rank("Deployment") < rank("Job"));
    }
}
