//! Command-line interface (clap derive only; no I/O here). It imports nothing else from
//! the crate: the value enums below are its own, and `settings` turns them into the
//! stages' types.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

mod examples;

// The headings flags are listed under in `--help`, by what they are about.
const PARAMETERS: &str = "Parameters";
const TEMPLATES: &str = "Templates";
const CLUSTER: &str = "Cluster";
const OPENSTACK: &str = "OpenStack";
const OUTPUT: &str = "Output";

#[derive(Debug, Parser)]
#[command(
    name = "kube-openstack",
    version,
    about = "Deploy OpenStack onto Kubernetes",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The command line of this process, parsed; clap's own errors (and `--help`) are coloured
/// as `--color` says, which needs it before parsing.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let color = color_given(&args);
    let mut cmd = Cli::command().color(color);
    let parsed = cmd
        .try_get_matches_from_mut(&args)
        .and_then(|mut m| Cli::from_arg_matches_mut(&mut m));
    parsed.unwrap_or_else(|e| e.format(&mut cmd).exit())
}

/// The last `--color WHEN` (or `--color=WHEN`) among `args`, before any `--`.
fn color_given(args: &[std::ffi::OsString]) -> clap::ColorChoice {
    let mut color = clap::ColorChoice::Auto;
    let mut words = args.iter().map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        let value = match word.as_ref() {
            "--" => break,
            "--color" => words.next().map(|w| w.into_owned()),
            w => w.strip_prefix("--color=").map(str::to_string),
        };
        color = match value.as_deref() {
            Some("never") => clap::ColorChoice::Never,
            Some("always") => clap::ColorChoice::Always,
            Some("auto") => clap::ColorChoice::Auto,
            _ => color,
        };
    }
    color
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Project config file [default: kube-openstack.yaml, here or in a parent]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print only errors and data
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to colour output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print each HTTP request on stderr: method, URL, status, time
    #[arg(short = 'v', long, global = true)]
    pub debug: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The subcommands, in the order of the pipeline: `up` runs all of the next six.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything from parameters to a working cloud, resumable: params, render, registry,
    /// images, deploy, db-sync (clean-jobs with `--clean-jobs`), verify
    #[command(after_help = examples::UP)]
    Up(UpArgs),
    /// Show, get or rotate the parameters substituted into the templates
    #[command(subcommand, after_help = examples::PARAMS)]
    Params(ParamsCommand),
    /// Render the templates into the output directory (atomically)
    #[command(after_help = examples::RENDER)]
    Render(RenderArgs),
    /// Show what a render would change (exit 0: none, 1: differences, 2: error)
    #[command(after_help = examples::DIFF)]
    Diff(DiffArgs),
    /// Build the docker/ contexts and push them to the registry (no verb: build + push)
    #[command(after_help = examples::IMAGES)]
    Images(ImagesArgs),
    /// Apply the rendered tree to the cluster in dependency order, waiting where needed
    #[command(after_help = examples::DEPLOY)]
    Deploy(DeployArgs),
    /// Rerun the one-shot database jobs (`SERVICE-db-sync` pods) and show their logs
    #[command(after_help = examples::DB_SYNC)]
    DbSync(DbSyncArgs),
    /// Check the deployed cloud from inside the cluster: tokens, catalog, every service
    /// answering, uploads to Swift and Glance (exit 0: every check passed)
    #[command(after_help = examples::VERIFY)]
    Verify(VerifyArgs),
    /// Show every object of the deployment: ready, age, what it waits on (exit 0: all ready)
    #[command(after_help = examples::STATUS)]
    Status(StatusArgs),
    /// Delete finished one-shot pods (failed ones kept unless `--all`)
    #[command(after_help = examples::CLEAN_JOBS)]
    CleanJobs(CleanJobsArgs),
    /// Delete the deployment's objects in reverse order and wait until they are gone
    #[command(after_help = examples::TEARDOWN)]
    Teardown(TeardownArgs),
    /// Create, show or delete the Heat stack made from the Heat template
    #[command(subcommand, after_help = examples::STACK)]
    Stack(StackCommand),
    /// Store the OpenStack password (or application-credential secret) in the OS keyring
    #[command(after_help = examples::LOGIN)]
    Login(LoginArgs),
    /// Remove the stored OpenStack secret from the OS keyring
    #[command(after_help = examples::LOGOUT)]
    Logout(LogoutArgs),
    /// Bundle files into cloud-init multi-part user data (a MIME message)
    #[command(after_help = examples::USERDATA)]
    Userdata(UserdataArgs),
    /// Apply manifest files dropped into a directory, moving each to applied/ or failed/
    #[command(after_help = examples::WATCH)]
    Watch(WatchArgs),
    /// Print a shell completion script (bash, zsh or fish)
    #[command(after_help = examples::COMPLETION)]
    Completion(CompletionArgs),
    /// Print the manual page, or write one per command into a directory
    #[command(after_help = examples::MAN)]
    Man(ManArgs),
    /// Print the version
    Version(VersionArgs),
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: ShellChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellChoice {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `kube-openstack.1` and one page per command (`kube-openstack-render.1`, ...)
    /// into this directory instead of printing the main page
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
    pub output: Format,
}

