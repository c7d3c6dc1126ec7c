//! Parameters: the values substituted into the templates, from one of three sources
//! (local evaluation of the Heat template, a file, a Heat stack), then overridden and
//! completed with derived values.

pub mod derive;
pub mod file;
pub mod heat;
pub mod local;
pub mod store;

use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a parameter's value came from, shown by `params show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Evaluated from the Heat template on this machine.
    Local,
    /// Read from a parameters file.
    File,
    /// Read from a Heat stack's outputs.
    Heat,
    /// Computed from another parameter (e.g. `swift_container` from `swift_siteurl`).
    Derived,
    /// Given with `--overrides FILE` or `-p key=value`.
    Override,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    pub value: Json,
    pub secret: bool,
    pub origin: Origin,
}

impl Param {
    /// The value as text: strings as they are, other values as JSON.
    pub fn text(&self) -> String {
        match &self.value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// The merged parameters, by name.
#[derive(Debug, Clone, Default)]
pub struct ParamSet {
    pub values: BTreeMap<String, Param>,
    /// Earlier values of rotated secrets: still masked, since old renders hold them.
    pub retired_secrets: Vec<String>,
}

impl ParamSet {
    pub fn insert(&mut self, name: impl Into<String>, value: Json, secret: bool, origin: Origin) {
        self.values.insert(
            name.into(),
            Param {
                value,
                secret,
                origin,
            },
        );
    }

    /// The values as the template context.
    pub fn to_context(&self) -> serde_json::Map<String, Json> {
        self.values
            .iter()
            .map(|(k, p)| (k.clone(), p.value.clone()))
            .collect()
    }

    /// Every secret string: current secret values (strings, or the text of other values)
    /// and retired ones.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .values
            .values()
            .filter(|p| p.secret)
            .map(Param::text)
            .chain(self.retired_secrets.iter().cloned())
            .filter(|s| !s.is_empty())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Whether a parameter name says it holds a secret, for sources that carry no such mark.
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "_key",
        "salt",
        "hash_path",
        "credential",
        "_db_uri",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Which source to read parameters from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Evaluate the Heat template here; generated values kept in the state directory.
    #[default]
    Local,
    /// A YAML/JSON map, or what `openstack stack output show --all -f json` prints.
    File,
    /// A Heat stack's outputs, through the Heat API.
    Heat,
}

/// Everything needed to produce the parameters, resolved from flags and the config file.
#[derive(Debug, Clone)]
pub struct Request {
    pub source: SourceKind,
    pub heat_template: PathBuf,
    pub params_file: Option<PathBuf>,
    pub stack: Option<String>,
    /// Stack parameters (`-P key=value`), as `openstack stack create --parameter`.
    pub stack_parameters: BTreeMap<String, String>,
    /// An overrides file: a map of parameter values that win over the source.
    pub overrides_file: Option<PathBuf>,
    /// `-p key=value`: win over everything.
    pub set: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] file::FileError),
    #[error("cannot evaluate the Heat template locally")]
    Local {
        path: PathBuf,
        #[source]
        source: Box<local::LocalError>,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(
        "`--source file` needs a parameters file (`--params-file FILE` or `params_file:` in the config file)"
    )]
    NoParamsFile,
    #[error("`--source heat` needs a stack name (`--stack NAME` or `stack:` in the config file)")]
    NoStack,
    #[error(
        "the outputs of stack `{0}` have not been read yet (`kube-openstack params refresh` reads them)"
    )]
    HeatNotRead(String),
    #[error("stack `{stack}` has outputs without a value:{}", problems.iter().map(|(k, e)| format!("\n  `{k}`: {e}")).collect::<String>())]
    OutputErrors {
        stack: String,
        problems: Vec<(String, String)>,
    },
    #[error(transparent)]
    Heat(#[from] crate::openstack::OpenStackError),
    #[error(
        "only values generated by the local source can be regenerated (the source is `{0:?}`); rotate them where the source keeps them"
    )]
    NotLocal(SourceKind),
}

