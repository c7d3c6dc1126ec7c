//! `up`: the whole pipeline as one resumable run. This module holds what does not talk
//! to anything: the steps and which of them a run selects, the record of what each step
//! last saw, the registry part of a plan, and the check that a deployed part is still
//! exactly as the last run left it.

pub mod check;
pub mod record;

use crate::deploy::infer;
use crate::deploy::plan::Plan;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// The steps of `up`, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Params,
    Render,
    Registry,
    Images,
    Deploy,
    DbSync,
    CleanJobs,
    Verify,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::Params,
        Step::Render,
        Step::Registry,
        Step::Images,
        Step::Deploy,
        Step::DbSync,
        Step::CleanJobs,
        Step::Verify,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Params => "params",
            Step::Render => "render",
            Step::Registry => "registry",
            Step::Images => "images",
            Step::Deploy => "deploy",
            Step::DbSync => "db-sync",
            Step::CleanJobs => "clean-jobs",
            Step::Verify => "verify",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An `up` failure: the step it stopped at, how to go on, and the step's own error.
#[derive(Debug, thiserror::Error)]
#[error("`up` stopped at step `{step}`")]
pub struct StepFailed {
    pub step: Step,
    pub hint: String,
    #[source]
    pub source: anyhow::Error,
}

/// `up` knows how to go on better than the step's own error, which speaks of the
/// command that step stands for.
impl crate::report::Hint for StepFailed {
    fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
    }
}

/// Which steps a run does: `--only`, or `--from`..`--to`; `clean-jobs` only when asked.
#[derive(Debug, Clone, Copy)]
pub struct Selection {
    pub from: Option<Step>,
    pub to: Option<Step>,
    pub only: Option<Step>,
    pub clean_jobs: bool,
}

impl Selection {
    pub fn includes(&self, step: Step) -> bool {
        if let Some(only) = self.only {
            return step == only;
        }
        if step == Step::CleanJobs && !self.clean_jobs {
            return false;
        }
        self.from.is_none_or(|f| step >= f) && self.to.is_none_or(|t| step <= t)
    }
}

/// A stable digest of a JSON value (object keys in the order serde_json keeps them).
pub fn digest_json(value: &Value) -> String {
    digest_bytes(&serde_json::to_vec(value).expect("serializable"))
}

pub fn digest_bytes(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    format!("sha256:{:x}", h.finalize())
}

/// The nodes of `plan` that make up the in-cluster registry: the workloads serving any
/// registry an image of the tree is pulled from, every object they wait for (directly or
/// not), and the Services that select them. In plan order.
pub fn registry_part(plan: &Plan) -> Vec<usize> {
    let manifests: Vec<_> = plan.nodes.iter().map(|n| n.manifest.clone()).collect();
    let mut part = BTreeSet::new();
    let mut stack: Vec<usize> = Vec::new();
    for m in &manifests {
        for image in infer::images(m) {
            for w in infer::registry_workloads(image, &manifests) {
                stack.push(plan.index[w]);
            }
        }
    }
    let workloads: Vec<usize> = stack.clone();
    while let Some(i) = stack.pop() {
        if part.insert(i) {
            stack.extend(plan.nodes[i].deps.iter().map(|e| e.on));
        }
    }
    for (i, node) in plan.nodes.iter().enumerate() {
        if node.manifest.id.kind == "Service"
            && workloads
                .iter()
                .any(|&w| infer::selects(&node.manifest.body, &plan.nodes[w].manifest.body))
        {
            part.insert(i);
        }
    }
    part.into_iter().collect()
}

/// The label selector (`k=v,...`) of a Service's pods, for a port-forward to one of them.
pub fn selector_string(service: &Value) -> Option<String> {
    let selector = service.pointer("/spec/selector")?.as_object()?;
    let parts: Vec<String> = selector
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::manifest::parse_file;
    use std::path::Path;

    #[test]
    fn selection_follows_from_to_only_and_clean_jobs() {
        let all = |s: Selection| -> Vec<&str> {
            Step::ALL
                .iter()
                .filter(|st| s.includes(**st))
                .map(|st| st.name())
                .collect()
        };
        let none = Selection {
            from: None,
            to: None,
            only: None,
            clean_jobs: false,
        };
        assert_eq!(
            all(none),
            [
                "params", "render", "registry", "images", "deploy", "db-sync", "verify"
            ]
        );
        assert_eq!(
            all(Selection {
                from: Some(Step::Images),
                clean_jobs: true,
                ..none
            }),
            ["images", "deploy", "db-sync", "clean-jobs", "verify"]
        );
        assert_eq!(
            all(Selection {
                to: Some(Step::Render),
                ..none
            }),
            ["params", "render"]
        );
        assert_eq!(
            all(Selection {
                only: Some(Step::CleanJobs),
                ..none
            }),
            ["clean-jobs"]
        );
    }

    const TREE: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: registry}
stringData: {password: x}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: registry}
spec:
  selector: {app: registry}
  template:
    metadata: {labels: {app: registry}}
    spec:
      containers:
        - name: registry
          image: docker.io/library/registry:2
          env:
            - name: P
              valueFrom: {secretKeyRef: {name: registry, key: password}}
---
apiVersion: v1
kind: Service
metadata: {name: registry}
spec:
  selector: {app: registry}
  ports: [{port: 4999, targetPort: 5000}]
---
apiVersion: v1
kind: ReplicationController
metadata: {name: keystone}
spec:
  selector: {app: keystone}
  template:
    metadata: {labels: {app: keystone}}
    spec:
      containers: [{name: keystone, image: "localhost:4999/ko/keystone:1"}]
---
apiVersion: v1
kind: Service
metadata: {name: keystone}
spec:
  selector: {app: keystone}
  ports: [{port: 5000}]
"#;

    #[test]
    fn registry_part_is_the_registry_what_it_needs_and_its_service() {
        let manifests = parse_file(Path::new("all.yaml"), TREE).unwrap();
        let plan = Plan::build(manifests).unwrap();
        let mut names: Vec<String> = registry_part(&plan)
            .into_iter()
            .map(|i| plan.nodes[i].manifest.id.to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "ReplicationController/registry",
                "Secret/registry",
                "Service/registry"
            ]
        );
        let svc =
            &plan.nodes[plan.index[&crate::deploy::manifest::ObjectId::new("Service", "registry")]];
        assert_eq!(
            selector_string(&svc.manifest.body).as_deref(),
            Some("app=registry")
        );
    }

    #[test]
    fn a_tree_pulling_from_nowhere_in_it_has_no_registry_part() {
        let text = TREE.replace("localhost:4999/ko/", "quay.io/ko/");
        let plan = Plan::build(parse_file(Path::new("all.yaml"), &text).unwrap()).unwrap();
        assert!(registry_part(&plan).is_empty());
    }
}
