//! The deploy graph: one node per object; edges that gate on **ready** (declared with
//! the `depends-on` annotation, or inferred from references between manifests); and the
//! kind order, which gates only on **accepted by the server**, and only where it does not
//! contradict the graph.

use super::infer;
use super::manifest::{Manifest, ObjectId};
use super::order::rank;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Declared,
    Inferred,
}

/// `node` waits until `on` is ready.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub on: usize,
    pub kind: EdgeKind,
}

#[derive(Debug)]
pub struct Node {
    pub manifest: Manifest,
    pub rank: usize,
    pub deps: Vec<Edge>,
    /// Nodes that wait (directly) for this one to be ready.
    pub dependents: Vec<usize>,
    /// Every node that waits, directly or not, for this one: the kind order must not
    /// hold this node back behind any of them.
    pub downstream: HashSet<usize>,
}

#[derive(Debug)]
pub struct Plan {
    /// Sorted by kind order, then file.
    pub nodes: Vec<Node>,
    pub index: HashMap<ObjectId, usize>,
}

#[derive(Debug)]
pub struct MissingRef {
    pub file: PathBuf,
    pub id: ObjectId,
    pub missing: ObjectId,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{} dependenc{} on objects not in the tree:{}", .0.len(), if .0.len() == 1 { "y" } else { "ies" },
        .0.iter().map(|m| format!("\n  `{}`: {} depends on {}, which is not in the tree", m.file.display(), m.id, m.missing)).collect::<String>())]
    Missing(Vec<MissingRef>),
    #[error("dependency cycle: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<ObjectId>),
}

impl crate::report::Hint for PlanError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            PlanError::Missing(_) => {
                "fix the `kube-openstack/depends-on` annotation, or add the missing object to the tree".into()
            }
            PlanError::Cycle(_) => "remove one of the `kube-openstack/depends-on` entries on the cycle (`deploy --graph dot` shows the graph)".into(),
        })
    }
}

impl Plan {
    /// Builds the graph and checks it: every declared reference exists, no cycle.
    pub fn build(mut manifests: Vec<Manifest>) -> Result<Plan, PlanError> {
        manifests.sort_by(|a, b| {
            rank(&a.id.kind)
                .cmp(&rank(&b.id.kind))
                .then_with(|| a.file.cmp(&b.file))
        });
        let index: HashMap<ObjectId, usize> = manifests
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        let mut missing = Vec::new();
        let mut nodes: Vec<Node> = Vec::with_capacity(manifests.len());
        for (i, m) in manifests.iter().enumerate() {
            let mut deps: Vec<Edge> = Vec::new();
            let mut push = |on: usize, kind: EdgeKind| {
                if on != i && !deps.iter().any(|e| e.on == on) {
                    deps.push(Edge { on, kind });
                }
            };
            for d in &m.depends_on {
                match index.get(d) {
                    Some(&on) => push(on, EdgeKind::Declared),
                    None => missing.push(MissingRef {
                        file: m.file.clone(),
                        id: m.id.clone(),
                        missing: d.clone(),
                    }),
                }
            }
            for r in infer::references(m) {
                if let Some(&on) = index.get(&r) {
                    push(on, EdgeKind::Inferred);
                }
            }
            for image in infer::images(m) {
                let servers = infer::registry_workloads(image, &manifests);
                // A workload that itself serves the registry its image comes from cannot
                // wait for that registry: its peers would wait for it in turn. Where the
                // registry's own image comes from first is its bootstrap, not an edge.
                if servers.contains(&&m.id) {
                    continue;
                }
                for w in servers {
                    push(index[w], EdgeKind::Inferred);
                }
            }
            nodes.push(Node {
                manifest: m.clone(),
                rank: rank(&m.id.kind),
                deps,
                dependents: Vec::new(),
                downstream: HashSet::new(),
            });
        }
        if !missing.is_empty() {
            return Err(PlanError::Missing(missing));
        }
        for i in 0..nodes.len() {
            for e in nodes[i].deps.clone() {
                nodes[e.on].dependents.push(i);
            }
        }
        let mut plan = Plan { nodes, index };
        if let Some(cycle) = plan.find_cycle() {
            return Err(PlanError::Cycle(
                cycle
                    .into_iter()
                    .map(|i| plan.nodes[i].manifest.id.clone())
                    .collect(),
            ));
        }
        for i in 0..plan.nodes.len() {
            if !plan.nodes[i].dependents.is_empty() {
                plan.nodes[i].downstream = plan.reach_dependents(i);
            }
        }
        Ok(plan)
    }