/// The completion script for `shell`, generated from these definitions.
pub fn completion(shell: ShellChoice) -> Vec<u8> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    let shell = match shell {
        ShellChoice::Bash => Shell::Bash,
        ShellChoice::Zsh => Shell::Zsh,
        ShellChoice::Fish => Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, &name, &mut out);
    if shell != Shell::Bash {
        return out;
    }
    // clap_complete spells the state of a subcommand two ways when the program's name has
    // a hyphen (`kube__openstack__subcmd__deploy` when it walks the words,
    // `kube__subcmd__openstack__subcmd__deploy` in the case arms), so no subcommand's
    // flags would complete (clap issue 6421). One spelling for both.
    let escaped = name.replace('-', "__");
    let wrong = name.replace('-', "__subcmd__");
    String::from_utf8_lossy(&out)
        .replace(
            &format!("{wrong}__subcmd__"),
            &format!("{escaped}__subcmd__"),
        )
        .into_bytes()
}

/// The manual pages (roff): the main one first, then one per command and subcommand
/// (`kube-openstack-stack-create`), each with its file name.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    use clap::CommandFactory;
    fn walk(cmd: clap::Command, name: String, out: &mut Vec<(String, Vec<u8>)>) {
        let cmd = cmd.name(name.clone());
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .render(&mut page)
            .expect("writing to memory");
        out.push((format!("{name}.1"), page));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub.clone(), format!("{name}-{}", sub.get_name()), out);
        }
    }
    let mut out = Vec::new();
    let mut cmd = Cli::command();
    cmd.build();
    walk(cmd, "kube-openstack".into(), &mut out);
    out
}

#[derive(Debug, Subcommand)]
pub enum ParamsCommand {
    /// Print the merged parameters, with their source; secrets masked
    Show {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        wait: WaitArgs,
        /// Print secret values too
        #[arg(help_heading = OUTPUT, long)]
        show_secrets: bool,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
        output: Format,
    },
    /// Print one parameter's value, raw, for scripts
    Get {
        /// The parameter's name
        key: String,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Read the Heat stack's outputs again (`--source heat`) and report what changed
    Refresh {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        wait: WaitArgs,
        /// Print secret values in the report too
        #[arg(help_heading = OUTPUT, long)]
        show_secrets: bool,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
        output: Format,
    },
    /// Generate new values for the named parameters (or Heat resources)
    Regenerate {
        /// Parameters (or Heat `OS::Heat::RandomString` resources) to generate again
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[command(flatten)]
        source: SourceArgs,
    },
}

/// `-o`: what a command prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    // For people: a table or lines (`text`, the old name of `status -o`, kept).
    #[value(alias = "text")]
    Table,
    Yaml,
    Json,
}

/// Where parameters come from (shared by every command that needs them).
#[derive(Debug, Args, Clone, Default)]
pub struct SourceArgs {
    /// Parameter source
    #[arg(help_heading = PARAMETERS, long, value_enum)]
    pub source: Option<SourceChoice>,
    /// Heat template evaluated by the local source
    #[arg(help_heading = PARAMETERS, long, value_name = "FILE")]
    pub heat_template: Option<PathBuf>,
    /// Parameters file for `--source file` (YAML/JSON map, or `openstack stack output show --all -f json`)
    #[arg(help_heading = PARAMETERS, long, value_name = "FILE")]
    pub params_file: Option<PathBuf>,
    /// Heat stack name
    #[arg(help_heading = PARAMETERS, long, value_name = "NAME")]
    pub stack: Option<String>,
    /// Stack parameter, as `openstack stack create --parameter` (repeatable)
    #[arg(help_heading = PARAMETERS, short = 'P', long = "parameter", value_name = "KEY=VALUE", value_parser = key_value)]
    pub parameters: Vec<(String, String)>,
    /// File of parameter values that win over the source
    #[arg(help_heading = PARAMETERS, long, value_name = "FILE")]
    pub overrides: Option<PathBuf>,
    /// Parameter value that wins over everything (repeatable; the value is a string)
    #[arg(help_heading = PARAMETERS, short = 'p', long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    pub set: Vec<(String, String)>,
    /// Directory for state kept between runs
    #[arg(help_heading = PARAMETERS, long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub openstack: OpenStackArgs,
}

