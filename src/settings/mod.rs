//! Settings resolved once: command-line flags over the project config file
//! (`kube-openstack.yaml`) over built-in defaults. Environment variables override nothing
//! but the cloud's name (`OS_CLOUD`, as the `openstack` CLI). Paths in the config file are
//! relative to the file's directory.
//!
//! A command turns its arguments into the settings it needs here, once, and hands those
//! on: nothing below the commands sees a clap type, the config file, or a default to
//! work out again.
//!
//! - [`Project`]: the config file, and the defaults every command shares;
//! - [`ParamsSettings`], [`TreeSettings`]: reading parameters, rendering;
//! - [`ClusterSettings`]: the commands that talk to the cluster;
//! - [`ImagesSettings`]: building and pushing;
//! - [`UpSettings`]: all of them, for `up`.

mod cluster;
mod images;
mod params;
mod up;

pub use cluster::ClusterSettings;
pub use images::{ImagesSettings, RegistryLogin, host_of};
pub use params::{ParamsSettings, TreeSettings, WaitSettings, openstack};
pub use up::UpSettings;

use crate::cli::{self, SourceArgs, TreeArgs};
use crate::images::builder::BuilderKind;
use crate::params::{Request, SourceKind};
use crate::printer::ColorWhen;
use crate::state::StateDir;
use crate::up::Step;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "kube-openstack.yaml";

/// `--dry-run`, with kubectl's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    /// Change things.
    #[default]
    Off,
    /// Ask the server what it would do (its dry run); keep nothing.
    Server,
    /// Ask the cluster nothing.
    Client,
}

impl DryRun {
    pub fn is_on(self) -> bool {
        self != DryRun::Off
    }
}

impl From<Option<cli::DryRunChoice>> for DryRun {
    fn from(choice: Option<cli::DryRunChoice>) -> DryRun {
        match choice {
            None => DryRun::Off,
            Some(cli::DryRunChoice::Server) => DryRun::Server,
            Some(cli::DryRunChoice::Client) => DryRun::Client,
        }
    }
}

/// The config file; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ConfigFile {
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub heat_template: Option<PathBuf>,
    pub source: Option<SourceKind>,
    pub params_file: Option<PathBuf>,
    pub overrides: Option<PathBuf>,
    pub stack: Option<String>,
    #[serde(default)]
    pub stack_parameters: BTreeMap<String, serde_yaml::Value>,
    pub namespace: Option<String>,
    pub registry: Option<String>,
    pub image_prefix: Option<String>,
    /// Build contexts of the images (one directory per image).
    pub docker_dir: Option<PathBuf>,
    #[serde(default)]
    pub legacy_percent: bool,
    /// Cloud of clouds.yaml for the Heat source and `stack` (`--os-cloud` / OS_CLOUD win).
    pub cloud: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read config file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file `{}`", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("not in a kube-openstack project: no {CONFIG_FILE} here or in any parent")]
    NotInProject { dir: PathBuf },
    #[error("cannot tell the current directory")]
    CurrentDir(#[source] std::io::Error),
}

impl crate::report::Hint for SettingsError {
    fn hint(&self) -> Option<String> {
        match self {
            SettingsError::NotInProject { dir } => Some(format!(
                "run it in a project (a directory holding {CONFIG_FILE}, with `kubernetes-in/` and `heat/` beside it), name the file with `--config FILE`, or make `{}` one: `touch {CONFIG_FILE}` (every key is optional)",
                dir.display()
            )),
            _ => None,
        }
    }
}

/// The config file found (or given) and the directory its paths are relative to.
#[derive(Debug, Default)]
pub struct Project {
    pub config: ConfigFile,
    pub base: PathBuf,
    /// A config file was found or given (false: the defaults, outside any project).
    pub found: bool,
}

impl Project {
    /// The project a command runs in: `--config FILE` when given, else the nearest
    /// `kube-openstack.yaml` in the current directory or one of its parents, as git and
    /// cargo find theirs (its paths are then relative to where it was found). None is an
    /// error, before anything is read or written.
    pub fn find(explicit: Option<&Path>) -> Result<Project, SettingsError> {
        if let Some(path) = explicit {
            return Project::load(path);
        }
        let here = std::env::current_dir().map_err(SettingsError::CurrentDir)?;
        match nearest_config(&here) {
            Some(path) => Project::load(&path),
            None => Err(SettingsError::NotInProject { dir: here }),
        }
    }

