//! Which parts of a pod spec the node honours. Anything else is named, with its path, so
//! the pod reports it (an event and `CreateContainerConfigError`) instead of running
//! without it.

use serde_json::Value;

const POD_FIELDS: &[&str] = &[
    "containers",
    "volumes",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "dnsPolicy",
    "dnsConfig",
    "hostNetwork",
    "hostname",
    "hostAliases",
    "nodeName",
    "nodeSelector",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "enableServiceLinks",
    // Scheduling hints: one node, no taints, no priorities to weigh.
    "tolerations",
    "schedulerName",
    "priority",
    "priorityClassName",
    "securityContext",
];

const CONTAINER_FIELDS: &[&str] = &[
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "workingDir",
    "ports",
    "env",
    "envFrom",
    "resources",
    "volumeMounts",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "securityContext",
];

const PROBE_FIELDS: &[&str] = &[
    "httpGet",
    "tcpSocket",
    "exec",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "successThreshold",
    "terminationGracePeriodSeconds",
];

/// The fields of `pod` the node cannot honour, each as `path: why`.
pub fn unsupported(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let spec = &pod["spec"];
    unknown(spec, POD_FIELDS, "spec", &mut out);
    for field in ["securityContext"] {
        if spec.get(field).is_some_and(not_empty) {
            out.push(format!("spec.{field}: not applied by the test node"));
        }
    }
    one_of(
        spec,
        "dnsPolicy",
        &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"],
        "spec",
        &mut out,
    );
    one_of(
        spec,
        "restartPolicy",
        &["Always", "OnFailure", "Never"],
        "spec",
        &mut out,
    );
    if let Some(sel) = spec.get("nodeSelector").and_then(Value::as_object) {
        for (k, v) in sel {
            if super::node_label(k) != v.as_str() {
                out.push(format!(
                    "spec.nodeSelector.{k}: the only node does not have this label"
                ));
            }
        }
    }
    for (i, v) in items(spec, "volumes").enumerate() {
        volume(v, &format!("spec.volumes[{i}]"), &mut out);
    }
    let host_network = spec["hostNetwork"].as_bool() == Some(true);
    for (i, c) in items(spec, "containers").enumerate() {
        container(c, &format!("spec.containers[{i}]"), &mut out);
        for (j, p) in items(c, "ports").enumerate() {
            if p.get("hostPort").is_some() && !host_network {
                out.push(format!(
                    "spec.containers[{i}].ports[{j}].hostPort: only with hostNetwork on the test node"
                ));
            }
        }
    }
    out
}

fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn not_empty(v: &Value) -> bool {
    !(v.is_null() || v.as_object().is_some_and(|m| m.is_empty()))
}

fn unknown(v: &Value, known: &[&str], at: &str, out: &mut Vec<String>) {
    for k in v.as_object().into_iter().flat_map(|m| m.keys()) {
        if !known.contains(&k.as_str()) {
            out.push(format!("{at}.{k}: not supported by the test node"));
        }
    }
}

fn one_of(v: &Value, key: &str, allowed: &[&str], at: &str, out: &mut Vec<String>) {
    if let Some(s) = v.get(key).and_then(Value::as_str)
        && !allowed.contains(&s)
    {
        out.push(format!("{at}.{key}: `{s}` is not supported"));
    }
}

fn volume(v: &Value, at: &str, out: &mut Vec<String>) {
    let kinds: Vec<&String> = v
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys())
        .filter(|k| *k != "name")
        .collect();
    for kind in kinds {
        let body = &v[kind.as_str()];
        let here = format!("{at}.{kind}");
        match kind.as_str() {
            "emptyDir" => {
                if !body
                    .get("medium")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    out.push(format!(
                        "{here}.medium: only the node's disk backs emptyDir here"
                    ));
                }
                unknown(body, &["medium", "sizeLimit"], &here, out);
            }
            "secret" => unknown(
                body,
                &["secretName", "items", "defaultMode", "optional"],
                &here,
                out,
            ),
            "configMap" => unknown(
                body,
                &["name", "items", "defaultMode", "optional"],
                &here,
                out,
            ),
            "hostPath" => {
                unknown(body, &["path", "type"], &here, out);
                one_of(
                    body,
                    "type",
                    &["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File"],
                    &here,
                    out,
                );
            }
            other => out.push(format!(
                "{at}.{other}: volume type not supported by the test node"
            )),
        }
    }
}