    fn reach_dependents(&self, from: usize) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            for &d in &self.nodes[n].dependents {
                if seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        seen
    }

    /// A cycle among the ready edges, as the path `a -> b -> ... -> a` (each waits for
    /// the next).
    fn find_cycle(&self) -> Option<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let mut mark = vec![Mark::New; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if mark[start] != Mark::New {
                continue;
            }
            // Iterative DFS: (node, next edge to look at); the stack is the current path.
            let mut stack = vec![(start, 0usize)];
            mark[start] = Mark::Open;
            while let Some(&mut (n, ref mut next)) = stack.last_mut() {
                if let Some(e) = self.nodes[n].deps.get(*next) {
                    *next += 1;
                    match mark[e.on] {
                        Mark::New => {
                            mark[e.on] = Mark::Open;
                            stack.push((e.on, 0));
                        }
                        Mark::Open => {
                            let from = stack
                                .iter()
                                .position(|(m, _)| *m == e.on)
                                .expect("open nodes are on the path");
                            let mut cycle: Vec<usize> =
                                stack[from..].iter().map(|(m, _)| *m).collect();
                            // Start at the smallest `Kind/name`, so the message is stable.
                            let first = (0..cycle.len())
                                .min_by_key(|&i| &self.nodes[cycle[i]].manifest.id)
                                .expect("not empty");
                            cycle.rotate_left(first);
                            cycle.push(cycle[0]);
                            return Some(cycle);
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark[n] = Mark::Done;
                    stack.pop();
                }
            }
        }
        None
    }

    pub fn get(&self, id: &ObjectId) -> Option<&Node> {
        self.index.get(id).map(|&i| &self.nodes[i])
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EdgeKind::Declared => "declared",
            EdgeKind::Inferred => "inferred",
        })
    }
}

/// The graph in Graphviz DOT: an arrow from each object to the objects waiting for it;
/// declared edges solid, inferred edges dashed; objects grouped by kind order.
pub fn to_dot(plan: &Plan) -> String {
    let mut s = String::from("digraph deploy {\n  rankdir=LR;\n  node [shape=box];\n");
    let mut ranks: Vec<usize> = plan.nodes.iter().map(|n| n.rank).collect();
    ranks.dedup();
    for r in ranks {
        s.push_str(&format!(
            "  subgraph cluster_{r} {{\n    label=\"kind order {r}\";\n"
        ));
        for n in plan.nodes.iter().filter(|n| n.rank == r) {
            s.push_str(&format!("    \"{}\";\n", n.manifest.id));
        }
        s.push_str("  }\n");
    }
    for n in &plan.nodes {
        for e in &n.deps {
            let style = if e.kind == EdgeKind::Inferred {
                "dashed"
            } else {
                "solid"
            };
            s.push_str(&format!(
                "  \"{}\" -> \"{}\" [style={style}, label=\"{}\"];\n",
                plan.nodes[e.on].manifest.id, n.manifest.id, e.kind
            ));
        }
    }
    s.push_str("}\n");
    s
}

