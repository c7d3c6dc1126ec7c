//! Which cloud and which credentials: flags over `OS_*` variables over the clouds.yaml
//! entry (merged with secure.yaml), as the OpenStack CLI does. Secrets missing from all of
//! those are looked up in the OS keyring (see `kube-openstack login`).

use super::{OpenStackError, Secret, secret_store};
use serde_yaml::{Mapping, Value as Yaml};
use std::path::{Path, PathBuf};
use url::Url;

/// What the command line and the project config say (no secrets: those never come
/// from argv).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub cloud: Option<String>,
    pub auth_url: Option<String>,
    pub auth_type: Option<String>,
    pub username: Option<String>,
    pub user_id: Option<String>,
    pub project_name: Option<String>,
    pub project_id: Option<String>,
    pub user_domain_name: Option<String>,
    pub project_domain_name: Option<String>,
    pub region_name: Option<String>,
    pub interface: Option<String>,
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    pub heat_url: Option<String>,
    pub application_credential_id: Option<String>,
    pub application_credential_name: Option<String>,
    /// Where to look for clouds.yaml / secure.yaml (the standard path when empty).
    pub search_dirs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

/// Who is authenticating. `user` is the name (or id) with its domain.
#[derive(Debug, Clone)]
pub enum AuthMethod {
    Password {
        user: UserRef,
        password: Secret,
    },
    ApplicationCredential {
        id: Option<String>,
        name: Option<String>,
        user: Option<UserRef>,
        secret: Secret,
    },
    Token(Secret),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(String),
    Name { name: String, domain: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    ProjectId(String),
    ProjectName { name: String, domain: String },
}

/// Everything needed to talk to one cloud.
#[derive(Debug, Clone)]
pub struct Cloud {
    /// Keystone v3 URL, ending in `/v3`.
    pub auth_url: Url,
    pub auth: AuthMethod,
    pub scope: Option<Scope>,
    pub region: Option<String>,
    pub interface: Interface,
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    pub heat_url: Option<String>,
}

/// The settings before the secret is found: what `login` needs to know where to store it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub cloud: Cloud,
    /// The keyring account the secret lives under.
    pub account: String,
    /// Whether the secret came from somewhere other than the keyring.
    pub secret_given: bool,
}

/// The names OpenStack tools read, looked up through `env` (the process environment in
/// real use; a map in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Resolves flags, `OS_*` variables and clouds.yaml into a cloud. When no secret is
/// given, `keyring` decides: `true` looks there (and fails if absent), `false` leaves a
/// placeholder (for `login`, which asks for it).
pub fn resolve(
    opts: &ConnectOptions,
    env: Env<'_>,
    keyring: bool,
) -> Result<Resolved, OpenStackError> {
    let entry = match opts.cloud.clone().or_else(|| env("OS_CLOUD")) {
        Some(name) => cloud_entry(&name, &opts.search_dirs, env)?,
        None => Mapping::new(),
    };
    let src = Sources::new(entry, env);
    let auth_url = src.pick(&opts.auth_url, "auth_url").ok_or_else(|| {
        OpenStackError::NoAuthUrl(
            "set OS_AUTH_URL or `--os-auth-url`, or choose a cloud of clouds.yaml".into(),
        )
    })?;
    let auth_url = keystone_v3_url(&auth_url)?;
    let (user, scope) = src.user_and_scope(opts);
    let interface = src.interface(opts)?;
    let verify_off = src.entry.get("verify").and_then(Yaml::as_bool) == Some(false);
    let (method, account, secret_given) =
        src.auth_method(opts, user, auth_url.as_ref(), keyring)?;
    let cacert = opts
        .cacert
        .clone()
        .or_else(|| src.pick(&None, "cacert").map(PathBuf::from));
    let heat_url = opts
        .heat_url
        .clone()
        .or_else(|| env("HEAT_URL").filter(|v| !v.is_empty()));
    let cloud = Cloud {
        auth_url,
        auth: method,
        scope,
        region: src.pick(&opts.region_name, "region_name"),
        interface,
        cacert,
        insecure: opts.insecure
            || verify_off
            || env("OS_INSECURE").is_some_and(|v| v == "true" || v == "1"),
        heat_url,
    };
    Ok(Resolved {
        cloud,
        account,
        secret_given,
    })
}

/// Where a setting can come from, below the flags: `OS_*` variables, then the clouds.yaml
/// entry (its `auth` map, then its top level).
struct Sources<'a> {
    entry: Mapping,
    auth: Mapping,
    env: Env<'a>,
}

