//! `kube-openstack images [build|push|list]`.

use crate::cli::{Format, ImagesArgs, ImagesOptions, ImagesVerb, SourceArgs};
use crate::images::auth::{self, ChildAuth, Credentials};
use crate::images::context::{self, ImageContext};
use crate::images::lock::{DigestLock, LockedImage};
use crate::images::progress::Progress;
use crate::images::registry::{self, Endpoint, RegistryClient};
use crate::images::schedule::{self, Env, Job, Mode, Outcome};
use crate::images::{ImagesFailed, Naming, builder, content_tag, graph, interrupt, pin, storage};
use crate::printer::Printer;
use crate::render::RenderedFile;
use crate::settings::Project;
use crate::state::StateDir;
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

pub fn run(project: &Project, printer: &Printer, args: ImagesArgs) -> anyhow::Result<u8> {
    let stack_parameters = project
        .params_request(&SourceArgs::default())
        .stack_parameters;
    publish(project, printer, args, &stack_parameters)
}

/// `images` with the images named after `stack_parameters` (`docker_registry`,
/// `docker_image_prefix`, `image_tag`): those the templates get.
pub(super) fn publish(
    project: &Project,
    printer: &Printer,
    args: ImagesArgs,
    stack_parameters: &BTreeMap<String, String>,
) -> anyhow::Result<u8> {
    let (mode, names) = match args.verb {
        None => (Mode::BuildAndPush, args.names),
        Some(ImagesVerb::Build { names }) => (Mode::Build, names),
        Some(ImagesVerb::Push { names }) => (Mode::Push, names),
        Some(ImagesVerb::List { output }) => {
            return list(project, printer, &args.options, stack_parameters, output);
        }
    };
    let setup = Setup::new(project, &args.options, stack_parameters)?;
    let state = StateDir::new(setup.state_dir.clone());
    let _lock = state.lock()?;
    let contexts = setup.contexts()?;
    let selected = graph::select(&contexts, &names)?;
    let jobs: Vec<Job> = contexts
        .iter()
        .filter(|c| selected.contains(&c.name))
        .map(|c| Job {
            name: c.name.clone(),
            context: c.dir.clone(),
            bases: c.bases.clone(),
            hash: c.hash.clone(),
        })
        .collect();

    let registry = Arc::new(setup.client()?);
    let reachable = crate::rt::block_on(registry.ping());
    let registry = match (reachable, mode) {
        (Ok(()), _) => Some(registry),
        (Err(e), Mode::Build) => {
            printer.warn(format!(
                "{e}; building everything without checking what the registry has"
            ));
            None
        }
        (Err(e), _) => return Err(e).context("cannot check which images the registry already has"),
    };
    let log_dir = setup.state_dir.join("logs").join("images");
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create `{}`", log_dir.display()))?;
    let child_auth = match &setup.credentials {
        Some(c) => Some(ChildAuth::write(
            &setup.state_dir,
            &setup.naming.registry,
            c,
        )?),
        None => None,
    };
    let storage_choice = storage::choose(args.options.storage_driver.as_deref(), &|k| {
        std::env::var(k).ok()
    })?;
    let (interrupt, _listener) =
        crate::rt::block_on(async { interrupt::listen() }).context("cannot watch for signals")?;
    let builder =
        builder::detect(args.options.builder.map(Into::into), storage_choice).map(|mut b| {
            b.interrupt = interrupt.clone();
            b
        });
    let env = Env {
        mode,
        naming: setup.naming.clone(),
        push_host: setup.push_host.clone(),
        builder,
        settled: Default::default(),
        registry: registry.clone(),
        auth_file: child_auth.as_ref().map(ChildAuth::auth_file),
        plain_http: setup.endpoint.is_plain_http(),
        log_dir,
        jobs: args
            .options
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        build_args: context::build_args(&setup.naming).into_iter().collect(),
        interrupt,
    };
    let names: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
    let interactive = std::io::stderr().is_terminal()
        && !printer.is_quiet()
        && !args.options.no_progress
        && std::env::var_os("NO_COLOR").is_none();
    let progress = Arc::new(Progress::new(*printer, &names, interactive));
    let started = std::time::Instant::now();
    let env = Arc::new(env);
    let results = crate::rt::block_on(schedule::run(jobs, env.clone(), progress));
    drop(child_auth);

    if mode != Mode::Build {
        let mut lock = DigestLock::load(&setup.state_dir)?;
        for r in &results {
            if let Some(digest) = r.outcome.digest() {
                let entry = LockedImage {
                    reference: r.reference.clone(),
                    digest: digest.to_string(),
                    content_hash: r.hash.clone(),
                };
                lock.images.insert(r.name.clone(), entry);
            }
        }
        lock.save(&setup.state_dir)?;
    }
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let built = count(|o| matches!(o, Outcome::Built | Outcome::Pushed { .. }));
    let pushed = count(|o| matches!(o, Outcome::Pushed { .. }));
    let fresh = count(|o| {
        matches!(
            o,
            Outcome::UpToDate { .. } | Outcome::Retagged { .. } | Outcome::InRegistry
        )
    });
    let requests = registry.as_ref().map_or(0, |r| r.requests());
    let did = match mode {
        Mode::Build => format!("{built} built"),
        Mode::Push => format!("{pushed} pushed"),
        Mode::BuildAndPush => format!("{pushed} built and pushed"),
    };
    printer.status(
        "Finished",
        format!(
            "{} images in {:.1}s: {did}, {fresh} up to date ({requests} registry requests)",
            results.len(),
            started.elapsed().as_secs_f64()
        ),
    );
    let failures: Vec<(String, String)> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed { error } => Some((r.name.clone(), error.clone())),
            Outcome::Skipped { base } => Some((
                r.name.clone(),
                format!("not built: its base `{base}` failed"),
            )),
            _ => None,
        })
        .collect();
    if failures.is_empty() {
        return Ok(0);
    }
    let hint = match env.settled.get() {
        Some(Err(schedule::SettleError::NoBuilder(e))) => {
            Some(crate::images::install_builder_hint(e))
        }
        Some(Err(schedule::SettleError::Storage(_))) => Some(crate::images::STORAGE_HINT.into()),
        _ => crate::images::base_hint(&failures),
    };
    Err(ImagesFailed {
        total: results.len(),
        failures,
        hint,
    }
    .into())
}

