//! Checks, builds and pushes every selected image at once, within bounds: at most `jobs`
//! builds run together, an image waits only for its own bases, and pushes run outside the
//! build slots so they overlap other builds. One image failing never hides the others.

use super::builder::{BuildError, BuildRequest, Builder, NoBuilder};
use super::progress::Progress;
use super::registry::{RegistryClient, RegistryError};
use super::slots::{Queued, Slots};
use super::storage::StorageError;
use super::{Naming, content_tag};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{Semaphore, watch};

/// What the run does to images whose content the registry does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Build into local storage only.
    Build,
    /// Push what local storage holds (built earlier by `images build`).
    Push,
    /// Build, then push.
    BuildAndPush,
}

/// One image to handle (in build order, bases first).
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub context: PathBuf,
    pub bases: Vec<String>,
    pub hash: String,
}

/// Everything the jobs share.
pub struct Env {
    pub mode: Mode,
    pub naming: Naming,
    /// Pushes go to this `host:port` instead of the naming registry (a port-forward).
    pub push_host: Option<String>,
    pub builder: Result<Builder, NoBuilder>,
    /// `builder` with its storage settled, on first need (an unchanged run never calls
    /// the builder); the error says why there is no usable builder.
    pub settled: tokio::sync::OnceCell<Result<Builder, SettleError>>,
    /// `None` when the registry is not consulted (`images build` with the registry down).
    pub registry: Option<Arc<RegistryClient>>,
    pub auth_file: Option<PathBuf>,
    pub plain_http: bool,
    pub log_dir: PathBuf,
    pub jobs: usize,
    pub build_args: Vec<(String, String)>,
    /// Once it fires, nothing new starts (running builder calls stop by themselves).
    pub interrupt: super::interrupt::Interrupt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The registry already holds this content under the configured tag.
    UpToDate {
        digest: String,
    },
    /// The registry held the content under its content tag; the configured tag was moved
    /// to it (no build, no push).
    Retagged {
        digest: String,
    },
    /// The registry has the content (`images build` found nothing to do).
    InRegistry,
    Built,
    Pushed {
        digest: String,
    },
    Failed {
        error: String,
    },
    /// Not attempted because a base failed.
    Skipped {
        base: String,
    },
}

impl Outcome {
    pub fn digest(&self) -> Option<&str> {
        match self {
            Outcome::UpToDate { digest }
            | Outcome::Retagged { digest }
            | Outcome::Pushed { digest } => Some(digest),
            _ => None,
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. } | Outcome::Skipped { .. })
    }
}

#[derive(Debug, Clone)]
pub struct ImageResult {
    pub name: String,
    pub reference: String,
    pub hash: String,
    pub outcome: Outcome,
    pub log: PathBuf,
}

/// Whether dependents may start: `Some(true)` built or available, `Some(false)` failed.
type Ready = watch::Sender<Option<bool>>;

/// Why the run has no builder to use.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SettleError {
    #[error("{0}")]
    NoBuilder(#[from] NoBuilder),
    #[error("{0}")]
    Storage(String),
}

impl From<StorageError> for SettleError {
    fn from(e: StorageError) -> Self {
        SettleError::Storage(e.to_string())
    }
}

/// The builder, its storage driver settled and announced (once per run).
async fn builder<'a>(env: &'a Env, progress: &dyn Progress) -> Result<&'a Builder, SettleError> {
    env.settled
        .get_or_init(|| async {
            let mut builder = env.builder.clone()?;
            if let Some(storage) = builder.settle_storage().await? {
                progress.note("Storage", &storage.to_string());
            }
            Ok(builder)
        })
        .await
        .as_ref()
        .map_err(Clone::clone)
}

pub async fn run(jobs: Vec<Job>, env: Arc<Env>, progress: Arc<dyn Progress>) -> Vec<ImageResult> {
    let build_slots = Arc::new(Slots::new(env.jobs));
    let priorities = dependents(&jobs);
    let push_slots = Arc::new(Semaphore::new(env.jobs.max(1)));
    // No build starts before every registry check is done, so that the first free slots
    // go by priority rather than to whichever check answered first.
    let checked = Arc::new(tokio::sync::Barrier::new(jobs.len()));
    let ready: HashMap<String, Arc<Ready>> = jobs
        .iter()
        .map(|j| (j.name.clone(), Arc::new(watch::channel(None).0)))
        .collect();
    let mut tasks = Vec::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let place = (priorities[index], index);
        let bases: Vec<(String, watch::Receiver<Option<bool>>)> = job
            .bases
            .iter()
            .filter_map(|b| ready.get(b).map(|s| (b.clone(), s.subscribe())))
            .collect();
        let me = ready[&job.name].clone();
        let (env, progress, build_slots, push_slots, checked) = (
            env.clone(),
            progress.clone(),
            build_slots.clone(),
            push_slots.clone(),
            checked.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let slots = Shared {
                build: &build_slots,
                place,
                push: &push_slots,
                checked: &checked,
            };
            let result = one(&job, &env, progress.as_ref(), bases, &me, slots).await;
            // A job that ended without saying (failure) releases its dependents as failed.
            me.send_if_modified(|v| {
                v.is_none() && {
                    *v = Some(false);
                    true
                }
            });
            result
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("image jobs do not panic"));
    }
    results
}

