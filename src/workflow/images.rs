//! Building the `docker/` contexts and pushing them to the registry (`images`, and `up`'s
//! images step): what the registry already has by content is neither built nor pushed;
//! the pushed digests go into the lock `render --pin-images` reads.

use crate::images::auth::{self, ChildAuth, Credentials};
use crate::images::context::{self, ImageContext};
use crate::images::lock::{DigestLock, LockedImage};
use crate::images::registry::{self, RegistryClient};
use crate::images::schedule::{self, Env, ImageResult, Job, Mode, Outcome};
use crate::images::{ImagesFailed, Naming, builder, content_tag, graph, interrupt, storage};
use crate::printer::Printer;
use crate::settings::{ImagesSettings, RegistryLogin};
use anyhow::Context as _;
use std::sync::Arc;

/// Builds and pushes (as `mode` says) the images named (all when none) and their bases.
pub fn publish(
    s: &ImagesSettings,
    printer: &Printer,
    mode: Mode,
    names: &[String],
) -> anyhow::Result<()> {
    let state = &s.state;
    let _lock = state.lock()?;
    let contexts = contexts(s)?;
    let selected = graph::select(&contexts, names)?;
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
    let credentials = credentials(s)?;
    let registry = reachable_registry(s, printer, mode, credentials.clone())?;
    let log_dir = state.path().join("logs").join("images");
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create `{}`", log_dir.display()))?;
    let child_auth = match &credentials {
        Some(c) => Some(ChildAuth::write(state.path(), &s.naming.registry, c)?),
        None => None,
    };
    let storage_choice = storage::choose(s.storage_driver.as_deref(), &|k| std::env::var(k).ok())?;
    let (interrupt, _listener) =
        crate::rt::block_on(async { interrupt::listen() }).context("cannot watch for signals")?;
    let builder = builder::detect(s.builder, storage_choice).map(|mut b| {
        b.interrupt = interrupt.clone();
        b
    });
    let env = Env {
        mode,
        naming: s.naming.clone(),
        push_host: s.push_host.clone(),
        builder,
        settled: Default::default(),
        registry: registry.clone(),
        auth_file: child_auth.as_ref().map(ChildAuth::auth_file),
        plain_http: s.endpoint.is_plain_http(),
        log_dir,
        jobs: s.jobs,
        build_args: context::build_args(&s.naming).into_iter().collect(),
        interrupt,
    };
    let names: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
    let progress = Arc::new(printer.images_progress(&names, s.no_progress));
    let started = std::time::Instant::now();
    let env = Arc::new(env);
    let results = crate::rt::block_on(schedule::run(jobs, env.clone(), progress));
    drop(child_auth);
    if mode != Mode::Build {
        record_digests(s, &results)?;
    }
    print_finished(printer, mode, &results, started, registry.as_deref());
    check(&results, &env)
}

/// The registry, when it answers; without it only a build can go on (building everything).
fn reachable_registry(
    s: &ImagesSettings,
    printer: &Printer,
    mode: Mode,
    credentials: Option<Credentials>,
) -> anyhow::Result<Option<Arc<RegistryClient>>> {
    let registry = Arc::new(client(s, credentials)?);
    match (crate::rt::block_on(registry.ping()), mode) {
        (Ok(()), _) => Ok(Some(registry)),
        (Err(e), Mode::Build) => {
            printer.warn(format!(
                "{e}; building everything without checking what the registry has"
            ));
            Ok(None)
        }
        (Err(e), _) => Err(e).context("cannot check which images the registry already has"),
    }
}

/// The `Finished` line: how many images, how long, what was done, how many requests.
fn print_finished(
    printer: &Printer,
    mode: Mode,
    results: &[ImageResult],
    started: std::time::Instant,
    registry: Option<&RegistryClient>,
) {
    let requests = registry.map_or(0, |r| r.requests());
    printer.status(
        "Finished",
        format!(
            "{} images in {:.1}s: {}, {} up to date ({requests} registry requests)",
            results.len(),
            started.elapsed().as_secs_f64(),
            did(mode, results),
            count(results, |o| matches!(
                o,
                Outcome::UpToDate { .. } | Outcome::Retagged { .. } | Outcome::InRegistry
            )),
        ),
    );
}

