//! The object store and the rules the API server applies to writes: server-set metadata,
//! server-side apply merging per field manager, validation, immutable fields, `Status`
//! error bodies.

use super::discovery::ResourceType;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// `(plural, namespace, name)`; cluster-scoped objects have an empty namespace.
pub type Key = (String, String, String);

pub struct Stored {
    pub object: Value,
    /// What each manager last applied, to remove fields a manager stops applying.
    pub applied: BTreeMap<String, Value>,
    /// When the spec last changed (controllers act a while after).
    pub changed_at: Instant,
    /// Graceful deletion: removed at this time.
    pub delete_at: Option<Instant>,
}

#[derive(Default)]
pub struct Store {
    pub objects: BTreeMap<Key, Stored>,
    pub resource_version: u64,
    /// How many times each object was created (a duplicate create would show as 2+).
    pub creations: HashMap<Key, u32>,
    pub logs: HashMap<Key, String>,
    /// Addresses for new Services; the real-pod node fills it with addresses its
    /// proxies can serve (empty: made-up addresses).
    pub cluster_ips: Vec<String>,
    uid: u64,
}

/// An API error: the HTTP code and its `Status` body.
pub struct ApiError {
    pub code: u16,
    pub body: Value,
}

pub fn status(code: u16, reason: &str, message: String, details: Value) -> ApiError {
    ApiError {
        code,
        body: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "details": details, "code": code}),
    }
}

pub fn not_found(t: &ResourceType, name: &str) -> ApiError {
    let what = if t.group.is_empty() {
        t.plural.to_string()
    } else {
        format!("{}.{}", t.plural, t.group)
    };
    status(
        404,
        "NotFound",
        format!("{what} \"{name}\" not found"),
        json!({"name": name, "kind": t.plural}),
    )
}

pub fn bad_request(message: String) -> ApiError {
    status(400, "BadRequest", message, Value::Null)
}

/// 422 Invalid with one cause per field.
pub fn invalid(kind: &str, name: &str, causes: Vec<(String, &str, String)>) -> ApiError {
    let summary: Vec<String> = causes
        .iter()
        .map(|(field, _, message)| format!("{field}: {message}"))
        .collect();
    let causes: Vec<Value> =
        causes.into_iter().map(|(field, reason, message)| json!({"reason": reason, "message": message, "field": field})).collect();
    status(
        422,
        "Invalid",
        format!("{kind} \"{name}\" is invalid: {}", summary.join(", ")),
        json!({"name": name, "kind": kind, "causes": causes}),
    )
}

