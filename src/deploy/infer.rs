//! Dependencies read from the manifests themselves: what a pod template uses.

use super::manifest::{Manifest, ObjectId};
use super::order::pod_spec;
use serde_json::Value;

/// Objects `m`'s pod spec refers to: Secrets and ConfigMaps (env `valueFrom`, `envFrom`,
/// volumes, projected volumes), the ServiceAccount, and image pull secrets. Whether they
/// are in the tree is the caller's business (a reference to an object made elsewhere is
/// not an error).
pub fn references(m: &Manifest) -> Vec<ObjectId> {
    let Some(spec) = pod_spec(&m.id.kind, &m.body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut add = |kind: &str, name: Option<&Value>| {
        if let Some(name) = name.and_then(Value::as_str) {
            let id = ObjectId::new(kind, name);
            if !out.contains(&id) {
                out.push(id);
            }
        }
    };
    for list in ["containers", "initContainers"] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for env in c.get("env").and_then(Value::as_array).into_iter().flatten() {
                add("Secret", env.pointer("/valueFrom/secretKeyRef/name"));
                add("ConfigMap", env.pointer("/valueFrom/configMapKeyRef/name"));
            }
            for from in c
                .get("envFrom")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                add("Secret", from.pointer("/secretRef/name"));
                add("ConfigMap", from.pointer("/configMapRef/name"));
            }
        }
    }
    for v in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add("Secret", v.pointer("/secret/secretName"));
        add("ConfigMap", v.pointer("/configMap/name"));
        for s in v
            .pointer("/projected/sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            add("Secret", s.pointer("/secret/name"));
            add("ConfigMap", s.pointer("/configMap/name"));
        }
    }
    add("ServiceAccount", spec.get("serviceAccountName"));
    for s in spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add("Secret", s.get("name"));
    }
    out
}

/// The images `m`'s pod spec runs.
pub fn images(m: &Manifest) -> Vec<&str> {
    let Some(spec) = pod_spec(&m.id.kind, &m.body) else {
        return Vec::new();
    };
    ["containers", "initContainers"]
        .iter()
        .flat_map(|l| spec.get(*l).and_then(Value::as_array).into_iter().flatten())
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .collect()
}

/// The registry part of an image reference (`host[:port]`), when it has one.
pub fn image_registry(image: &str) -> Option<(&str, Option<u16>)> {
    let (first, _) = image.split_once('/')?;
    // Docker's rule: the first component is a registry if it has a `.` or `:` or is localhost.
    if !(first.contains('.') || first.contains(':') || first == "localhost") {
        return None;
    }
    match first.rsplit_once(':') {
        Some((host, port)) => Some((host, port.parse().ok())),
        None => Some((first, None)),
    }
}

/// The workloads serving the in-cluster registry an image is pulled from: a Service of
/// the tree that the image's registry address reaches (same port, and the Service's name
/// as host, or a node-local address such as `localhost:4999` forwarded to it), then the
/// workloads its selector picks. A loopback address is also served by the workloads
/// listening on the node itself: a pod template on the host network exposing that port
/// (a registry on every node's 127.0.0.1, which is what the kubelet pulls from).
pub fn registry_workloads<'a>(image: &str, tree: &'a [Manifest]) -> Vec<&'a ObjectId> {
    let Some((host, Some(port))) = image_registry(image) else {
        return Vec::new();
    };
    let loopback = host == "localhost" || host == "127.0.0.1";
    let first_label = host.split('.').next().unwrap_or(host);
    let mut out = Vec::new();
    let mut add = |id: &'a ObjectId| {
        if !out.contains(&id) {
            out.push(id);
        }
    };
    for svc in tree.iter().filter(|m| m.id.kind == "Service") {
        let ports: Vec<u64> = svc
            .body
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("port").and_then(Value::as_u64))
            .collect();
        let reaches = ports.contains(&u64::from(port)) && (loopback || first_label == svc.id.name);
        if !reaches {
            continue;
        }
        for w in tree.iter().filter(|w| selects(&svc.body, &w.body)) {
            add(&w.id);
        }
    }
    if loopback {
        for w in tree.iter().filter(|w| listens_on_node(w, port)) {
            add(&w.id);
        }
    }
    out
}

/// Whether a Service's selector picks the pods of a workload's template.
pub fn selects(service: &Value, workload: &Value) -> bool {
    let Some(selector) = service.pointer("/spec/selector").and_then(Value::as_object) else {
        return false;
    };
    let labels = workload
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    !selector.is_empty()
        && labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
}