/// The pushed digests, by image name, into the lock `render --pin-images` reads.
fn record_digests(s: &ImagesSettings, results: &[ImageResult]) -> anyhow::Result<()> {
    let dir = s.state.path();
    let mut lock = DigestLock::load(dir)?;
    for r in results {
        if let Some(digest) = r.outcome.digest() {
            let entry = LockedImage {
                reference: r.reference.clone(),
                digest: digest.to_string(),
                content_hash: r.hash.clone(),
            };
            lock.images.insert(r.name.clone(), entry);
        }
    }
    lock.save(dir)?;
    Ok(())
}

fn count(results: &[ImageResult], f: fn(&Outcome) -> bool) -> usize {
    results.iter().filter(|r| f(&r.outcome)).count()
}

fn did(mode: Mode, results: &[ImageResult]) -> String {
    let built = count(results, |o| {
        matches!(o, Outcome::Built | Outcome::Pushed { .. })
    });
    let pushed = count(results, |o| matches!(o, Outcome::Pushed { .. }));
    match mode {
        Mode::Build => format!("{built} built"),
        Mode::Push => format!("{pushed} pushed"),
        Mode::BuildAndPush => format!("{pushed} built and pushed"),
    }
}

/// The failures as one error (the others' results stand), with the way out when there
/// is one: a builder to install, a storage driver to name, a base to make.
fn check(results: &[ImageResult], env: &Env) -> anyhow::Result<()> {
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
        return Ok(());
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

/// The registry credentials: from stdin (`--password-stdin`), else the auth files.
fn credentials(s: &ImagesSettings) -> anyhow::Result<Option<Credentials>> {
    match &s.login {
        RegistryLogin::Stdin { username } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the registry password from stdin")?;
            Ok(Some(Credentials {
                username: username.clone(),
                password: line.trim_end_matches(['\n', '\r']).to_string(),
            }))
        }
        RegistryLogin::AuthFiles => Ok(auth::from_files(&s.naming.registry, &auth::auth_files())?),
    }
}

fn client(s: &ImagesSettings, credentials: Option<Credentials>) -> anyhow::Result<RegistryClient> {
    Ok(RegistryClient::new(
        &s.endpoint,
        credentials,
        registry::RETRY,
    )?)
}

/// The contexts with their hashes, in build order.
fn contexts(s: &ImagesSettings) -> anyhow::Result<Vec<ImageContext>> {
    let args = context::build_args(&s.naming);
    let mut contexts = context::discover(&s.docker_dir, &s.naming, &args).with_context(|| {
        format!(
            "cannot read the build contexts in `{}`",
            s.docker_dir.display()
        )
    })?;
    let order = graph::build_order(&contexts)?;
    context::hash_all(&mut contexts, &order);
    Ok(order.into_iter().map(|i| contexts[i].clone()).collect())
}

/// What an images run would work from: each context's content hash, in build order
/// (`up` compares these between runs).
pub fn inputs(s: &ImagesSettings) -> anyhow::Result<Vec<(String, String)>> {
    Ok(contexts(s)?.into_iter().map(|c| (c.name, c.hash)).collect())
}

/// One row of `images list`.
#[derive(Debug, serde::Serialize)]
pub struct Row {
    pub name: String,
    pub reference: String,
    /// `up to date`, `outdated` (the tag holds other content), `missing`, or `not in docker/`.
    pub status: &'static str,
    pub digest: Option<String>,
    pub content_tag: Option<String>,
}

/// How long `images list` waits for the registry's catalog.
const CATALOG_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// What `docker/` defines and what the registry holds.
pub fn list(s: &ImagesSettings, printer: &Printer) -> anyhow::Result<Vec<Row>> {
    let contexts = contexts(s)?;
    let client = client(s, credentials(s)?)?;
    let naming = &s.naming;
    crate::rt::block_on(async {
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
        rows.extend(not_in_docker_dir(&client, printer, naming, &contexts).await?);
        Ok::<_, anyhow::Error>(rows)
    })
    .with_context(|| format!("cannot list the images of `{}`", s.endpoint.base_url()))
}

/// The repositories under the prefix that `docker/` does not define.
async fn not_in_docker_dir(
    client: &RegistryClient,
    printer: &Printer,
    naming: &Naming,
    contexts: &[ImageContext],
) -> anyhow::Result<Vec<Row>> {
    let prefix = format!("{}/", naming.prefix.trim_matches('/'));
    // The catalog of a Swift-backed registry is a walk over every repository it holds:
    // on a busy one it may not answer in time, and the rows of docker/ stand without it.
    let others = match tokio::time::timeout(CATALOG_DEADLINE, client.catalog_under(&naming.prefix))
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
    let mut rows = Vec::new();
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
    Ok(rows)
}
