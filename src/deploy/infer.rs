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
/// workloads its selector picks.
pub fn registry_workloads<'a>(image: &str, tree: &'a [Manifest]) -> Vec<&'a ObjectId> {
    let Some((host, port)) = image_registry(image) else {
        return Vec::new();
    };
    let loopback = host == "localhost" || host == "127.0.0.1";
    let first_label = host.split('.').next().unwrap_or(host);
    let mut out = Vec::new();
    for svc in tree.iter().filter(|m| m.id.kind == "Service") {
        let ports: Vec<u64> = svc
            .body
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("port").and_then(Value::as_u64))
            .collect();
        let port_matches = port.is_some_and(|p| ports.contains(&u64::from(p)));
        let reaches = port_matches && (loopback || first_label == svc.id.name);
        if !reaches {
            continue;
        }
        let Some(selector) = svc
            .body
            .pointer("/spec/selector")
            .and_then(Value::as_object)
        else {
            continue;
        };
        for w in tree {
            let labels = w
                .body
                .pointer("/spec/template/metadata/labels")
                .and_then(Value::as_object);
            let picked = labels.is_some_and(|l| {
                !selector.is_empty() && selector.iter().all(|(k, v)| l.get(k) == Some(v))
            });
            if picked && !out.contains(&&w.id) {
                out.push(&w.id);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