/// For each job, how many other jobs are built on it, directly or not: its place in the
/// queue for build slots.
fn dependents(jobs: &[Job]) -> Vec<usize> {
    jobs.iter()
        .map(|job| {
            let mut above: Vec<&str> = vec![&job.name];
            // Jobs come bases first, so one pass finds every descendant.
            for other in jobs {
                if other.bases.iter().any(|b| above.contains(&b.as_str())) {
                    above.push(&other.name);
                }
            }
            above.len() - 1
        })
        .collect()
}

/// What the jobs share: the build slots with this job's place in their queue (priority,
/// build order), the push slots, and the end of the registry checks.
struct Shared<'a> {
    build: &'a Slots,
    place: (usize, usize),
    push: &'a Semaphore,
    checked: &'a tokio::sync::Barrier,
}

async fn one(
    job: &Job,
    env: &Env,
    progress: &dyn Progress,
    bases: Vec<(String, watch::Receiver<Option<bool>>)>,
    me: &Ready,
    slots: Shared<'_>,
) -> ImageResult {
    let reference = env.naming.reference(&job.name, &env.naming.tag);
    let log = env.log_dir.join(format!("{}.log", job.name));
    let result = |outcome| ImageResult {
        name: job.name.clone(),
        reference: reference.clone(),
        hash: job.hash.clone(),
        outcome,
        log: log.clone(),
    };
    let outcome = match steps(job, env, progress, bases, me, slots, &log).await {
        Ok(o) => o,
        Err(o) => o,
    };
    match &outcome {
        Outcome::UpToDate { digest } => progress.finish(
            &job.name,
            "Fresh",
            &format!("up to date ({})", short(digest)),
        ),
        Outcome::Retagged { digest } => progress.finish(
            &job.name,
            "Tagged",
            &format!("{} -> {}", env.naming.tag, short(digest)),
        ),
        Outcome::InRegistry => {
            progress.finish(&job.name, "Fresh", "content already in the registry")
        }
        Outcome::Built => progress.finish(&job.name, "Built", &reference),
        Outcome::Pushed { digest } => progress.finish(
            &job.name,
            "Pushed",
            &format!("{reference} ({})", short(digest)),
        ),
        Outcome::Failed { .. } => {
            progress.finish(&job.name, "Failed", &format!("log: {}", log.display()))
        }
        Outcome::Skipped { base } => {
            progress.finish(&job.name, "Skipped", &format!("base `{base}` failed"))
        }
    }
    result(outcome)
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(19)]
}

async fn steps(
    job: &Job,
    env: &Env,
    progress: &dyn Progress,
    bases: Vec<(String, watch::Receiver<Option<bool>>)>,
    me: &Ready,
    shared: Shared<'_>,
    log: &std::path::Path,
) -> Result<Outcome, Outcome> {
    let repository = env.naming.repository(&job.name);
    let content = content_tag(&job.hash);
    let reference = env.naming.reference(&job.name, &env.naming.tag);
    let content_reference = env.naming.reference(&job.name, &content);

    let checked = match &env.registry {
        Some(registry) => {
            progress.update(&job.name, "Checking", &content);
            check(registry, &repository, &content, env).await
        }
        None => Ok(None),
    };
    // A build that waits for no base takes its place in the build queue before any slot
    // is handed out, so the first slots go by priority (the shared base before a leaf).
    let queued = (matches!(checked, Ok(None)) && bases.is_empty() && env.mode != Mode::Push)
        .then(|| shared.build.queue(shared.place.0, shared.place.1));
    shared.checked.wait().await;
    if let Some(outcome) = checked.map_err(|e| failed(&e))? {
        me.send_replace(Some(true));
        return Ok(outcome);
    }
    wait_for_bases(job, progress, bases).await?;
    start_log(log)?;
    let builder = builder(env, progress).await.map_err(|e| failed(&e))?;
    if env.mode == Mode::Push {
        if !builder.has_image(&content_reference).await {
            return Err(Outcome::Failed {
                error: format!(
                    "`{content_reference}` is not in local storage (its context changed since the last build); run `kube-openstack images build {}`",
                    job.name
                ),
            });
        }
    } else {
        let tags = [reference.clone(), content_reference.clone()];
        let (priority, order) = shared.place;
        let queued = queued.unwrap_or_else(|| shared.build.queue(priority, order));
        build(job, env, progress, builder, queued, &tags, log).await?;
    }
    me.send_replace(Some(true));
    let Some(registry) = env.registry.as_ref().filter(|_| env.mode != Mode::Build) else {
        return Ok(Outcome::Built);
    };
    let _slot = shared.push.acquire().await.expect("never closed");
    if let Some(signal) = env.interrupt.signal() {
        return Err(not_started(signal));
    }
    progress.update(&job.name, "Pushing", &reference);
    // The content tag goes last: its presence then means the whole push happened.
    for r in [&reference, &content_reference] {
        let destination = match &env.push_host {
            Some(host) => r.replacen(env.naming.registry.as_str(), host, 1),
            None => r.to_string(),
        };
        builder
            .push(
                r,
                &destination,
                env.auth_file.as_deref(),
                env.plain_http,
                log,
            )
            .await
            .map_err(|e| failed(&e))?;
    }
    verify(registry, &repository, &content, env).await
}

