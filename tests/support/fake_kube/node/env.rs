//! A container's environment as the kubelet builds it: Service links of the namespace
//! (`NAME_SERVICE_HOST`, ...) unless `enableServiceLinks: false`, then `envFrom`, then
//! `env` (`value` with `$(VAR)` expansion, `secretKeyRef`, `configMapKeyRef`, `fieldRef`);
//! a missing Secret, ConfigMap or key that is not optional is a
//! `CreateContainerConfigError` with the kubelet's message.

use super::super::objects::Store;
use base64::Engine as _;
use serde_json::Value;

/// What `fieldRef` can read besides the pod object itself.
pub struct PodFacts<'a> {
    pub pod: &'a Value,
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
}

pub type Env = Vec<(String, String)>;

fn set(env: &mut Env, name: &str, value: String) {
    match env.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value,
        None => env.push((name.to_string(), value)),
    }
}

/// The environment of `container` in namespace `ns`.
pub fn resolve(
    store: &Store,
    ns: &str,
    container: &Value,
    facts: &PodFacts,
) -> Result<Env, String> {
    let mut env = Env::new();
    let links = facts
        .pod
        .pointer("/spec/enableServiceLinks")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if links {
        service_links(store, ns, &mut env);
    }
    for source in list(container, "envFrom") {
        env_from(store, ns, source, &mut env)?;
    }
    for var in list(container, "env") {
        let name = var.get("name").and_then(Value::as_str).unwrap_or_default();
        let value = if let Some(v) = var.get("value").and_then(Value::as_str) {
            Some(expand(v, &env))
        } else if let Some(from) = var.get("valueFrom") {
            value_from(store, ns, from, facts)?
        } else {
            Some(String::new())
        };
        if let Some(value) = value {
            set(&mut env, name, value);
        }
    }
    Ok(env)
}

fn list<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn object(store: &Store, plural: &str, ns: &str, name: &str) -> Option<Value> {
    store
        .objects
        .get(&(plural.to_string(), ns.to_string(), name.to_string()))
        .filter(|s| s.delete_at.is_none())
        .map(|s| s.object.clone())
}

/// The decoded entries of a Secret (`data`, base64) or a ConfigMap (`data`, and
/// `binaryData` in base64).
pub fn entries(plural: &str, obj: &Value) -> Vec<(String, Vec<u8>)> {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_default()
    };
    let map = |k: &str| obj.get(k).and_then(Value::as_object).into_iter().flatten();
    let mut out = Vec::new();
    for (k, v) in map("data") {
        let bytes = if plural == "secrets" {
            b64(v)
        } else {
            v.as_str().unwrap_or_default().as_bytes().to_vec()
        };
        out.push((k.clone(), bytes));
    }
    if plural == "configmaps" {
        for (k, v) in map("binaryData") {
            out.push((k.clone(), b64(v)));
        }
    }
    out
}

fn kind_of(plural: &str) -> &'static str {
    if plural == "secrets" {
        "secret"
    } else {
        "configmap"
    }
}

fn env_from(store: &Store, ns: &str, source: &Value, env: &mut Env) -> Result<(), String> {
    let prefix = source
        .get("prefix")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for (field, plural) in [("configMapRef", "configmaps"), ("secretRef", "secrets")] {
        let Some(r) = source.get(field) else { continue };
        let name = r.get("name").and_then(Value::as_str).unwrap_or_default();
        let optional = r.get("optional").and_then(Value::as_bool) == Some(true);
        match object(store, plural, ns, name) {
            Some(obj) => {
                for (k, v) in entries(plural, &obj) {
                    let key = format!("{prefix}{k}");
                    // The kubelet skips keys that are not valid variable names.
                    if valid_name(&key) {
                        set(env, &key, String::from_utf8_lossy(&v).into_owned());
                    }
                }
            }
            None if optional => {}
            None => return Err(format!("{} \"{name}\" not found", kind_of(plural))),
        }
    }
    Ok(())
}

