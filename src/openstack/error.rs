//! What can go wrong talking to OpenStack, with the facts needed to act and a hint each.
//! No variant holds a secret: messages come from the server or name a setting.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OpenStackError {
    #[error("no Keystone URL: {0}")]
    NoAuthUrl(String),
    #[error("invalid {what} `{value}`")]
    InvalidSetting {
        what: &'static str,
        value: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("cannot read `{}`", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid clouds file `{}`", path.display())]
    CloudsFile {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("cloud `{name}` is not defined in {}", describe_files(searched))]
    UnknownCloud {
        name: String,
        searched: Vec<PathBuf>,
        known: Vec<String>,
    },
    #[error(
        "no {what} for user `{user}` at `{auth_url}` (not in OS_PASSWORD, clouds.yaml, secure.yaml or the keyring)"
    )]
    NoSecret {
        what: &'static str,
        user: String,
        auth_url: String,
    },
    #[error("incomplete credentials: {0}")]
    Incomplete(String),
    #[error("the OS keyring refused to {action} the secret for `{account}`")]
    Keyring {
        action: &'static str,
        account: String,
        #[source]
        source: keyring::Error,
    },
    #[error("cannot connect to `{url}`: {reason}")]
    Connect {
        url: String,
        /// Why, naming the server (`connection to https://... refused`).
        reason: String,
        tls: bool,
        #[source]
        source: reqwest::Error,
    },
    #[error("no answer from `{url}` in {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("Keystone refused the credentials at `{url}`: {message}")]
    Unauthorized { url: String, message: String },
    #[error("{method} `{url}` failed: {status} {message}")]
    Api {
        method: String,
        url: String,
        status: u16,
        kind: Option<String>,
        message: String,
    },
    #[error("unexpected answer from `{url}`: {message}")]
    Protocol { url: String, message: String },
    #[error("no `{service}` endpoint (interface {interface}{}) in the service catalog; the catalog has: {}", region.as_ref().map(|r| format!(", region {r}")).unwrap_or_default(), if available.is_empty() { "nothing".to_string() } else { available.join(", ") })]
    NoEndpoint {
        service: String,
        region: Option<String>,
        interface: String,
        available: Vec<String>,
    },
    #[error("stack `{0}` does not exist")]
    StackNotFound(String),
    #[error("stack `{name}` already exists")]
    StackExists { name: String },
    #[error("stack `{name}` is {status}: {reason}")]
    StackInProgress {
        name: String,
        status: String,
        reason: String,
    },
    #[error(
        "stack `{name}` is {status}: {reason}{}",
        failed_list(failed_resources)
    )]
    StackFailed {
        name: String,
        status: String,
        reason: String,
        failed_resources: Vec<(String, String)>,
    },
    #[error("stack `{name}` still {status} after {secs} s")]
    WaitTimeout {
        name: String,
        status: String,
        secs: u64,
    },
}

fn failed_list(resources: &[(String, String)]) -> String {
    resources
        .iter()
        .map(|(r, why)| format!("\n  resource {r}: {why}"))
        .collect()
}

fn describe_files(files: &[PathBuf]) -> String {
    if files.is_empty() {
        return "any clouds.yaml (none found: ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml)".into();
    }
    files
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl crate::report::Hint for OpenStackError {
    /// What the user can do about it.
    fn hint(&self) -> Option<String> {
        Some(match self {
            OpenStackError::NoAuthUrl(_) => {
                "source an openrc (`OS_AUTH_URL`, `OS_USERNAME`, ...), or name a cloud of clouds.yaml with `--os-cloud NAME`, `OS_CLOUD` or `cloud:` in kube-openstack.yaml".into()
            }
            OpenStackError::UnknownCloud { known, .. } if !known.is_empty() => {
                format!("clouds defined: {}", known.join(", "))
            }
            OpenStackError::UnknownCloud { .. } => "point `OS_CLIENT_CONFIG_FILE` at your clouds.yaml".into(),
            OpenStackError::NoSecret { .. } => {
                "store it once with `kube-openstack login` (kept in the OS keyring), or set OS_PASSWORD / put it in secure.yaml".into()
            }
            OpenStackError::Keyring { .. } => {
                "on a server without a desktop the kernel keyring is used; check that `keyctl show @s` works, or set OS_PASSWORD instead".into()
            }
            OpenStackError::Connect { tls: true, .. } => {
                "if the cloud uses a private CA, pass its certificate with `--os-cacert FILE` or `OS_CACERT` (`--insecure` skips verification, for tests only)".into()
            }
            OpenStackError::Connect { .. } | OpenStackError::Timeout { .. } => {
                "check the URL and that the service is up (retried with backoff before giving up)".into()
            }
            OpenStackError::Unauthorized { .. } => {
                "check the user, password, project and domains (`kube-openstack login` stores a new password)".into()
            }
            OpenStackError::NoEndpoint { .. } => {
                "pick the region (`--os-region-name`) or interface (`--os-interface`), or give Heat's URL with `--heat-url` / `HEAT_URL`".into()
            }
            OpenStackError::StackNotFound(_) => {
                "create it with `kube-openstack stack create --wait`, or check the name (`--stack` or `stack:` in kube-openstack.yaml) and the project".into()
            }
            OpenStackError::StackExists { .. } => {
                "use another `--stack` name, or `kube-openstack stack delete --wait` it first".into()
            }
            OpenStackError::StackInProgress { .. } => "pass `--wait` to wait until the stack is complete (e.g. `kube-openstack params refresh --wait`)".into(),
            OpenStackError::StackFailed { .. } => {
                "fix the cause, then `kube-openstack stack delete --wait` and `stack create --wait` again".into()
            }
            OpenStackError::WaitTimeout { .. } => "wait longer with `--timeout SECS`, or look at the stack with `kube-openstack stack show`".into(),
            OpenStackError::Api { status: 401, .. } => "the token was refused; log in again".into(),
            OpenStackError::Api { status: 403, .. } => {
                "the user needs a role allowed to use Heat in this project (e.g. heat_stack_owner or member)".into()
            }
            _ => return None,
        })
    }
}
