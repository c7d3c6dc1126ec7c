//! Type checks the API server makes while decoding a pod spec (in a Pod or a workload's
//! template): integer fields must be numbers. A YAML reader that turns `0400` into a
//! string, say, gets the server's refusal instead of a pod that silently loses the
//! field.

use super::objects::{ApiError, status};
use serde_json::Value;

/// Integer fields of a pod spec, as JSON pointer patterns (`*`: every list item).
const INTEGERS: &[&str] = &[
    "/terminationGracePeriodSeconds",
    "/activeDeadlineSeconds",
    "/volumes/*/secret/defaultMode",
    "/volumes/*/secret/items/*/mode",
    "/volumes/*/configMap/defaultMode",
    "/volumes/*/configMap/items/*/mode",
    "/containers/*/ports/*/containerPort",
    "/containers/*/ports/*/hostPort",
    "/containers/*/livenessProbe/initialDelaySeconds",
    "/containers/*/livenessProbe/periodSeconds",
    "/containers/*/livenessProbe/timeoutSeconds",
    "/containers/*/livenessProbe/failureThreshold",
    "/containers/*/readinessProbe/initialDelaySeconds",
    "/containers/*/readinessProbe/periodSeconds",
    "/containers/*/readinessProbe/timeoutSeconds",
    "/containers/*/readinessProbe/failureThreshold",
];

/// `Err` (400) naming the first integer field that holds something else.
pub fn check(kind: &str, api_version: &str, obj: &Value) -> Result<(), ApiError> {
    let (spec, prefix) = match kind {
        "Pod" => (obj.get("spec"), ".spec"),
        "ReplicationController" | "Deployment" | "DaemonSet" | "Job" => {
            (obj.pointer("/spec/template/spec"), ".spec.template.spec")
        }
        _ => (None, ""),
    };
    let Some(spec) = spec else { return Ok(()) };
    for pattern in INTEGERS {
        let parts: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
        if let Some((path, found)) = first_non_integer(spec, &parts, prefix.to_string()) {
            let group_version = if api_version.contains('/') {
                api_version.to_string()
            } else {
                format!("/{api_version}")
            };
            return Err(status(
                400,
                "BadRequest",
                format!(
                    "failed to create typed patch object ({group_version}, Kind={kind}): {path}: expected numeric (int or float), got {found}"
                ),
                Value::Null,
            ));
        }
    }
    Ok(())
}

fn first_non_integer(v: &Value, parts: &[&str], at: String) -> Option<(String, &'static str)> {
    let Some((head, rest)) = parts.split_first() else {
        return match v {
            Value::Number(_) | Value::Null => None,
            Value::String(_) => Some((at, "string")),
            Value::Bool(_) => Some((at, "bool")),
            Value::Array(_) => Some((at, "list")),
            Value::Object(_) => Some((at, "map")),
        };
    };
    if *head == "*" {
        return v
            .as_array()?
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_non_integer(item, rest, format!("{at}[{i}]")));
    }
    first_non_integer(v.get(*head)?, rest, format!("{at}.{head}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_string_in_an_integer_field_is_refused_with_its_path() {
        let pod = json!({"spec": {"volumes": [{"name": "a", "secret": {"defaultMode": 256}},
            {"name": "b", "secret": {"defaultMode": "0400"}}]}});
        let e = super::check("Pod", "v1", &pod).unwrap_err();
        assert_eq!(e.code, 400);
        let message = e.body["message"].as_str().unwrap();
        assert!(
            message.contains(
                ".spec.volumes[1].secret.defaultMode: expected numeric (int or float), got string"
            ),
            "{message}"
        );
        assert!(
            super::check(
                "Pod",
                "v1",
                &json!({"spec": {"volumes": [{"secret": {"defaultMode": 256}}]}})
            )
            .is_ok()
        );
    }
}