fn valid_name(k: &str) -> bool {
    !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn value_from(
    store: &Store,
    ns: &str,
    from: &Value,
    facts: &PodFacts,
) -> Result<Option<String>, String> {
    for (field, plural) in [
        ("secretKeyRef", "secrets"),
        ("configMapKeyRef", "configmaps"),
    ] {
        let Some(r) = from.get(field) else { continue };
        let name = r.get("name").and_then(Value::as_str).unwrap_or_default();
        let key = r.get("key").and_then(Value::as_str).unwrap_or_default();
        let optional = r.get("optional").and_then(Value::as_bool) == Some(true);
        let Some(obj) = object(store, plural, ns, name) else {
            return match optional {
                true => Ok(None),
                false => Err(format!("{} \"{name}\" not found", kind_of(plural))),
            };
        };
        return match entries(plural, &obj).into_iter().find(|(k, _)| k == key) {
            Some((_, v)) => Ok(Some(String::from_utf8_lossy(&v).into_owned())),
            None if optional => Ok(None),
            None => {
                let what = if plural == "secrets" {
                    "Secret"
                } else {
                    "ConfigMap"
                };
                Err(format!("couldn't find key {key} in {what} {ns}/{name}"))
            }
        };
    }
    if let Some(r) = from.get("fieldRef") {
        let path = r
            .get("fieldPath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return field_ref(path, facts).map(Some);
    }
    let kind = from
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .unwrap_or_default();
    Err(format!(
        "valueFrom.{kind} is not supported by the test node"
    ))
}

/// The values the downward API offers through `fieldRef`.
pub fn field_ref(path: &str, facts: &PodFacts) -> Result<String, String> {
    let pod = facts.pod;
    let s = |p: &str| {
        pod.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let from_map = |map: &str, path: &str| -> Option<String> {
        let key = path
            .strip_prefix(&format!("metadata.{map}['"))?
            .strip_suffix("']")?;
        Some(
            pod.pointer(&format!("/metadata/{map}"))
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    };
    Ok(match path {
        "metadata.name" => s("/metadata/name"),
        "metadata.namespace" => s("/metadata/namespace"),
        "metadata.uid" => s("/metadata/uid"),
        "spec.nodeName" => s("/spec/nodeName"),
        "spec.serviceAccountName" => match s("/spec/serviceAccountName") {
            n if n.is_empty() => "default".into(),
            n => n,
        },
        "status.podIP" | "status.podIPs" => facts.pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => facts.host_ip.to_string(),
        other => match from_map("labels", other).or_else(|| from_map("annotations", other)) {
            Some(v) => v,
            None => return Err(format!("unsupported fieldRef `{other}`")),
        },
    })
}

/// `NAME_SERVICE_HOST`, `NAME_SERVICE_PORT`, `NAME_PORT_80_TCP...` for every Service of
/// the namespace that has a cluster address.
fn service_links(store: &Store, ns: &str, env: &mut Env) {
    for ((plural, sns, name), s) in &store.objects {
        if plural != "services" || sns != ns || s.delete_at.is_some() {
            continue;
        }
        let svc = &s.object;
        let ip = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("None");
        if ip == "None" || ip.is_empty() {
            continue;
        }
        let prefix = name.to_uppercase().replace('-', "_");
        let ports: Vec<&Value> = list(&svc["spec"], "ports").collect();
        let Some(first) = ports.first() else { continue };
        let port_of = |p: &Value| p.get("port").and_then(Value::as_i64).unwrap_or(0);
        set(env, &format!("{prefix}_SERVICE_HOST"), ip.to_string());
        set(
            env,
            &format!("{prefix}_SERVICE_PORT"),
            port_of(first).to_string(),
        );
        let proto_of = |p: &Value| {
            p.get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP")
                .to_string()
        };
        set(
            env,
            &format!("{prefix}_PORT"),
            format!(
                "{}://{ip}:{}",
                proto_of(first).to_lowercase(),
                port_of(first)
            ),
        );
        for p in ports {
            let (port, proto) = (port_of(p), proto_of(p));
            if let Some(pname) = p.get("name").and_then(Value::as_str) {
                let pname = pname.to_uppercase().replace('-', "_");
                set(
                    env,
                    &format!("{prefix}_SERVICE_PORT_{pname}"),
                    port.to_string(),
                );
            }
            let base = format!("{prefix}_PORT_{port}_{proto}");
            set(
                env,
                &base,
                format!("{}://{ip}:{port}", proto.to_lowercase()),
            );
            set(env, &format!("{base}_PROTO"), proto.to_lowercase());
            set(env, &format!("{base}_PORT"), port.to_string());
            set(env, &format!("{base}_ADDR"), ip.to_string());
        }
    }
}

/// Kubernetes' `$(VAR)` expansion: a defined variable is replaced, `$$` is a `$`, and
/// anything else (an undefined variable, a lone `$`) stays as written.
pub fn expand(input: &str, env: &Env) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match env.iter().find(|(n, _)| n == name) {
                Some((_, v)) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_kubernetes() {
        let env = vec![("A".to_string(), "x".to_string())];
        assert_eq!(expand("$(A)-$(B)-$$(A)-$-$", &env), "x-$(B)-$(A)-$-$");
        assert_eq!(expand("$(A", &env), "$(A");
    }
}
