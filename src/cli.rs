//! Command-line interface (clap derive only; no I/O here).

use crate::params::SourceKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "kube-openstack", version, about = "Deploy OpenStack onto Kubernetes", propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Project config file [default: ./kube-openstack.yaml when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print only errors and data
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to colour output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show, get or rotate the parameters substituted into the templates
    #[command(subcommand)]
    Params(ParamsCommand),
    /// Render the templates into the output directory (atomically)
    Render(RenderArgs),
    /// Show what a render would change (exit 0: none, 1: differences, 2: error)
    Diff(DiffArgs),
    /// Build the docker/ contexts and push them to the registry (no verb: build + push)
    Images(ImagesArgs),
}

#[derive(Debug, Subcommand)]
pub enum ParamsCommand {
    /// Print the merged parameters, with their source; secrets masked
    Show {
        #[command(flatten)]
        source: SourceArgs,
        /// Print secret values too
        #[arg(long)]
        show_secrets: bool,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Print one parameter's value, raw, for scripts
    Get {
        key: String,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Generate new values for the named parameters (or Heat resources)
    Regenerate {
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[command(flatten)]
        source: SourceArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Yaml,
    Json,
}

/// Where parameters come from (shared by every command that needs them).
#[derive(Debug, Args, Clone, Default)]
pub struct SourceArgs {
    /// Parameter source
    #[arg(long, value_enum)]
    pub source: Option<SourceKind>,
    /// Heat template evaluated by the local source
    #[arg(long, value_name = "FILE")]
    pub heat_template: Option<PathBuf>,
    /// Parameters file for `--source file` (YAML/JSON map, or `openstack stack output show --all -f json`)
    #[arg(long, value_name = "FILE")]
    pub params_file: Option<PathBuf>,
    /// Heat stack name
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// Stack parameter, as `openstack stack create --parameter` (repeatable)
    #[arg(short = 'P', long = "parameter", value_name = "KEY=VALUE", value_parser = key_value)]
    pub parameters: Vec<(String, String)>,
    /// File of parameter values that win over the source
    #[arg(long, value_name = "FILE")]
    pub overrides: Option<PathBuf>,
    /// Parameter value that wins over everything (repeatable; the value is a string)
    #[arg(short = 'p', long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    pub set: Vec<(String, String)>,
    /// Directory for state kept between runs
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct TreeArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Template tree
    #[arg(long, value_name = "DIR")]
    pub input_dir: Option<PathBuf>,
    /// Templates use the 2014 tool's `%name%` placeholders
    #[arg(long)]
    pub legacy_percent: bool,
    /// Treat unused parameters as an error
    #[arg(long)]
    pub strict: bool,
    /// Write `image@sha256:...` for images pushed by `kube-openstack images` (from the
    /// digest lock in the state directory)
    #[arg(long)]
    pub pin_images: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub tree: TreeArgs,
    /// Output directory
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Print the rendered documents instead of writing files
    #[arg(long)]
    pub stdout: bool,
    /// Replace an output directory that does not look like a previous render
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub tree: TreeArgs,
    /// Compare with this directory instead of the output directory
    #[arg(long, value_name = "DIR")]
    pub against: Option<PathBuf>,
    /// Show secret values in the diff
    #[arg(long)]
    pub show_secrets: bool,
    #[arg(short, long, value_enum, default_value_t = DiffFormat::Text)]
    pub output: DiffFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub verb: Option<ImagesVerb>,
    /// Images to build and push (with their bases) [default: all]
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub options: ImagesOptions,
}

#[derive(Debug, Subcommand)]
pub enum ImagesVerb {
    /// Build the images whose content the registry does not have yet
    Build {
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// Push images built by `images build` that the registry does not have yet
    Push {
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// What `docker/` defines and what the registry holds: digest, up to date or not
    List {
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
}

/// Options of every `images` verb.
#[derive(Debug, Args, Clone, Default)]
pub struct ImagesOptions {
    /// Directory of build contexts, one per image [default: docker]
    #[arg(long, global = true, value_name = "DIR")]
    pub docker_dir: Option<PathBuf>,
    /// Registry `host:port` (or URL) [default: the `registry` setting, else localhost:4999]
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub registry: Option<String>,
    /// Path prefix of the images in the registry [default: the `image_prefix` setting]
    #[arg(long, global = true, value_name = "PREFIX")]
    pub image_prefix: Option<String>,
    /// Tag the images get [default: the `image_tag` stack parameter, else latest]
    #[arg(long, global = true, value_name = "TAG")]
    pub tag: Option<String>,
    /// Builder [default: the first of buildah, podman, docker on PATH]
    #[arg(long, global = true, value_enum)]
    pub builder: Option<crate::images::builder::BuilderKind>,
    /// Storage driver for buildah/podman (vfs needs no kernel overlay support)
    #[arg(long, global = true, value_name = "DRIVER", default_value = "vfs")]
    pub storage_driver: String,
    /// Builds run at once [default: number of cores]
    #[arg(short, long, global = true, value_name = "N")]
    pub jobs: Option<usize>,
    /// Speak plain HTTP to a registry that is not on a loopback address
    #[arg(long, global = true)]
    pub insecure_registry: bool,
    /// Extra CA certificates (PEM) to trust for the registry
    #[arg(long, global = true, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// Registry user name (the password is read from stdin with `--password-stdin`)
    #[arg(long, global = true, value_name = "USER")]
    pub username: Option<String>,
    /// Read the registry password from stdin (first line)
    #[arg(long, global = true, requires = "username")]
    pub password_stdin: bool,
    /// Directory for state kept between runs (digest lock, logs)
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// No progress bars, even on a terminal
    #[arg(long, global = true)]
    pub no_progress: bool,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}
