//! Checks, builds and pushes every selected image at once, within bounds: at most `jobs`
//! builds run together, an image waits only for its own bases, and pushes run outside the
//! build slots so they overlap other builds. One image failing never hides the others.

use super::builder::{BuildError, BuildRequest, Builder, NoBuilder};
use super::progress::Progress;
use super::registry::{RegistryClient, RegistryError};
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
    /// `None` when the registry is not consulted (`images build` with the registry down).
    pub registry: Option<Arc<RegistryClient>>,
    pub auth_file: Option<PathBuf>,
    pub plain_http: bool,
    pub log_dir: PathBuf,
    pub jobs: usize,
    pub build_args: Vec<(String, String)>,
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

pub async fn run(jobs: Vec<Job>, env: Env, progress: Arc<dyn Progress>) -> Vec<ImageResult> {
    let env = Arc::new(env);
    let build_slots = Arc::new(Semaphore::new(env.jobs.max(1)));
    let push_slots = Arc::new(Semaphore::new(env.jobs.max(1)));
    let ready: HashMap<String, Arc<Ready>> = jobs
        .iter()
        .map(|j| (j.name.clone(), Arc::new(watch::channel(None).0)))
        .collect();
    let mut tasks = Vec::new();
    for job in jobs {
        let bases: Vec<(String, watch::Receiver<Option<bool>>)> = job
            .bases
            .iter()
            .filter_map(|b| ready.get(b).map(|s| (b.clone(), s.subscribe())))
            .collect();
        let me = ready[&job.name].clone();
        let (env, progress, build_slots, push_slots) = (
            env.clone(),
            progress.clone(),
            build_slots.clone(),
            push_slots.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let result = one(
                &job,
                &env,
                progress.as_ref(),
                bases,
                &me,
                &build_slots,
                &push_slots,
            )
            .await;
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

async fn one(
    job: &Job,
    env: &Env,
    progress: &dyn Progress,
    bases: Vec<(String, watch::Receiver<Option<bool>>)>,
    me: &Ready,
    build_slots: &Semaphore,
    push_slots: &Semaphore,
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
    let outcome = match steps(job, env, progress, bases, me, build_slots, push_slots, &log).await {
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

#[allow(clippy::too_many_arguments)]
async fn steps(
    job: &Job,
    env: &Env,
    progress: &dyn Progress,
    bases: Vec<(String, watch::Receiver<Option<bool>>)>,
    me: &Ready,
    build_slots: &Semaphore,
    push_slots: &Semaphore,
    log: &std::path::Path,
) -> Result<Outcome, Outcome> {
    let failed = |e: &dyn std::fmt::Display| Outcome::Failed {
        error: e.to_string(),
    };
    let repository = env.naming.repository(&job.name);
    let content = content_tag(&job.hash);
    let reference = env.naming.reference(&job.name, &env.naming.tag);
    let content_reference = env.naming.reference(&job.name, &content);

    if let Some(registry) = &env.registry {
        progress.update(&job.name, "Checking", &content);
        if let Some(outcome) = check(registry, &repository, &content, env)
            .await
            .map_err(|e| failed(&e))?
        {
            me.send_replace(Some(true));
            return Ok(outcome);
        }
    }
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
    std::fs::write(log, "").map_err(|e| {
        failed(&BuildError::Log {
            path: log.to_path_buf(),
            source: e,
        })
    })?;
    let builder = env.builder.as_ref().map_err(|e| failed(e))?;
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
        let slot = build_slots.acquire().await.expect("never closed");
        progress.update(&job.name, "Building", &reference);
        let tags = [reference.clone(), content_reference.clone()];
        let labels = [(
            "io.kube-openstack.content-hash".to_string(),
            job.hash.clone(),
        )];
        let req = BuildRequest {
            context: &job.context,
            tags: &tags,
            build_args: &env.build_args,
            labels: &labels,
            auth_file: env.auth_file.as_deref(),
            plain_http: env.plain_http,
        };
        builder.build(&req, log).await.map_err(|e| failed(&e))?;
        drop(slot);
    }
    me.send_replace(Some(true));
    let Some(registry) = env.registry.as_ref().filter(|_| env.mode != Mode::Build) else {
        return Ok(Outcome::Built);
    };
    let _slot = push_slots.acquire().await.expect("never closed");
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
    let pushed = registry
        .manifest_digest(&repository, &env.naming.tag)
        .await
        .map_err(|e| failed(&e))?;
    let by_content = registry
        .manifest_digest(&repository, &content)
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