pub fn now_rfc3339() -> String {
    rfc3339_at(SystemTime::now())
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a moment (a deletion's `deletionTimestamp` lies ahead).
pub fn rfc3339_at(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Checks what the API server's validation would refuse for these kinds.
pub fn validate(kind: &str, obj: &Value) -> Result<(), ApiError> {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    super::decode::check(kind, api_version, obj)?;
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut causes = Vec::new();
    let dns = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !dns {
        causes.push(("metadata.name".to_string(), "FieldValueInvalid", format!("Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'")));
    }
    let (spec_path, prefix) = match kind {
        "Pod" => ("/spec", "spec"),
        "ReplicationController" | "Deployment" | "DaemonSet" | "Job" => {
            ("/spec/template/spec", "spec.template.spec")
        }
        _ => ("", ""),
    };
    if !spec_path.is_empty() {
        let containers = obj
            .pointer(&format!("{spec_path}/containers"))
            .and_then(Value::as_array);
        match containers {
            None => causes.push((
                format!("{prefix}.containers"),
                "FieldValueRequired",
                "Required value".into(),
            )),
            Some(list) if list.is_empty() => causes.push((
                format!("{prefix}.containers"),
                "FieldValueRequired",
                "Required value".into(),
            )),
            Some(list) => {
                let host_network = obj
                    .pointer(&format!("{spec_path}/hostNetwork"))
                    .and_then(Value::as_bool)
                    == Some(true);
                for (i, c) in list.iter().enumerate() {
                    if host_network {
                        host_network_ports(c, &format!("{prefix}.containers[{i}]"), &mut causes);
                    }
                    for field in ["name", "image"] {
                        if c.get(field)
                            .and_then(Value::as_str)
                            .is_none_or(str::is_empty)
                        {
                            causes.push((
                                format!("{prefix}.containers[{i}].{field}"),
                                "FieldValueRequired",
                                "Required value".into(),
                            ));
                        }
                    }
                }
            }
        }
    }
    if kind == "ReplicationController" {
        let selector = obj.pointer("/spec/selector").and_then(Value::as_object);
        let labels = obj
            .pointer("/spec/template/metadata/labels")
            .and_then(Value::as_object);
        if let (Some(s), Some(l)) = (selector, labels)
            && !s.iter().all(|(k, v)| l.get(k) == Some(v))
        {
            causes.push((
                "spec.template.metadata.labels".into(),
                "FieldValueInvalid",
                "Invalid value: `selector` does not match template `labels`".into(),
            ));
        }
    }
    if matches!(kind, "Deployment" | "DaemonSet") {
        apps_selector(kind, obj, &mut causes);
    }
    if kind == "DaemonSet"
        && let Some(policy) = obj
            .pointer("/spec/template/spec/restartPolicy")
            .and_then(Value::as_str)
        && policy != "Always"
    {
        causes.push((
            "spec.template.spec.restartPolicy".into(),
            "FieldValueNotSupported",
            format!("Unsupported value: \"{policy}\": supported values: \"Always\""),
        ));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(invalid(kind, name, causes))
    }
}

type Causes = Vec<(String, &'static str, String)>;

/// On the host network a container port is the node's port: `hostPort`, when given, must
/// be the same number.
fn host_network_ports(container: &Value, prefix: &str, causes: &mut Causes) {
    for (j, p) in container
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let port = |f: &str| p.get(f).and_then(Value::as_i64);
        if let (Some(c), Some(h)) = (port("containerPort"), port("hostPort"))
            && c != h
        {
            causes.push((
                format!("{prefix}.ports[{j}].containerPort"),
                "FieldValueInvalid",
                format!("Invalid value: {c}: must match `hostPort` when `hostNetwork` is true"),
            ));
        }
    }
}

/// apps/v1 workloads: `spec.selector` is required, not empty, and selects the template's
/// labels.
fn apps_selector(kind: &str, obj: &Value, causes: &mut Causes) {
    let Some(selector) = obj.pointer("/spec/selector") else {
        causes.push((
            "spec.selector".into(),
            "FieldValueRequired",
            "Required value".into(),
        ));
        return;
    };
    let labels = obj.pointer("/spec/template/metadata/labels");
    let empty = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
        && selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
    if empty {
        causes.push((
            "spec.selector".into(),
            "FieldValueInvalid",
            format!(
                "Invalid value: {selector}: empty selector is invalid for {}",
                kind.to_lowercase()
            ),
        ));
    } else if !label_selector_matches(selector, labels) {
        causes.push((
            "spec.template.metadata.labels".into(),
            "FieldValueInvalid",
            "Invalid value: `selector` does not match template `labels`".into(),
        ));
    }
}

/// Whether a `LabelSelector` (`matchLabels` and `matchExpressions`) selects `labels`.
pub fn label_selector_matches(selector: &Value, labels: Option<&Value>) -> bool {
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let by_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k).is_some() && label(k) == v.as_str());
    let by_expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let v = label(key);
            match e.get("operator").and_then(Value::as_str) {
                Some("In") => v.is_some_and(|v| values.contains(&v)),
                Some("NotIn") => v.is_none_or(|v| !values.contains(&v)),
                Some("Exists") => v.is_some(),
                Some("DoesNotExist") => v.is_none(),
                _ => false,
            }
        });
    by_labels && by_expressions
}