/// Which source to read parameters from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceChoice {
    /// Evaluate the Heat template here; generated values kept in the state directory.
    Local,
    /// A YAML/JSON map, or what `openstack stack output show --all -f json` prints.
    File,
    /// A Heat stack's outputs, through the Heat API.
    Heat,
}

#[derive(Debug, Args, Clone, Default)]
pub struct TreeArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Template tree: a directory, or a file:// or http(s):// URL of a .tar.gz of a tree
    /// or of a single template (downloaded once, then revalidated with its ETag)
    #[arg(help_heading = TEMPLATES, long, value_name = "DIR|URL")]
    pub input_dir: Option<PathBuf>,
    /// Templates use the 2014 tool's `%name%` placeholders
    #[arg(help_heading = TEMPLATES, long)]
    pub legacy_percent: bool,
    /// Treat unused parameters as an error
    #[arg(help_heading = TEMPLATES, long)]
    pub strict: bool,
    /// Write `image@sha256:...` for images pushed by `kube-openstack images` (from the
    /// digest lock in the state directory)
    #[arg(help_heading = TEMPLATES, long)]
    pub pin_images: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub tree: TreeArgs,
    /// Output directory
    #[arg(help_heading = OUTPUT, long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Print the rendered documents instead of writing files
    #[arg(help_heading = OUTPUT, long)]
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
    #[arg(help_heading = OUTPUT, long)]
    pub show_secrets: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = DiffFormat::Text, help_heading = OUTPUT)]
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

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Directory to watch (created if missing; `applied/` and `failed/` go inside it)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Apply what is there now, then exit (for a systemd timer)
    #[arg(long)]
    pub once: bool,
    /// Poll the directory instead of using inotify (some network file systems)
    #[arg(long)]
    pub poll: bool,
    /// How long to wait for an object others depend on to be ready (`90s`, `5m`)
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct UserdataArgs {
    /// A file, a directory (every file, sorted), or `path:type/subtype`
    #[arg(value_name = "PART")]
    pub parts: Vec<String>,
    /// Write the user data here (mode 0600, atomically) instead of stdout
    #[arg(help_heading = OUTPUT, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The old spelling of `--output FILE`, kept for one release (`-o` is the output
    /// format everywhere else)
    #[arg(
        short = 'o',
        value_name = "FILE",
        hide = true,
        conflicts_with = "output"
    )]
    pub output_old: Option<PathBuf>,
    /// Compress with gzip (cloud-init accepts gzip-compressed user data)
    #[arg(long)]
    pub gzip: bool,
    /// `X-Merge-Type` for every part, e.g. `list(append)+dict(recurse_array)+str()`
    #[arg(long, value_name = "TYPE")]
    pub merge: Option<String>,
    /// Type of a part that neither its first line, its extension nor a `kind` identifies
    #[arg(long, value_name = "TYPE", default_value = "application/octet-stream")]
    pub default_type: String,
    /// Put a part handler first that writes the Kubernetes parts into `--incoming-dir` on
    /// the server, for `kube-openstack watch` to apply once the cluster is up
    #[arg(long)]
    pub with_handler: bool,
    /// Where the part handler writes the Kubernetes parts
    #[arg(long, value_name = "DIR", default_value = DEFAULT_INCOMING_DIR, requires = "with_handler")]
    pub incoming_dir: String,
    /// Add every object of the rendered tree (the output directory), in dependency order
    #[arg(long)]
    pub from_rendered: bool,
    /// Largest accepted size, in bytes once base64-encoded (Nova's limit by default)
    #[arg(long, value_name = "BYTES", default_value_t = NOVA_USER_DATA_LIMIT)]
    pub limit: usize,
}

/// The defaults of `userdata` (the same as the stage's; a test in `settings` checks).
pub const DEFAULT_INCOMING_DIR: &str = "/var/lib/kube-openstack/incoming/";
pub const NOVA_USER_DATA_LIMIT: usize = 65_535;