impl<'a> Sources<'a> {
    fn new(entry: Mapping, env: Env<'a>) -> Sources<'a> {
        let auth = entry
            .get("auth")
            .and_then(Yaml::as_mapping)
            .cloned()
            .unwrap_or_default();
        Sources { entry, auth, env }
    }

    /// flag > OS_<NAME> > clouds.yaml `auth.<name>` (or top-level key for non-auth ones).
    fn pick(&self, flag: &Option<String>, key: &str) -> Option<String> {
        flag.clone()
            .or_else(|| (self.env)(&format!("OS_{}", key.to_uppercase())).filter(|v| !v.is_empty()))
            .or_else(|| self.auth_text(key))
            .or_else(|| self.entry.get(key).and_then(yaml_text))
    }

    /// A key of the entry's `auth` map (secrets: no flag, no top-level key).
    fn auth_text(&self, key: &str) -> Option<String> {
        self.auth.get(key).and_then(yaml_text)
    }

    /// Who authenticates and in which project, each by id or by name with its domain.
    fn user_and_scope(&self, opts: &ConnectOptions) -> (Option<UserRef>, Option<Scope>) {
        let domain_default = self
            .pick(&None, "domain_name")
            .or_else(|| self.pick(&None, "default_domain"));
        let domain = |v: Option<String>| {
            v.or_else(|| domain_default.clone())
                .unwrap_or_else(|| "Default".into())
        };
        let user = match (
            self.pick(&opts.user_id, "user_id"),
            self.pick(&opts.username, "username"),
        ) {
            (Some(id), _) => Some(UserRef::Id(id)),
            (None, Some(name)) => Some(UserRef::Name {
                name,
                domain: domain(self.pick(&opts.user_domain_name, "user_domain_name")),
            }),
            (None, None) => None,
        };
        let scope = match (
            self.pick(&opts.project_id, "project_id"),
            self.pick(&opts.project_name, "project_name"),
        ) {
            (Some(id), _) => Some(Scope::ProjectId(id)),
            (None, Some(name)) => Some(Scope::ProjectName {
                name,
                domain: domain(self.pick(&opts.project_domain_name, "project_domain_name")),
            }),
            (None, None) => None,
        };
        (user, scope)
    }

    fn interface(&self, opts: &ConnectOptions) -> Result<Interface, OpenStackError> {
        match self
            .pick(&opts.interface, "interface")
            .as_deref()
            .map(|s| s.trim_end_matches("URL"))
        {
            None | Some("public") => Ok(Interface::Public),
            Some("internal") => Ok(Interface::Internal),
            Some("admin") => Ok(Interface::Admin),
            Some(other) => Err(OpenStackError::InvalidSetting {
                what: "interface (public, internal or admin)",
                value: other.into(),
                source: None,
            }),
        }
    }

    /// How to authenticate, the keyring account of its secret, and whether the secret was
    /// given (not from the keyring).
    fn auth_method(
        &self,
        opts: &ConnectOptions,
        user: Option<UserRef>,
        url: &str,
        keyring: bool,
    ) -> Result<(AuthMethod, String, bool), OpenStackError> {
        let auth_type = self.pick(&opts.auth_type, "auth_type").unwrap_or_else(|| {
            if (self.env)("OS_TOKEN").is_some() || self.auth_text("token").is_some() {
                "token".into()
            } else {
                "password".into()
            }
        });
        match auth_type.as_str() {
            "password" | "v3password" => {
                let user = user.ok_or_else(|| {
                    OpenStackError::Incomplete("no user: set OS_USERNAME or `--os-username`".into())
                })?;
                let account = secret_store::account(url, &user_label(&user));
                let given = (self.env)("OS_PASSWORD").or_else(|| self.auth_text("password"));
                let (password, given) = secret(given, &account, &user, "password", url, keyring)?;
                Ok((AuthMethod::Password { user, password }, account, given))
            }
            "v3applicationcredential" | "applicationcredential" => {
                self.application_credential(opts, user, url, keyring)
            }
            "token" | "v3token" => {
                let token = (self.env)("OS_TOKEN")
                    .or_else(|| self.auth_text("token"))
                    .ok_or_else(|| {
                        OpenStackError::Incomplete(
                            "token authentication needs OS_TOKEN (or `auth.token` in secure.yaml)"
                                .into(),
                        )
                    })?;
                Ok((AuthMethod::Token(Secret::new(token)), String::new(), true))
            }
            other => Err(OpenStackError::InvalidSetting {
                what: "auth type (password, v3applicationcredential or token)",
                value: other.into(),
                source: None,
            }),
        }
    }

    fn application_credential(
        &self,
        opts: &ConnectOptions,
        user: Option<UserRef>,
        url: &str,
        keyring: bool,
    ) -> Result<(AuthMethod, String, bool), OpenStackError> {
        let id = self.pick(&opts.application_credential_id, "application_credential_id");
        let name = self.pick(
            &opts.application_credential_name,
            "application_credential_name",
        );
        let label = match (&id, &name, &user) {
            (Some(id), _, _) => format!("appcred:{id}"),
            (None, Some(name), Some(user)) => format!("appcred:{name}@{}", user_label(user)),
            _ => {
                return Err(OpenStackError::Incomplete(
                    "an application credential needs OS_APPLICATION_CREDENTIAL_ID, or its name and the user".into(),
                ));
            }
        };
        let account = secret_store::account(url, &label);
        let given = (self.env)("OS_APPLICATION_CREDENTIAL_SECRET")
            .or_else(|| self.auth_text("application_credential_secret"));
        let who = UserRef::Id(label.clone());
        let (secret, given) = secret(
            given,
            &account,
            &who,
            "application credential secret",
            url,
            keyring,
        )?;
        let method = AuthMethod::ApplicationCredential {
            id,
            name,
            user,
            secret,
        };
        Ok((method, account, given))
    }
}

fn user_label(user: &UserRef) -> String {
    match user {
        UserRef::Id(id) => id.clone(),
        UserRef::Name { name, domain } => format!("{domain}/{name}"),
    }
}

/// The secret given, else the keyring's (when asked to look), else a placeholder.
fn secret(
    given: Option<String>,
    account: &str,
    user: &UserRef,
    what: &'static str,
    auth_url: &str,
    keyring: bool,
) -> Result<(Secret, bool), OpenStackError> {
    if let Some(s) = given.filter(|s| !s.is_empty()) {
        return Ok((Secret::new(s), true));
    }
    if !keyring {
        return Ok((Secret::new(""), false));
    }
    match secret_store::load(account)? {
        Some(s) => Ok((s, false)),
        None => Err(OpenStackError::NoSecret {
            what,
            user: user_label(user),
            auth_url: auth_url.into(),
        }),
    }
}

/// `http://host:5000` and `http://host:5000/v3/` both mean the v3 API at `/v3`.
fn keystone_v3_url(text: &str) -> Result<Url, OpenStackError> {
    let invalid = |e: url::ParseError| OpenStackError::InvalidSetting {
        what: "Keystone URL",
        value: text.into(),
        source: Some(Box::new(e)),
    };
    let mut url = Url::parse(text.trim()).map_err(invalid)?;
    let path = url.path().trim_end_matches('/').to_string();
    let path = if path.ends_with("/v3") {
        path
    } else {
        format!("{path}/v3")
    };
    url.set_path(&path);
    Ok(url)
}

fn yaml_text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) if !s.is_empty() => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Standard places, first found wins: `OS_CLIENT_CONFIG_FILE` (clouds) or
/// `OS_CLIENT_SECURE_FILE` (secure), then the current directory,
/// `~/.config/openstack`, `/etc/openstack`.
fn find_file(
    name: &str,
    explicit_var: &str,
    search_dirs: &[PathBuf],
    env: Env<'_>,
) -> Option<PathBuf> {
    if let Some(p) = env(explicit_var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let dirs: Vec<PathBuf> = if search_dirs.is_empty() {
        let mut d = vec![PathBuf::from(".")];
        if let Some(home) = env("HOME") {
            d.push(Path::new(&home).join(".config/openstack"));
        }
        d.push(PathBuf::from("/etc/openstack"));
        d
    } else {
        search_dirs.to_vec()
    };
    dirs.into_iter()
        .flat_map(|d| [d.join(name), d.join(name.replace(".yaml", ".yml"))])
        .find(|p| p.is_file())
}

fn read_clouds(path: &Path) -> Result<Mapping, OpenStackError> {
    let text = crate::files::read_to_string(path).map_err(|source| OpenStackError::ReadFile {
        path: path.into(),
        source,
    })?;
    let doc: Yaml = crate::yaml::from_str(&text).map_err(|source| OpenStackError::CloudsFile {
        path: path.into(),
        source,
    })?;
    Ok(doc
        .get("clouds")
        .and_then(Yaml::as_mapping)
        .cloned()
        .unwrap_or_default())
}

/// The named entry of clouds.yaml with secure.yaml's entry merged over it.
fn cloud_entry(
    name: &str,
    search_dirs: &[PathBuf],
    env: Env<'_>,
) -> Result<Mapping, OpenStackError> {
    let clouds_file = find_file("clouds.yaml", "OS_CLIENT_CONFIG_FILE", search_dirs, env);
    let secure_file = find_file("secure.yaml", "OS_CLIENT_SECURE_FILE", search_dirs, env);
    let clouds = match &clouds_file {
        Some(p) => read_clouds(p)?,
        None => Mapping::new(),
    };
    let Some(Yaml::Mapping(mut entry)) = clouds.get(name).cloned() else {
        return Err(OpenStackError::UnknownCloud {
            name: name.into(),
            searched: clouds_file.into_iter().collect(),
            known: clouds
                .keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect(),
        });
    };
    if let Some(p) = &secure_file
        && let Some(Yaml::Mapping(secure)) = read_clouds(p)?.get(name)
    {
        merge(&mut entry, secure);
    }
    Ok(entry)
}

fn merge(base: &mut Mapping, over: &Mapping) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Yaml::Mapping(b)), Yaml::Mapping(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