/// Settings every verb resolves the same way.
struct Setup {
    naming: Naming,
    /// Where pushes go when not to the registry of the images' names.
    push_host: Option<String>,
    endpoint: Endpoint,
    credentials: Option<Credentials>,
    state_dir: PathBuf,
    docker_dir: PathBuf,
}

impl Setup {
    fn new(
        project: &Project,
        opts: &ImagesOptions,
        params: &BTreeMap<String, String>,
    ) -> anyhow::Result<Setup> {
        // The same values the templates get as docker_registry, docker_image_prefix and
        // image_tag: config keys and stack parameters, flags winning.
        let registry = opts
            .registry
            .clone()
            .or_else(|| params.get("docker_registry").cloned())
            .unwrap_or_else(|| "localhost:4999".into());
        let host = host_of(&registry);
        let naming = Naming {
            registry: host.clone(),
            prefix: opts
                .image_prefix
                .clone()
                .or_else(|| params.get("docker_image_prefix").cloned())
                .unwrap_or_else(|| "kube-openstack".into()),
            tag: opts
                .tag
                .clone()
                .or_else(|| params.get("image_tag").cloned())
                .unwrap_or_else(|| "latest".into()),
        };
        let push_to = opts.push_to.clone();
        let endpoint = Endpoint {
            registry: push_to.clone().unwrap_or(registry),
            insecure: opts.insecure_registry,
            ca_file: opts.registry_ca.clone(),
        };
        let credentials = if opts.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the registry password from stdin")?;
            let password = line.trim_end_matches(['\n', '\r']).to_string();
            Some(Credentials {
                username: opts.username.clone().unwrap_or_default(),
                password,
            })
        } else {
            auth::from_files(&host, &auth::auth_files())?
        };
        let state_dir = project.state_dir(&SourceArgs {
            state_dir: opts.state_dir.clone(),
            ..SourceArgs::default()
        });
        Ok(Setup {
            push_host: push_to.map(|p| host_of(&p)),
            naming,
            endpoint,
            credentials,
            state_dir,
            docker_dir: project.docker_dir(&opts.docker_dir),
        })
    }

    /// The contexts with their hashes, in build order.
    fn contexts(&self) -> anyhow::Result<Vec<ImageContext>> {
        let args = context::build_args(&self.naming);
        let mut contexts =
            context::discover(&self.docker_dir, &self.naming, &args).with_context(|| {
                format!(
                    "cannot read the build contexts in `{}`",
                    self.docker_dir.display()
                )
            })?;
        let order = graph::build_order(&contexts)?;
        context::hash_all(&mut contexts, &order);
        Ok(order.into_iter().map(|i| contexts[i].clone()).collect())
    }

    fn client(&self) -> anyhow::Result<RegistryClient> {
        Ok(RegistryClient::new(
            &self.endpoint,
            self.credentials.clone(),
            registry::RETRY,
        )?)
    }
}

/// What an images run would work from: the references' parts and each context's content
/// hash, in build order (`up` compares these between runs).
pub(super) fn inputs(
    project: &Project,
    opts: &ImagesOptions,
    stack_parameters: &BTreeMap<String, String>,
) -> anyhow::Result<(Naming, Vec<(String, String)>)> {
    let setup = Setup::new(project, opts, stack_parameters)?;
    let contexts = setup.contexts()?;
    Ok((
        setup.naming,
        contexts.into_iter().map(|c| (c.name, c.hash)).collect(),
    ))
}

/// `host:port` of a registry given as `host:port` or as a URL.
fn host_of(registry: &str) -> String {
    registry
        .split_once("://")
        .map_or(registry, |(_, h)| h)
        .trim_end_matches('/')
        .to_string()
}

/// One row of `images list`.
#[derive(Debug, serde::Serialize)]
struct Row {
    name: String,
    reference: String,
    /// `up to date`, `outdated` (the tag holds other content), `missing`, or `not in docker/`.
    status: &'static str,
    digest: Option<String>,
    content_tag: Option<String>,
}