fn container(c: &Value, at: &str, out: &mut Vec<String>) {
    unknown(c, CONTAINER_FIELDS, at, out);
    if c.get("securityContext").is_some_and(not_empty) {
        out.push(format!(
            "{at}.securityContext: not applied by the test node"
        ));
    }
    if let Some(limits) = c.pointer("/resources/limits").and_then(Value::as_object) {
        for k in limits
            .keys()
            .filter(|k| !["cpu", "memory"].contains(&k.as_str()))
        {
            out.push(format!("{at}.resources.limits.{k}: not supported"));
        }
    }
    for (j, p) in items(c, "ports").enumerate() {
        let here = format!("{at}.ports[{j}]");
        unknown(
            p,
            &["name", "containerPort", "protocol", "hostPort", "hostIP"],
            &here,
            out,
        );
        one_of(p, "protocol", &["TCP", "UDP"], &here, out);
    }
    for (j, m) in items(c, "volumeMounts").enumerate() {
        unknown(
            m,
            &["name", "mountPath", "readOnly", "subPath"],
            &format!("{at}.volumeMounts[{j}]"),
            out,
        );
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(p) = c.get(probe) else { continue };
        let here = format!("{at}.{probe}");
        unknown(p, PROBE_FIELDS, &here, out);
        if let Some(h) = p.get("httpGet") {
            unknown(
                h,
                &["path", "port", "host", "scheme", "httpHeaders"],
                &format!("{here}.httpGet"),
                out,
            );
            one_of(h, "scheme", &["HTTP"], &format!("{here}.httpGet"), out);
        }
        if let Some(t) = p.get("tcpSocket") {
            unknown(t, &["port", "host"], &format!("{here}.tcpSocket"), out);
        }
    }
}

/// `docker.io/library/` for names without a registry, as the kubelet's runtime does.
pub fn normalise_image(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = match (has_registry, image.contains('/')) {
        (true, _) => image.to_string(),
        (false, true) => format!("docker.io/{image}"),
        (false, false) => format!("docker.io/library/{image}"),
    };
    let last = full.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && !last.contains('@') {
        full.push_str(":latest");
    }
    full
}

/// The pull policy the API server defaults: `Always` for `:latest` or no tag, else
/// `IfNotPresent`.
pub fn pull_policy(container: &Value) -> String {
    if let Some(p) = container.get("imagePullPolicy").and_then(Value::as_str) {
        return p.to_string();
    }
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or_default();
    if last.contains('@') || (last.contains(':') && !last.ends_with(":latest")) {
        "IfNotPresent".into()
    } else {
        "Always".into()
    }
}

/// A container port by number or by name (`None`: no such name).
pub fn port_number(pod: &Value, port: &Value) -> Option<u16> {
    if let Some(n) = port.as_u64() {
        return u16::try_from(n).ok();
    }
    let name = port.as_str()?;
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    items(&pod["spec"], "containers")
        .flat_map(|c| items(c, "ports"))
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|p| p.get("containerPort").and_then(Value::as_u64))
        .and_then(|n| u16::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_what_the_node_cannot_honour() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "x", "tty": true,
            "securityContext": {"privileged": true}}],
            "volumes": [{"name": "v", "nfs": {"server": "s"}}], "affinity": {}}});
        let found = unsupported(&pod);
        assert!(
            found.iter().any(|f| f.starts_with("spec.affinity")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("spec.containers[0].tty"))
        );
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("spec.containers[0].securityContext"))
        );
        assert!(found.iter().any(|f| f.starts_with("spec.volumes[0].nfs")));
        let fine = json!({"spec": {"containers": [{"name": "a", "image": "x",
            "resources": {"requests": {"cpu": "1"}}}], "tolerations": [{"operator": "Exists"}]}});
        assert!(unsupported(&fine).is_empty());
    }

    #[test]
    fn images_are_named_as_the_runtime_names_them() {
        assert_eq!(
            normalise_image("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(normalise_image("example/k:1"), "docker.io/example/k:1");
        assert_eq!(
            normalise_image("127.0.0.1:4999/p/k:2"),
            "127.0.0.1:4999/p/k:2"
        );
        assert_eq!(normalise_image("localhost/p/k"), "localhost/p/k:latest");
        assert_eq!(pull_policy(&json!({"image": "a/b"})), "Always");
        assert_eq!(pull_policy(&json!({"image": "a/b:1"})), "IfNotPresent");
    }
}
