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
    /// Apply the rendered tree to the cluster in dependency order, waiting where needed
    Deploy(DeployArgs),
    /// Show every object of the deployment: ready, age, what it waits on (exit 0: all ready)
    Status(StatusArgs),
    /// Delete the deployment's objects in reverse order and wait until they are gone
    Teardown(TeardownArgs),
    /// Rerun the one-shot database jobs (`SERVICE-db-sync` pods) and show their logs
    DbSync(DbSyncArgs),
    /// Delete finished one-shot pods (failed ones kept unless `--all`)
    CleanJobs(CleanJobsArgs),
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
    /// Compare with the live cluster (server-side dry run against live objects) instead of a directory
    #[arg(long, conflicts_with = "against")]
    pub live: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
}

/// Where the cluster and the deployment are (shared by the commands that talk to the cluster).
#[derive(Debug, Args, Clone, Default)]
pub struct ClusterArgs {
    /// Kubeconfig file [default: `KUBECONFIG`, then ~/.kube/config, then in-cluster]
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context [default: the current context]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace [default: `namespace` in the config file, else `openstack`]
    #[arg(short = 'n', long, value_name = "NAME")]
    pub namespace: Option<String>,
    /// Rendered tree [default: the output directory]
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,
    /// Seconds (or `90s`, `5m`, `1h`) to give up on one request
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30s")]
    pub request_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Objects applied at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// Show the plan and what would change (server-side dry run); write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print the dependency graph and exit (needs no cluster)
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub graph: Option<GraphFormat>,
    /// Delete the deployment's objects that are no longer in the tree
    #[arg(long)]
    pub prune: bool,
    /// Delete and recreate objects whose changes cannot be made in place
    #[arg(long)]
    pub recreate: bool,
    /// Give up waiting for one object after this long [default: per kind; 30m for one-shot pods]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    /// Wait only for the objects others depend on
    #[arg(long)]
    pub no_wait: bool,
    /// Hide the progress bar
    #[arg(long)]
    pub no_progress: bool,
    #[arg(short, long, value_enum, default_value_t = EventFormat::Text)]
    pub output: EventFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[arg(short, long, value_enum, default_value_t = EventFormat::Text)]
    pub output: EventFormat,
}

#[derive(Debug, Args)]
pub struct TeardownArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
    /// List what would be deleted (server-side dry run)
    #[arg(long)]
    pub dry_run: bool,
    /// Give up waiting for one kind's objects to go after this long
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5m")]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct DbSyncArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Services whose `SERVICE-db-sync` pod to rerun (e.g. `keystone nova`)
    #[arg(value_name = "SERVICE", required_unless_present = "all", conflicts_with = "all")]
    pub services: Vec<String>,
    /// Every db-sync pod of the tree
    #[arg(long)]
    pub all: bool,
    /// Pods run at once (dependencies between them are respected)
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// Give up waiting for one pod after this long
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30m")]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct CleanJobsArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Delete failed one-shot pods too
    #[arg(long)]
    pub all: bool,
    /// List what would be deleted
    #[arg(long)]
    pub dry_run: bool,
}

/// `90`, `90s`, `500ms`, `5m`, `1h`.
fn duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("expected a duration such as `90s` or `5m`, got `{s}`"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit `{unit}` in `{s}` (use ms, s, m or h)")),
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}