/// Empties the build's log file (a rerun's log is its own).
fn start_log(log: &std::path::Path) -> Result<(), Outcome> {
    std::fs::write(log, "").map_err(|e| {
        failed(&BuildError::Log {
            path: log.to_path_buf(),
            source: e,
        })
    })
}

/// Waits until every base is built; skipped when one failed.
async fn wait_for_bases(
    job: &Job,
    progress: &dyn Progress,
    bases: Vec<(String, watch::Receiver<Option<bool>>)>,
) -> Result<(), Outcome> {
    for (base, mut rx) in bases {
        progress.update(&job.name, "Waiting", &format!("for `{base}`"));
        let ok = rx
            .wait_for(Option::is_some)
            .await
            .map(|v| *v == Some(true))
            .unwrap_or(false);
        if !ok {
            return Err(Outcome::Skipped { base });
        }
    }
    Ok(())
}

fn failed(e: &dyn std::fmt::Display) -> Outcome {
    Outcome::Failed {
        error: e.to_string(),
    }
}

fn not_started(signal: impl std::fmt::Display) -> Outcome {
    Outcome::Failed {
        error: format!("not started: kube-openstack received {signal}"),
    }
}

/// Builds the image under its `tags` once its place in the build queue gets a slot.
async fn build(
    job: &Job,
    env: &Env,
    progress: &dyn Progress,
    builder: &Builder,
    queued: Queued<'_>,
    tags: &[String; 2],
    log: &std::path::Path,
) -> Result<(), Outcome> {
    let _slot = queued.acquire().await;
    if let Some(signal) = env.interrupt.signal() {
        return Err(not_started(signal));
    }
    progress.update(&job.name, "Building", &tags[0]);
    let labels = [(
        "io.kube-openstack.content-hash".to_string(),
        job.hash.clone(),
    )];
    let req = BuildRequest {
        context: &job.context,
        tags,
        build_args: &env.build_args,
        labels: &labels,
        auth_file: env.auth_file.as_deref(),
        plain_http: env.plain_http,
    };
    builder.build(&req, log).await.map_err(|e| failed(&e))
}

/// After a push: both tags name one digest in the registry.
async fn verify(
    registry: &RegistryClient,
    repository: &str,
    content: &str,
    env: &Env,
) -> Result<Outcome, Outcome> {
    let pushed = registry
        .manifest_digest(repository, &env.naming.tag)
        .await
        .map_err(|e| failed(&e))?;
    let by_content = registry
        .manifest_digest(repository, content)
        .await
        .map_err(|e| failed(&e))?;
    match (pushed, by_content) {
        (Some(a), Some(b)) if a == b => Ok(Outcome::Pushed { digest: a }),
        (a, b) => Err(Outcome::Failed {
            error: format!(
                "after the push the registry holds {} for `{}` and {} for `{content}`",
                a.as_deref().unwrap_or("nothing"),
                env.naming.tag,
                b.as_deref().unwrap_or("nothing")
            ),
        }),
    }
}

/// `Some` when the registry already has this content: under the configured tag (up to
/// date), or only under its content tag (then the configured tag is moved to it, unless
/// only building).
async fn check(
    registry: &RegistryClient,
    repository: &str,
    content: &str,
    env: &Env,
) -> Result<Option<Outcome>, RegistryError> {
    let Some(digest) = registry.manifest_digest(repository, content).await? else {
        return Ok(None);
    };
    if registry
        .manifest_digest(repository, &env.naming.tag)
        .await?
        .as_deref()
        == Some(digest.as_str())
    {
        return Ok(Some(Outcome::UpToDate { digest }));
    }
    if env.mode == Mode::Build {
        return Ok(Some(Outcome::InRegistry));
    }
    let Some(manifest) = registry.manifest(repository, content).await? else {
        return Ok(None);
    };
    let digest = registry
        .put_manifest(repository, &env.naming.tag, &manifest)
        .await?;
    Ok(Some(Outcome::Retagged { digest }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, bases: &[&str]) -> Job {
        Job {
            name: name.into(),
            context: PathBuf::new(),
            bases: bases.iter().map(|b| b.to_string()).collect(),
            hash: String::new(),
        }
    }

    #[test]
    fn a_base_ranks_by_everything_built_on_it_directly_or_not() {
        let jobs = [
            job("debian-ish", &[]),
            job("base", &["debian-ish"]),
            job("keystone", &["base"]),
            job("nova", &["base"]),
            job("memcached", &[]),
        ];
        assert_eq!(dependents(&jobs), [3, 2, 0, 0, 0]);
    }
}