/// How long `images list` waits for the registry's catalog.
const CATALOG_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

fn list(
    project: &Project,
    printer: &Printer,
    opts: &ImagesOptions,
    stack_parameters: &BTreeMap<String, String>,
    output: Format,
) -> anyhow::Result<u8> {
    let setup = Setup::new(project, opts, stack_parameters)?;
    let contexts = setup.contexts()?;
    let client = setup.client()?;
    let naming = &setup.naming;
    let rows = crate::rt::block_on(async {
        client.ping().await?;
        let mut rows = Vec::new();
        for c in &contexts {
            let repo = naming.repository(&c.name);
            let tag = content_tag(&c.hash);
            let digest = client.manifest_digest(&repo, &naming.tag).await?;
            let by_content = client.manifest_digest(&repo, &tag).await?;
            let status = match (&digest, &by_content) {
                (None, _) => "missing",
                (Some(a), Some(b)) if a == b => "up to date",
                _ => "outdated",
            };
            rows.push(Row {
                name: c.name.clone(),
                reference: naming.reference(&c.name, &naming.tag),
                status,
                digest,
                content_tag: Some(tag),
            });
        }
        let prefix = format!("{}/", naming.prefix.trim_matches('/'));
        // The catalog of a Swift-backed registry is a walk over every repository it holds:
        // on a busy one it may not answer in time, and the rows above stand without it.
        let others = match tokio::time::timeout(
            CATALOG_DEADLINE,
            client.catalog_under(&naming.prefix),
        )
        .await
        {
            Ok(Ok(repos)) => repos,
            Ok(Err(e)) => {
                printer.warn(format!(
                    "{e}: repositories under `{prefix}` that docker/ does not define are not listed"
                ));
                Vec::new()
            }
            Err(_) => {
                printer.warn(format!(
                    "the registry's catalog did not answer within {}s: repositories under `{prefix}` that docker/ does not define are not listed",
                    CATALOG_DEADLINE.as_secs()
                ));
                Vec::new()
            }
        };
        for repo in others {
            let Some(name) = repo.strip_prefix(&prefix).or(if naming.prefix.is_empty() {
                Some(repo.as_str())
            } else {
                None
            }) else {
                continue;
            };
            if contexts.iter().any(|c| c.name == name) {
                continue;
            }
            let digest = client.manifest_digest(&repo, &naming.tag).await?;
            rows.push(Row {
                name: name.to_string(),
                reference: naming.reference(name, &naming.tag),
                status: "not in docker/",
                digest,
                content_tag: None,
            });
        }
        Ok::<_, anyhow::Error>(rows)
    })
    .with_context(|| format!("cannot list the images of `{}`", setup.endpoint.base_url()))?;
    match output {
        Format::Json => printer.data(&format!("{}\n", serde_json::to_string_pretty(&rows)?)),
        Format::Yaml => printer.data(&serde_yaml::to_string(&rows)?),
        Format::Table => {
            let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
            let mut text = format!(
                "{:<w$}  {:<14}  {:<71}  REFERENCE\n",
                "NAME", "STATUS", "DIGEST"
            );
            for r in &rows {
                text.push_str(&format!(
                    "{:<w$}  {:<14}  {:<71}  {}\n",
                    r.name,
                    r.status,
                    r.digest.as_deref().unwrap_or("-"),
                    r.reference
                ));
            }
            printer.data(&text);
        }
    }
    Ok(0)
}

/// The digest lock `render --pin-images` uses; an error when nothing was pushed yet.
pub(super) fn pinning(project: &Project, source: &SourceArgs) -> anyhow::Result<DigestLock> {
    let state_dir = project.state_dir(source);
    let lock = DigestLock::load(&state_dir)?;
    if lock.images.is_empty() {
        anyhow::bail!(
            "no image digests recorded in `{}`; run `kube-openstack images` first",
            DigestLock::path(&state_dir).display()
        );
    }
    Ok(lock)
}

/// A rendered file with its `image:` references pinned; references of the registry that
/// have no digest are added to `unpinned`.
pub(super) fn pin_file(
    lock: &DigestLock,
    mut file: RenderedFile,
    unpinned: &std::sync::Mutex<Vec<String>>,
) -> RenderedFile {
    if file.copied {
        return file;
    }
    let mut missing = Vec::new();
    let (text, m) = pin::pin_text(&String::from_utf8_lossy(&file.content), lock);
    file.content = text.into_bytes();
    missing.extend(m);
    for object in &mut file.objects {
        object.text = pin::pin_text(&object.text, lock).0;
    }
    let mut all = unpinned.lock().expect("no panics while held");
    for m in missing {
        if !all.contains(&m) {
            all.push(m);
        }
    }
    file
}

pub(super) fn check_pinned(mut unpinned: Vec<String>) -> Result<(), pin::Unpinned> {
    unpinned.sort();
    if unpinned.is_empty() {
        Ok(())
    } else {
        Err(pin::Unpinned(unpinned))
    }
}
