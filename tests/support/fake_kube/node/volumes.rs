//! A pod's volumes as host directories under the pod's own directory (mode 0700, removed
//! with the pod): `emptyDir` empty and shared by its containers, `secret` and `configMap`
//! written out (`items`, `defaultMode`, per-item `mode`) and mounted read-only,
//! `hostPath` as is (created for `DirectoryOrCreate` / `FileOrCreate`).

use super::super::objects::Store;
use super::env::entries;
use serde_json::Value;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub struct Volume {
    pub host: PathBuf,
    /// Secret and ConfigMap volumes are always read-only.
    pub read_only: bool,
}

/// Where the service account's token directory is mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Prepares every volume of `pod` under `dir`; the kubelet's `FailedMount` message for
/// the first one that cannot be set up (a missing Secret, a missing host path).
pub fn prepare(
    store: &Store,
    ns: &str,
    pod: &Value,
    dir: &Path,
    token: &str,
) -> Result<HashMap<String, Volume>, String> {
    let mut out = HashMap::new();
    for v in pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
        let host = dir.join("volumes").join(name);
        let failed =
            |why: String| format!("MountVolume.SetUp failed for volume \"{name}\" : {why}");
        let volume = if v.get("emptyDir").is_some() {
            mkdir(&host, 0o777).map_err(failed)?;
            Volume {
                host,
                read_only: false,
            }
        } else if let Some(s) = v.get("secret") {
            let source = s.get("secretName").and_then(Value::as_str).unwrap_or("");
            projected(store, "secrets", ns, source, s, &host).map_err(failed)?;
            Volume {
                host,
                read_only: true,
            }
        } else if let Some(c) = v.get("configMap") {
            let source = c.get("name").and_then(Value::as_str).unwrap_or("");
            projected(store, "configmaps", ns, source, c, &host).map_err(failed)?;
            Volume {
                host,
                read_only: true,
            }
        } else if let Some(h) = v.get("hostPath") {
            Volume {
                host: host_path(h).map_err(failed)?,
                read_only: false,
            }
        } else {
            continue; // named by `spec::unsupported`, never reached
        };
        out.insert(name.to_string(), volume);
    }
    let automount = pod
        .pointer("/spec/automountServiceAccountToken")
        .and_then(Value::as_bool)
        != Some(false);
    if automount {
        let host = dir.join("serviceaccount");
        mkdir(&host, 0o755)?;
        write(&host.join("token"), token.as_bytes(), 0o644)?;
        write(&host.join("namespace"), ns.as_bytes(), 0o644)?;
        out.insert(
            String::new(),
            Volume {
                host,
                read_only: true,
            },
        );
    }
    Ok(out)
}

fn mkdir(path: &Path, mode: u32) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

fn write(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        mkdir(parent, 0o755)?;
    }
    std::fs::write(path, data).map_err(|e| format!("write {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// A Secret or ConfigMap written out as files, as the kubelet's atomic writer leaves
/// them (without its `..data` links).
fn projected(
    store: &Store,
    plural: &str,
    ns: &str,
    name: &str,
    source: &Value,
    host: &Path,
) -> Result<(), String> {
    let key = (plural.to_string(), ns.to_string(), name.to_string());
    let optional = source.get("optional").and_then(Value::as_bool) == Some(true);
    let kind = if plural == "secrets" {
        "secret"
    } else {
        "configmap"
    };
    let data = match store.objects.get(&key).filter(|s| s.delete_at.is_none()) {
        Some(s) => entries(plural, &s.object),
        None if optional => Vec::new(),
        None => return Err(format!("{kind} \"{name}\" not found")),
    };
    let default_mode = source
        .get("defaultMode")
        .and_then(Value::as_u64)
        .unwrap_or(0o644) as u32;
    mkdir(host, 0o755)?;
    match source.get("items").and_then(Value::as_array) {
        Some(items) => {
            for item in items {
                let k = item.get("key").and_then(Value::as_str).unwrap_or_default();
                let path = item.get("path").and_then(Value::as_str).unwrap_or(k);
                let mode = item
                    .get("mode")
                    .and_then(Value::as_u64)
                    .map_or(default_mode, |m| m as u32);
                if path.split('/').any(|p| p == "..") || path.starts_with('/') {
                    return Err(format!("invalid path `{path}` for key `{k}`"));
                }
                match data.iter().find(|(dk, _)| dk == k) {
                    Some((_, v)) => write(&host.join(path), v, mode)?,
                    None if optional => {}
                    None => return Err(format!("couldn't find key {k} in {kind} {ns}/{name}")),
                }
            }
        }
        None => {
            for (k, v) in &data {
                write(&host.join(k), v, default_mode)?;
            }
        }
    }
    Ok(())
}

fn host_path(h: &Value) -> Result<PathBuf, String> {
    let path = PathBuf::from(h.get("path").and_then(Value::as_str).unwrap_or_default());
    match h.get("type").and_then(Value::as_str).unwrap_or("") {
        "DirectoryOrCreate" if !path.exists() => mkdir(&path, 0o755)?,
        "FileOrCreate" if !path.exists() => write(&path, b"", 0o644)?,
        "Directory" if !path.is_dir() => {
            return Err(format!(
                "hostPath type check failed: {} is not a directory",
                path.display()
            ));
        }
        "File" if !path.is_file() => {
            return Err(format!(
                "hostPath type check failed: {} is not a file",
                path.display()
            ));
        }
        _ => {}
    }
    Ok(path)
}