    /// As [`Project::find`], but outside a project the defaults, relative to the current
    /// directory: for the commands that also run where no project is (`watch` on a
    /// server, `userdata`, `login`, `logout`).
    pub fn find_or_defaults(explicit: Option<&Path>) -> Result<Project, SettingsError> {
        match Project::find(explicit) {
            Err(SettingsError::NotInProject { .. }) => Ok(Project {
                config: ConfigFile::default(),
                base: PathBuf::from("."),
                found: false,
            }),
            found => found,
        }
    }

    /// Loads the config file at `path`; its directory is the base of its paths.
    pub fn load(path: &Path) -> Result<Project, SettingsError> {
        let text = crate::files::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Option<ConfigFile> =
            crate::yaml::from_str(&text).map_err(|source| SettingsError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ok(Project {
            config: config.unwrap_or_default(),
            base,
            found: true,
        })
    }

    fn rel(&self, p: &Path) -> PathBuf {
        if p.is_absolute() || self.base == Path::new(".") {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn pick(&self, flag: &Option<PathBuf>, file: &Option<PathBuf>, default: &str) -> PathBuf {
        match (flag, file) {
            (Some(f), _) => f.clone(),
            (None, Some(c)) => self.rel(c),
            (None, None) => self.rel(Path::new(default)),
        }
    }

    /// The state directory: `--state-dir` (where a command has it), else the config
    /// file's, else `.kube-openstack`.
    pub fn state(&self, flag: Option<&Path>) -> StateDir {
        StateDir::new(self.pick(
            &flag.map(Path::to_path_buf),
            &self.config.state_dir,
            ".kube-openstack",
        ))
    }

    /// The template source: a directory (relative to the config file when it comes from
    /// there) or a URL, which is kept as written.
    pub fn input(&self, args: &TreeArgs) -> String {
        let is_url = |p: &Path| p.to_string_lossy().contains("://");
        match (&args.input_dir, &self.config.input) {
            (None, Some(c)) if is_url(c) => c.to_string_lossy().into_owned(),
            _ => self
                .pick(&args.input_dir, &self.config.input, "kubernetes-in")
                .to_string_lossy()
                .into_owned(),
        }
    }

    pub fn output_dir(&self, flag: &Option<PathBuf>) -> PathBuf {
        self.pick(flag, &self.config.output, "kubernetes")
    }

    pub fn docker_dir(&self, flag: &Option<PathBuf>) -> PathBuf {
        self.pick(flag, &self.config.docker_dir, "docker")
    }

    /// The deploy namespace when one is given: `-n` over the config file's `namespace`.
    pub fn namespace(&self, flag: &Option<String>) -> Option<String> {
        flag.clone().or_else(|| self.config.namespace.clone())
    }

    /// The stack parameters of the config file. `registry` and `image_prefix` set
    /// `docker_registry` and `docker_image_prefix`.
    pub fn stack_parameters(&self) -> BTreeMap<String, String> {
        let c = &self.config;
        let mut stack_parameters: BTreeMap<String, String> = c
            .stack_parameters
            .iter()
            .map(|(k, v)| (k.clone(), yaml_scalar_text(v)))
            .collect();
        if let Some(r) = &c.registry {
            stack_parameters.insert("docker_registry".into(), r.clone());
        }
        if let Some(p) = &c.image_prefix {
            stack_parameters.insert("docker_image_prefix".into(), p.clone());
        }
        stack_parameters
    }

    /// The parameter request: flags over config over defaults (`-P` over the config's
    /// stack parameters).
    pub fn params_request(&self, args: &SourceArgs) -> Request {
        let c = &self.config;
        let mut stack_parameters = self.stack_parameters();
        stack_parameters.extend(args.parameters.iter().cloned());
        Request {
            source: args.source.map(Into::into).or(c.source).unwrap_or_default(),
            heat_template: self.pick(
                &args.heat_template,
                &c.heat_template,
                "heat/heat-setup.yaml",
            ),
            params_file: args
                .params_file
                .clone()
                .or_else(|| c.params_file.as_ref().map(|p| self.rel(p))),
            stack: args.stack.clone().or_else(|| c.stack.clone()),
            stack_parameters,
            overrides_file: args
                .overrides
                .clone()
                .or_else(|| c.overrides.as_ref().map(|p| self.rel(p))),
            set: args.set.clone(),
        }
    }
}

/// The nearest `kube-openstack.yaml` in `dir` or a parent, named relative to `dir`
/// (`kube-openstack.yaml`, `../kube-openstack.yaml`, ...), so messages stay short.
fn nearest_config(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().enumerate().find_map(|(up, ancestor)| {
        ancestor.join(CONFIG_FILE).is_file().then(|| {
            let mut path: PathBuf = std::iter::repeat_n("..", up).collect();
            path.push(CONFIG_FILE);
            path
        })
    })
}

impl From<cli::SourceChoice> for SourceKind {
    fn from(choice: cli::SourceChoice) -> SourceKind {
        match choice {
            cli::SourceChoice::Local => SourceKind::Local,
            cli::SourceChoice::File => SourceKind::File,
            cli::SourceChoice::Heat => SourceKind::Heat,
        }
    }
}

impl From<cli::BuilderChoice> for BuilderKind {
    fn from(choice: cli::BuilderChoice) -> BuilderKind {
        match choice {
            cli::BuilderChoice::Buildah => BuilderKind::Buildah,
            cli::BuilderChoice::Podman => BuilderKind::Podman,
            cli::BuilderChoice::Docker => BuilderKind::Docker,
        }
    }
}

impl From<cli::StepChoice> for Step {
    fn from(choice: cli::StepChoice) -> Step {
        match choice {
            cli::StepChoice::Params => Step::Params,
            cli::StepChoice::Render => Step::Render,
            cli::StepChoice::Registry => Step::Registry,
            cli::StepChoice::Images => Step::Images,
            cli::StepChoice::Deploy => Step::Deploy,
            cli::StepChoice::DbSync => Step::DbSync,
            cli::StepChoice::CleanJobs => Step::CleanJobs,
            cli::StepChoice::Verify => Step::Verify,
        }
    }
}

impl From<cli::ColorChoice> for ColorWhen {
    fn from(choice: cli::ColorChoice) -> ColorWhen {
        match choice {
            cli::ColorChoice::Auto => ColorWhen::Auto,
            cli::ColorChoice::Always => ColorWhen::Always,
            cli::ColorChoice::Never => ColorWhen::Never,
        }
    }
}

fn yaml_scalar_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim_end()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_config_file_and_paths_are_relative_to_it() {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path().join(CONFIG_FILE);
        std::fs::write(
            &cfg,
            "input: tpl\nregistry: reg:5000\nstack_parameters: {image_tag: v1}\n",
        )
        .unwrap();
        let p = Project::load(&cfg).unwrap();
        assert_eq!(
            p.input(&TreeArgs::default()),
            t.path().join("tpl").to_string_lossy()
        );
        let args = TreeArgs {
            input_dir: Some("other".into()),
            ..TreeArgs::default()
        };
        assert_eq!(p.input(&args), "other");
        let mut src = SourceArgs::default();
        let req = p.params_request(&src);
        assert_eq!(req.stack_parameters["docker_registry"], "reg:5000");
        assert_eq!(req.stack_parameters["image_tag"], "v1");
        src.parameters
            .push(("docker_registry".into(), "flag:1".into()));
        assert_eq!(
            p.params_request(&src).stack_parameters["docker_registry"],
            "flag:1"
        );
        std::fs::write(&cfg, "input: https://example.invalid/tree.tar.gz\n").unwrap();
        let p = Project::load(&cfg).unwrap();
        assert_eq!(
            p.input(&TreeArgs::default()),
            "https://example.invalid/tree.tar.gz"
        );
    }

    #[test]
    fn the_nearest_config_file_up_the_tree_is_found() {
        let t = tempfile::tempdir().unwrap();
        let deep = t.path().join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(nearest_config(&deep), None);
        std::fs::write(t.path().join(CONFIG_FILE), "").unwrap();
        assert_eq!(
            nearest_config(&deep),
            Some(PathBuf::from("../../..").join(CONFIG_FILE))
        );
        std::fs::write(t.path().join("a/b").join(CONFIG_FILE), "").unwrap();
        assert_eq!(
            nearest_config(&deep),
            Some(PathBuf::from("..").join(CONFIG_FILE))
        );
        std::fs::write(deep.join(CONFIG_FILE), "").unwrap();
        assert_eq!(nearest_config(&deep), Some(PathBuf::from(CONFIG_FILE)));
        // A directory of that name is not a project.
        let other = t.path().join("x");
        std::fs::create_dir_all(other.join(CONFIG_FILE)).unwrap();
        assert_eq!(
            nearest_config(&other),
            Some(PathBuf::from("..").join(CONFIG_FILE))
        );
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_file() {
        let t = tempfile::tempdir().unwrap();
        let cfg = t.path().join(CONFIG_FILE);
        std::fs::write(&cfg, "inptu: x\n").unwrap();
        let err = Project::load(&cfg).unwrap_err();
        assert!(matches!(err, SettingsError::Parse { .. }));
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(
            chain.contains("inptu") && chain.contains(CONFIG_FILE),
            "{chain}"
        );
    }
}