/// How to reach OpenStack, as the `openstack` CLI: these flags win over `OS_*`
/// variables, which win over the clouds.yaml entry. Secrets are never flags: they come
/// from `OS_PASSWORD`, secure.yaml or the keyring (`kube-openstack login`).
#[derive(Debug, Args, Clone, Default)]
pub struct OpenStackArgs {
    /// Cloud of clouds.yaml (else OS_CLOUD, else `cloud:` in the config file)
    #[arg(help_heading = OPENSTACK, long = "os-cloud", value_name = "NAME")]
    pub cloud: Option<String>,
    /// Keystone URL (else OS_AUTH_URL)
    #[arg(help_heading = OPENSTACK, long = "os-auth-url", value_name = "URL")]
    pub auth_url: Option<String>,
    /// password, v3applicationcredential or token (else OS_AUTH_TYPE)
    #[arg(help_heading = OPENSTACK, long = "os-auth-type", value_name = "TYPE")]
    pub auth_type: Option<String>,
    /// User name (else OS_USERNAME)
    #[arg(help_heading = OPENSTACK, long = "os-username", value_name = "NAME")]
    pub username: Option<String>,
    /// Project the token is scoped to (else OS_PROJECT_NAME)
    #[arg(help_heading = OPENSTACK, long = "os-project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Project id, instead of its name (else OS_PROJECT_ID)
    #[arg(help_heading = OPENSTACK, long = "os-project-id", value_name = "ID")]
    pub project_id: Option<String>,
    /// Domain of the user name (else OS_USER_DOMAIN_NAME, then Default)
    #[arg(help_heading = OPENSTACK, long = "os-user-domain-name", value_name = "NAME")]
    pub user_domain_name: Option<String>,
    /// Domain of the project name (else OS_PROJECT_DOMAIN_NAME, then Default)
    #[arg(help_heading = OPENSTACK, long = "os-project-domain-name", value_name = "NAME")]
    pub project_domain_name: Option<String>,
    /// Application credential id, for `--os-auth-type v3applicationcredential` (else OS_APPLICATION_CREDENTIAL_ID)
    #[arg(help_heading = OPENSTACK, long = "os-application-credential-id", value_name = "ID")]
    pub application_credential_id: Option<String>,
    /// Application credential name, with the user name (else OS_APPLICATION_CREDENTIAL_NAME)
    #[arg(help_heading = OPENSTACK, long = "os-application-credential-name", value_name = "NAME")]
    pub application_credential_name: Option<String>,
    /// Region of the catalog's endpoints (else OS_REGION_NAME)
    #[arg(help_heading = OPENSTACK, long = "os-region-name", value_name = "REGION")]
    pub region_name: Option<String>,
    /// Catalog interface: public, internal or admin (else OS_INTERFACE)
    #[arg(help_heading = OPENSTACK, long = "os-interface", value_name = "INTERFACE")]
    pub interface: Option<String>,
    /// CA certificate bundle for a private CA (else OS_CACERT)
    #[arg(help_heading = OPENSTACK, long = "os-cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify TLS certificates (tests only)
    #[arg(help_heading = OPENSTACK, long)]
    pub insecure: bool,
    /// Heat's URL, instead of the catalog's orchestration endpoint (else HEAT_URL)
    #[arg(help_heading = OPENSTACK, long = "heat-url", value_name = "URL")]
    pub heat_url: Option<String>,
}

/// Waiting for a Heat stack still in progress.
#[derive(Debug, Args, Clone, Default)]
pub struct WaitArgs {
    /// Wait until the stack is no longer in progress (progress on stderr)
    #[arg(help_heading = OPENSTACK, long)]
    pub wait: bool,
    /// Give up waiting after this long (`30m`, `1h30m`) [default: 30m]
    #[arg(help_heading = OPENSTACK, long, value_name = "DURATION", value_parser = duration)]
    pub wait_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Subcommand)]