/// Whether `w`'s pod template runs on the host network and exposes `port` (as
/// `hostPort` or `containerPort`, which the host network makes the same).
fn listens_on_node(w: &Manifest, port: u16) -> bool {
    if w.id.kind == "Pod" {
        return false;
    }
    let Some(spec) = pod_spec(&w.id.kind, &w.body) else {
        return false;
    };
    if spec.get("hostNetwork").and_then(Value::as_bool) != Some(true) {
        return false;
    }
    spec.get("containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| {
            c.get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .any(|p| {
            ["hostPort", "containerPort"]
                .iter()
                .any(|f| p.get(*f).and_then(Value::as_u64) == Some(u64::from(port)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::manifest::parse_file;
    use std::path::Path;

    #[test]
    fn registry_part_follows_dockers_rule() {
        assert_eq!(
            image_registry("localhost:4999/ko/keystone:1"),
            Some(("localhost", Some(4999)))
        );
        assert_eq!(
            image_registry("docker.io/library/mariadb:11"),
            Some(("docker.io", None))
        );
        assert_eq!(image_registry("library/mariadb:11"), None);
        assert_eq!(image_registry("mariadb"), None);
    }

    const TREE: &str = "\
apiVersion: v1
kind: Service
metadata: {name: docker-registry}
spec:
  selector: {app: registry}
  ports: [{port: 4999, targetPort: 5000}]
---
apiVersion: v1
kind: ReplicationController
metadata: {name: docker-registry}
spec:
  template:
    metadata: {labels: {app: registry}}
    spec:
      containers: [{name: r, image: registry:2, ports: [{containerPort: 5000}]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: registry-node}
spec:
  template:
    metadata: {labels: {app: registry-node}}
    spec:
      hostNetwork: true
      containers: [{name: r, image: registry:2, ports: [{containerPort: 4999, hostPort: 4999}]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: other-port}
spec:
  template:
    metadata: {labels: {app: other}}
    spec:
      hostNetwork: true
      containers: [{name: r, image: registry:2, ports: [{containerPort: 5000}]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: pod-network}
spec:
  template:
    metadata: {labels: {app: pod-network}}
    spec:
      containers: [{name: r, image: registry:2, ports: [{containerPort: 4999, hostPort: 4999}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: one-node}
spec:
  hostNetwork: true
  containers: [{name: r, image: registry:2, ports: [{containerPort: 4999}]}]
";

    fn names(ids: Vec<&ObjectId>) -> Vec<String> {
        ids.iter()
            .map(|id| format!("{}/{}", id.kind, id.name))
            .collect()
    }

    #[test]
    fn a_loopback_registry_is_served_by_the_service_and_by_host_network_workloads_on_its_port() {
        let tree = parse_file(Path::new("t.yaml"), TREE).unwrap();
        let want = [
            "ReplicationController/docker-registry",
            "DaemonSet/registry-node",
        ];
        for image in [
            "localhost:4999/ko/keystone:1",
            "127.0.0.1:4999/ko/keystone:1",
        ] {
            assert_eq!(names(registry_workloads(image, &tree)), want, "{image}");
        }
    }

    #[test]
    fn host_network_workloads_serve_only_loopback_addresses_on_their_port() {
        let tree = parse_file(Path::new("t.yaml"), TREE).unwrap();
        assert_eq!(
            names(registry_workloads(
                "docker-registry:4999/ko/keystone:1",
                &tree
            )),
            ["ReplicationController/docker-registry"],
            "the Service's name reaches the Service only"
        );
        assert_eq!(
            names(registry_workloads("localhost:5000/ko/keystone:1", &tree)),
            ["DaemonSet/other-port"],
            "a pod-network container port is not on the node"
        );
        assert!(registry_workloads("localhost/ko/keystone:1", &tree).is_empty());
        assert!(registry_workloads("reg.example:4999/ko/keystone:1", &tree).is_empty());
    }

    #[test]
    fn a_node_registry_alone_serves_the_loopback_address() {
        let tree = parse_file(Path::new("t.yaml"), TREE).unwrap();
        let without_service: Vec<Manifest> = tree
            .into_iter()
            .filter(|m| m.id.kind != "Service")
            .collect();
        assert_eq!(
            names(registry_workloads("localhost:4999/x:1", &without_service)),
            ["DaemonSet/registry-node"]
        );
    }
}
