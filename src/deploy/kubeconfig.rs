//! Which cluster, read as kubectl reads it: `--kubeconfig FILE` alone; else every file of
//! `KUBECONFIG` that exists, merged (the first file to set a value wins, files that do not
//! exist are skipped); else `~/.kube/config`; else, inside a pod, its service account.

use super::client::ClientError;
use kube::config::Kubeconfig;
use std::path::{Path, PathBuf};

/// The kubeconfig files that were read, merged.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Kubeconfig,
    pub files: Vec<PathBuf>,
}

impl Loaded {
    /// The namespace of `context` (else of the current context), when it names one.
    pub fn namespace(&self, context: Option<&str>) -> Option<String> {
        let name = context.or(self.config.current_context.as_deref())?;
        let named = self.config.contexts.iter().find(|c| c.name == name)?;
        named.context.as_ref()?.namespace.clone()
    }
}

/// The namespace kubectl would use when none is given: the kubeconfig context's, else
/// (inside a pod, with no kubeconfig) the service account's. A kubeconfig that cannot be
/// read names none here: connecting says why.
pub fn default_namespace(explicit: Option<&Path>, context: Option<&str>) -> Option<String> {
    match load(explicit) {
        Ok(Some(loaded)) => loaded.namespace(context),
        Ok(None) => std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
            .ok()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        Err(_) => None,
    }
}

const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The kubeconfig to use; `Ok(None)` when there is none (then only an in-cluster service
/// account can say where the cluster is). `Err` names the file that could not be read.
pub fn load(explicit: Option<&Path>) -> Result<Option<Loaded>, ClientError> {
    let files = match explicit {
        Some(path) if !path.exists() => {
            return Err(ClientError::Missing {
                path: path.to_path_buf(),
            });
        }
        Some(path) => vec![path.to_path_buf()],
        None => candidates(std::env::var_os("KUBECONFIG"), std::env::home_dir())
            .into_iter()
            .filter(|p| p.is_file())
            .collect(),
    };
    if files.is_empty() {
        return Ok(None);
    }
    let mut merged = Kubeconfig::default();
    for path in &files {
        // A device (`--kubeconfig /dev/zero`) would be read for ever.
        let read = crate::files::refuse_device(path)
            .map_err(|e| kube::config::KubeconfigError::ReadConfig(e, path.clone()))
            .and_then(|()| Kubeconfig::read_from(path))
            .and_then(|next| merged.clone().merge(next));
        merged = read.map_err(|source| ClientError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
    }
    Ok(Some(Loaded {
        config: merged,
        files,
    }))
}

/// Where kubectl looks when `--kubeconfig` is not given: the paths of `KUBECONFIG` (empty
/// entries ignored), else `~/.kube/config`.
pub fn candidates(var: Option<std::ffi::OsString>, home: Option<PathBuf>) -> Vec<PathBuf> {
    let listed: Vec<PathBuf> = var
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !listed.is_empty() {
        return listed;
    }
    home.map(|h| vec![h.join(".kube").join("config")])
        .unwrap_or_default()
}

/// The paths `load` looked at, for a message when none held a configuration.
pub fn looked_at() -> String {
    let paths = candidates(std::env::var_os("KUBECONFIG"), std::env::home_dir());
    let shown: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
    match shown.len() {
        0 => "no kubeconfig (`KUBECONFIG` and `HOME` unset)".into(),
        _ => format!("no kubeconfig at {}", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_lists_every_path_else_the_home_file() {
        let home = Some(PathBuf::from("/home/u"));
        assert_eq!(
            candidates(Some("/a:/b::/c".into()), home.clone()),
            ["/a", "/b", "/c"].map(PathBuf::from)
        );
        assert_eq!(
            candidates(Some("".into()), home.clone()),
            [PathBuf::from("/home/u/.kube/config")]
        );
        assert_eq!(candidates(None, None), Vec::<PathBuf>::new());
    }
}