pub enum StackCommand {
    /// Create the stack from the Heat template (`-P key=value` for its parameters)
    Create {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Print the stack's status, reason and outputs (secrets masked)
    Show {
        #[command(flatten)]
        source: SourceArgs,
        /// Print secret values too
        #[arg(help_heading = OUTPUT, long)]
        show_secrets: bool,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
        output: Format,
    },
    /// Delete the stack
    Delete {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        wait: WaitArgs,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub openstack: OpenStackArgs,
    /// Read the secret from stdin (one line) instead of asking on the terminal
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub openstack: OpenStackArgs,
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
        /// Images to build (with their bases) [default: all]
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// Push images built by `images build` that the registry does not have yet
    Push {
        /// Images to push (with their bases) [default: all]
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// What `docker/` defines and what the registry holds: digest, up to date or not
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
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
    pub builder: Option<BuilderChoice>,
    /// Storage driver for buildah/podman [default: STORAGE_DRIVER, else the `driver` of
    /// the storage.conf buildah reads (CONTAINERS_STORAGE_CONF), else buildah's choice:
    /// the driver the store already holds, else overlay where the kernel mounts it, else
    /// vfs]; the run's `Storage` line says which one and why
    #[arg(long, global = true, value_name = "DRIVER")]
    pub storage_driver: Option<String>,
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
    /// Push to this address instead of the registry the images are named after (e.g. a
    /// port-forward to an in-cluster registry); checks go there too
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub push_to: Option<String>,
    /// Directory for state kept between runs (digest lock, logs)
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// No progress bars, even on a terminal
    #[arg(help_heading = OUTPUT, long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuilderChoice {
    Buildah,
    Podman,
    Docker,
}

/// Where the cluster and the deployment are (shared by the commands that talk to the cluster).
#[derive(Debug, Args, Clone, Default)]
pub struct ClusterArgs {
    /// Kubeconfig file [default: the files of `KUBECONFIG`, merged, missing ones skipped;
    /// else ~/.kube/config; else in-cluster]
    #[arg(help_heading = CLUSTER, long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context [default: the current context]
    #[arg(help_heading = CLUSTER, long, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace [default: `namespace` in the config file, else the kubeconfig context's,
    /// else `openstack`]
    #[arg(help_heading = CLUSTER, short = 'n', long, value_name = "NAME")]
    pub namespace: Option<String>,
    /// Rendered tree [default: the output directory]
    #[arg(help_heading = CLUSTER, long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,
    /// Give up on one request after this long (`30s`, `1m30s`) [default: 30s]
    #[arg(help_heading = CLUSTER, long, value_name = "DURATION", value_parser = duration)]
    pub request_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Objects applied at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// Change nothing: `server` (alone: `--dry-run`) shows what the server would change,
    /// `client` the plan without asking the cluster
    #[arg(
        long,
        value_enum,
        value_name = "STRATEGY",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "server"
    )]
    pub dry_run: Option<DryRunChoice>,
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
    #[arg(help_heading = OUTPUT, long)]
    pub no_progress: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = EventFormat::Text, help_heading = OUTPUT)]
    pub output: EventFormat,
}

/// kubectl's `--dry-run` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRunChoice {
    /// The server checks every change and says what it would be; nothing is kept
    Server,
    /// Nothing is sent to the cluster
    Client,
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
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct TeardownArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
    /// Delete nothing: `server` (alone: `--dry-run`) lists what the cluster holds and
    /// would delete, `client` the rendered tree's objects without asking the cluster
    #[arg(
        long,
        value_enum,
        value_name = "STRATEGY",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "server"
    )]
    pub dry_run: Option<DryRunChoice>,
    /// Give up waiting for one kind's objects to go after this long
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5m")]
    pub timeout: std::time::Duration,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct DbSyncArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Services whose `SERVICE-db-sync` pod to rerun (e.g. `keystone nova`)
    #[arg(
        value_name = "SERVICE",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
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
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Give up when the checks have not finished after this long
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "10m")]
    pub timeout: std::time::Duration,
    /// Output format: a line per check (`table`, also `text`), or an event per check then a
    /// summary, as one JSON object a line (`json`) or YAML documents (`yaml`)
    #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct CleanJobsArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Delete failed one-shot pods too
    #[arg(long)]
    pub all: bool,
    /// Delete nothing: `server` (alone: `--dry-run`) lists what would be deleted; `client`
    /// is refused (only the cluster knows which pods finished)
    #[arg(
        long,
        value_enum,
        value_name = "STRATEGY",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "server"
    )]
    pub dry_run: Option<DryRunChoice>,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
    pub output: Format,
}