/// The graph as a Mermaid flowchart: `-->` declared, `-.->` inferred.
pub fn to_mermaid(plan: &Plan) -> String {
    let mut s = String::from("flowchart LR\n");
    for (i, n) in plan.nodes.iter().enumerate() {
        s.push_str(&format!("  n{i}[\"{}\"]\n", n.manifest.id));
    }
    for (i, n) in plan.nodes.iter().enumerate() {
        for e in &n.deps {
            let arrow = if e.kind == EdgeKind::Inferred {
                "-.->"
            } else {
                "-->"
            };
            s.push_str(&format!("  n{} {arrow}|{}| n{i}\n", e.on, e.kind));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::manifest::parse_file;
    use std::path::Path;

    fn tree(text: &str) -> Vec<Manifest> {
        parse_file(Path::new("t.yaml"), text).unwrap()
    }

    const POD_USING_SECRET: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: localhost:4999/x:1\n    env:\n    - name: A\n      valueFrom:\n        secretKeyRef: {name: s, key: k}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: registry\nspec:\n  selector: {app: reg}\n  ports: [{port: 4999}]\n---\napiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: reg\nspec:\n  template:\n    metadata:\n      labels: {app: reg}\n    spec:\n      containers: [{name: r, image: registry:2}]\n";

    #[test]
    fn infers_secret_and_registry_edges_and_sorts_by_kind() {
        let plan = Plan::build(tree(POD_USING_SECRET)).unwrap();
        let kinds: Vec<&str> = plan
            .nodes
            .iter()
            .map(|n| n.manifest.id.kind.as_str())
            .collect();
        assert_eq!(kinds, ["Secret", "Service", "ReplicationController", "Pod"]);
        let pod = plan.get(&ObjectId::new("Pod", "p")).unwrap();
        let on: Vec<String> = pod
            .deps
            .iter()
            .map(|e| plan.nodes[e.on].manifest.id.to_string())
            .collect();
        assert_eq!(on, ["Secret/s", "ReplicationController/reg"]);
        assert!(pod.deps.iter().all(|e| e.kind == EdgeKind::Inferred));
        assert!(
            to_dot(&plan).contains("\"Secret/s\" -> \"Pod/p\" [style=dashed, label=\"inferred\"]")
        );
    }

    #[test]
    fn registry_workloads_pulling_their_own_image_wait_for_no_peer_and_others_wait_for_both() {
        // The replicas behind the Service and a node-local registry, both run from the
        // image they serve, and a pod pulling from them.
        let text = POD_USING_SECRET
            .replace("image: registry:2", "image: localhost:4999/registry:1")
            + "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: node-reg\nspec:\n  template:\n    spec:\n      hostNetwork: true\n      containers: [{name: r, image: localhost:4999/registry:1, ports: [{containerPort: 4999, hostPort: 4999}]}]\n";
        let plan = Plan::build(tree(&text)).expect("no cycle between the registry's workloads");
        let deps = |kind: &str, name: &str| -> Vec<String> {
            plan.get(&ObjectId::new(kind, name))
                .unwrap()
                .deps
                .iter()
                .map(|e| plan.nodes[e.on].manifest.id.to_string())
                .collect()
        };
        assert!(deps("ReplicationController", "reg").is_empty());
        assert!(deps("DaemonSet", "node-reg").is_empty());
        assert_eq!(
            deps("Pod", "p"),
            [
                "Secret/s",
                "ReplicationController/reg",
                "DaemonSet/node-reg"
            ]
        );
    }

    #[test]
    fn a_cycle_is_printed_as_a_path() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations: {kube-openstack/depends-on: Pod/b}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  annotations: {kube-openstack/depends-on: Pod/a}\n";
        let err = Plan::build(tree(text)).unwrap_err().to_string();
        assert_eq!(err, "dependency cycle: Pod/a -> Pod/b -> Pod/a");
    }

    #[test]
    fn every_missing_reference_is_named_with_its_file() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  annotations: {kube-openstack/depends-on: \"Pod/x, Secret/y\"}\n";
        let err = Plan::build(tree(text)).unwrap_err().to_string();
        assert!(
            err.contains("`t.yaml`: Pod/a depends on Pod/x") && err.contains("Secret/y"),
            "{err}"
        );
    }
}