/// Reads the parameters as `req` says. `warn` receives warnings for the user.
pub fn load(
    req: &Request,
    store: &store::StateDir,
    warn: &mut dyn FnMut(String),
) -> Result<ParamSet, ParamsError> {
    let mut provided: std::collections::BTreeSet<String> =
        req.set.iter().map(|(k, _)| k.clone()).collect();
    let overrides = match &req.overrides_file {
        Some(path) => Some(file::read(path)?),
        None => None,
    };
    if let Some(o) = &overrides {
        provided.extend(o.keys().cloned());
    }
    let mut set = match req.source {
        SourceKind::Local => local_source(req, store, &provided, warn)?,
        SourceKind::File => {
            let path = req.params_file.as_ref().ok_or(ParamsError::NoParamsFile)?;
            let mut set = ParamSet::default();
            for (k, v) in file::read(path)? {
                let secret = looks_secret(&k);
                set.insert(k, v, secret, Origin::File);
            }
            set
        }
        SourceKind::Heat => {
            let stack = req.stack.as_deref().ok_or(ParamsError::NoStack)?;
            let saved =
                heat::saved(store, stack)?.ok_or_else(|| ParamsError::HeatNotRead(stack.into()))?;
            heat::to_params(&saved)
        }
    };
    for (k, v) in overrides.into_iter().flatten() {
        let secret = set.values.get(&k).is_some_and(|p| p.secret) || looks_secret(&k);
        set.insert(k, v, secret, Origin::Override);
    }
    for (k, v) in &req.set {
        let secret = set.values.get(k).is_some_and(|p| p.secret) || looks_secret(k);
        set.insert(k.clone(), Json::String(v.clone()), secret, Origin::Override);
    }
    derive::complete(&mut set);
    Ok(set)
}

fn local_source(
    req: &Request,
    state: &store::StateDir,
    provided: &std::collections::BTreeSet<String>,
    warn: &mut dyn FnMut(String),
) -> Result<ParamSet, ParamsError> {
    let template = read_template(req)?;
    let mut saved = state.load_params()?;
    let before = serde_json::to_value(&saved.generated).expect("serializable");
    let evaluation = template
        .evaluate(&req.stack_parameters, provided, &mut saved.generated)
        .map_err(|source| ParamsError::Local {
            path: req.heat_template.clone(),
            source: Box::new(source),
        })?;
    if serde_json::to_value(&saved.generated).expect("serializable") != before {
        state.save_params(&saved)?;
    }
    evaluation.warnings.into_iter().for_each(&mut *warn);
    let mut set = ParamSet {
        retired_secrets: saved.retired.clone(),
        ..ParamSet::default()
    };
    for o in evaluation.outputs {
        set.insert(o.name, o.value, o.secret, Origin::Local);
    }
    Ok(set)
}

fn read_template(req: &Request) -> Result<local::LocalTemplate, ParamsError> {
    let path = &req.heat_template;
    let text = std::fs::read_to_string(path).map_err(|source| ParamsError::Read {
        path: path.clone(),
        source,
    })?;
    local::LocalTemplate::parse(&text, &path.display().to_string()).map_err(|source| {
        ParamsError::Local {
            path: path.clone(),
            source: Box::new(source),
        }
    })
}

/// Forgets the generated values behind `keys` (output or resource names) so the next
/// evaluation makes new ones; returns the resources rotated. Old values are kept as
/// retired secrets for masking.
pub fn regenerate(
    req: &Request,
    state: &store::StateDir,
    keys: &[String],
) -> Result<Vec<String>, ParamsError> {
    if req.source != SourceKind::Local {
        return Err(ParamsError::NotLocal(req.source));
    }
    let template = read_template(req)?;
    let mut resources = Vec::new();
    for key in keys {
        let behind =
            template
                .random_resources_behind(key)
                .map_err(|source| ParamsError::Local {
                    path: req.heat_template.clone(),
                    source: Box::new(source),
                })?;
        resources.extend(behind);
    }
    resources.sort();
    resources.dedup();
    let mut saved = state.load_params()?;
    for r in &resources {
        // `regenerate_all` also rotates every member of a resource group.
        saved.retired.extend(saved.generated.regenerate_all(r));
    }
    state.save_params(&saved)?;
    Ok(resources)
}