/// A duration as kubectl and helm take them: Go's spelling (`1m30s`, `5m0s`, `90s`,
/// `500ms`, `1.5h`; units ns, us, ms, s, m, h), spaced (`1h 30m`), or whole seconds
/// (`90`).
fn duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    // Go's units only: a `d` or `y` that humantime would take is surely not what a kubectl
    // user meant.
    let units_are_gos = s
        .split(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .all(|unit| ["", "ns", "us", "µs", "ms", "s", "m", "h"].contains(&unit));
    let parsed = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().map(std::time::Duration::from_secs).ok()
    } else if units_are_gos {
        humantime::parse_duration(s).ok()
    } else {
        None
    };
    let Some(d) = parsed else {
        return Err(format!(
            "expected a duration such as `90s`, `5m` or `1m30s`, got `{s}`"
        ));
    };
    // Deadlines are `now + duration`: past a year that is surely a typo, and far past it
    // the addition would overflow.
    if d > std::time::Duration::from_secs(365 * 24 * 3600) {
        return Err(format!("`{s}` is longer than a year"));
    }
    Ok(d)
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub tree: TreeArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Create the Heat stack when it does not exist (with `--source heat`)
    #[arg(long)]
    pub create_stack: bool,
    /// Where this machine reaches the registry the images are pushed to [default: the
    /// `docker_registry` parameter, localhost:4999]; when nothing answers there, images
    /// are pushed through a port-forward to an in-cluster registry pod
    #[arg(long, value_name = "HOST:PORT")]
    pub registry_url: Option<String>,
    /// Directory of build contexts [default: docker]
    #[arg(long, value_name = "DIR")]
    pub docker_dir: Option<PathBuf>,
    /// Builder [default: the first of buildah, podman, docker on PATH]
    #[arg(long, value_enum)]
    pub builder: Option<BuilderChoice>,
    /// Builds run at once [default: number of cores]
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Change nothing, print what each step would do: `server` (alone: `--dry-run`) asks
    /// the cluster, `client` does not (the cluster steps only say what they would apply)
    #[arg(
        long,
        value_enum,
        value_name = "STRATEGY",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "server"
    )]
    pub dry_run: Option<DryRunChoice>,
    /// Start at this step (earlier ones are taken as done)
    #[arg(long, value_enum, value_name = "STEP", conflicts_with = "only")]
    pub from: Option<StepChoice>,
    /// Stop after this step
    #[arg(long, value_enum, value_name = "STEP", conflicts_with = "only")]
    pub to: Option<StepChoice>,
    /// Run this step alone
    #[arg(long, value_enum, value_name = "STEP")]
    pub only: Option<StepChoice>,
    /// Redo the selected steps even when their inputs did not change
    #[arg(long)]
    pub force: bool,
    /// Delete the finished one-shot pods at the end
    #[arg(long)]
    pub clean_jobs: bool,
    /// Objects applied at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// Give up waiting for one object after this long [default: per kind]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
    /// Print every object's progress, not only one line per step
    #[arg(help_heading = OUTPUT, long)]
    pub verbose: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table, help_heading = OUTPUT)]
    pub output: Format,
}

/// The steps of `up`, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StepChoice {
    /// Read (or generate) the parameters
    Params,
    /// Render the templates into the output directory
    Render,
    /// Deploy the in-cluster registry and what it needs; wait until it is ready
    Registry,
    /// Build and push the images whose content changed
    Images,
    /// Deploy everything in dependency order
    Deploy,
    /// Check that every db-sync pod succeeded; rerun those that did not
    DbSync,
    /// Delete finished one-shot pods (only with `--clean-jobs`)
    CleanJobs,
    /// Check the deployed cloud from inside the cluster (`kube-openstack verify`)
    Verify,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_are_read_as_kubectl_and_helm_read_them() {
        for (text, secs) in [
            ("1m30s", 90.0),
            ("5m0s", 300.0),
            ("90s", 90.0),
            ("90", 90.0),
            ("500ms", 0.5),
            ("1.5h", 5400.0),
            ("1h 30m", 5400.0),
            ("2h45m10s", 9910.0),
        ] {
            assert_eq!(duration(text), Ok(Duration::from_secs_f64(secs)), "{text}");
        }
        for bad in ["", "5x", "-1s", "1m30", "2y", "365d", "1w", "1.5", "1 hour"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert!(duration("5x").unwrap_err().contains("`1m30s`"));
    }

    #[test]
    fn the_colour_is_found_before_the_command_line_is_parsed() {
        let args =
            |s: &str| -> Vec<std::ffi::OsString> { s.split_whitespace().map(Into::into).collect() };
        let never = clap::ColorChoice::Never;
        assert_eq!(color_given(&args("ko --color never deploy --bogus")), never);
        assert_eq!(color_given(&args("ko deploy --color=never")), never);
        assert_eq!(
            color_given(&args("ko --color=never --color always x")),
            clap::ColorChoice::Always
        );
        assert_eq!(
            color_given(&args("ko watch -- --color=never")),
            clap::ColorChoice::Auto
        );
    }
}