/// Fields that cannot change after creation.
pub fn check_immutable(kind: &str, old: &Value, new: &Value) -> Result<(), ApiError> {
    let name = new
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    match kind {
        "Pod" => {
            // Only container images may change in a pod's spec.
            let strip = |v: &Value| {
                let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
                for list in ["containers", "initContainers"] {
                    if let Some(cs) = s.get_mut(list).and_then(Value::as_array_mut) {
                        for c in cs {
                            if let Some(c) = c.as_object_mut() {
                                c.remove("image");
                            }
                        }
                    }
                }
                s
            };
            if strip(old) != strip(new) {
                return Err(invalid("Pod", name, vec![("spec".into(), "FieldValueForbidden",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds`".into())]));
            }
        }
        "Job" if old.pointer("/spec/template") != new.pointer("/spec/template") => {
            return Err(invalid(
                "Job",
                name,
                vec![(
                    "spec.template".into(),
                    "FieldValueInvalid",
                    "Invalid value: field is immutable".into(),
                )],
            ));
        }
        "Deployment" | "DaemonSet"
            if old.pointer("/spec/selector") != new.pointer("/spec/selector") =>
        {
            return Err(invalid(
                kind,
                name,
                vec![(
                    "spec.selector".into(),
                    "FieldValueInvalid",
                    "Invalid value: field is immutable".into(),
                )],
            ));
        }
        "Service" => {
            let ip = |v: &Value| v.pointer("/spec/clusterIP").cloned();
            if ip(new).is_some() && ip(old) != ip(new) {
                return Err(invalid(
                    "Service",
                    name,
                    vec![(
                        "spec.clusterIP".into(),
                        "FieldValueInvalid",
                        "Invalid value: field is immutable".into(),
                    )],
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Server-side apply of `config` by `manager` over `live` (absent: a create). Fields the
/// manager applied before and no longer applies are removed; maps merge; lists are
/// replaced whole (coarser than the real per-list-type merge, exact for one manager).
pub fn merge_apply(live: Option<&Value>, previous: Option<&Value>, config: &Value) -> Value {
    let mut out = live.cloned().unwrap_or_else(|| json!({}));
    if let Some(prev) = previous {
        remove_dropped(&mut out, prev, config);
    }
    deep_merge(&mut out, config);
    out
}

fn remove_dropped(target: &mut Value, prev: &Value, now: &Value) {
    let (Some(t), Some(p)) = (target.as_object_mut(), prev.as_object()) else {
        return;
    };
    for (k, pv) in p {
        match now.get(k) {
            None => {
                t.remove(k);
            }
            Some(nv) if pv.is_object() && nv.is_object() => {
                if let Some(tv) = t.get_mut(k) {
                    remove_dropped(tv, pv, nv);
                }
            }
            _ => {}
        }
    }
}

fn deep_merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(tv) if tv.is_object() && v.is_object() => deep_merge(tv, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// Leaf paths a config sets, for conflict detection between managers.
pub fn leaves(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match v.as_object() {
        Some(m) => {
            for (k, v) in m {
                leaves(v, &format!("{prefix}.{k}"), out);
            }
        }
        None => {
            out.insert(prefix.to_string(), v.clone());
        }
    }
}

/// `fieldsV1` of a config: the set of fields it owns (lists as a whole).
pub fn fields_v1(v: &Value) -> Value {
    match v.as_object() {
        Some(m) => {
            let mut out = Map::new();
            out.insert(".".into(), json!({}));
            for (k, v) in m {
                out.insert(
                    format!("f:{k}"),
                    if v.is_object() {
                        fields_v1(v)
                    } else {
                        json!({})
                    },
                );
            }
            Value::Object(out)
        }
        None => json!({}),
    }
}

/// The object without what the server maintains, to tell whether a write changes it.
pub fn content(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            m.remove(k);
        }
    }
    v
}

impl Store {
    pub fn next_rv(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    pub fn next_uid(&mut self) -> String {
        self.uid += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.uid)
    }

    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.objects
            .contains_key(&("namespaces".to_string(), String::new(), ns.to_string()))
    }
}

/// The API server stores a Secret's `stringData` as base64 in `data` (and drops it).
pub fn fold_string_data(kind: &str, obj: &mut Value) {
    use base64::Engine as _;
    if kind != "Secret" {
        return;
    }
    let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    let data = obj
        .as_object_mut()
        .unwrap()
        .entry("data")
        .or_insert_with(|| json!({}));
    for (k, v) in string_data.as_object().into_iter().flatten() {
        let text = v.as_str().unwrap_or_default();
        data[k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}
