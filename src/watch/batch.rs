//! One batch of dropped files through the deploy engine: parsed, planned together (so
//! files that arrive at once are applied in dependency order), applied, and each file's
//! fate decided: applied, failed (its own fault), or kept for a retry (the cluster's).

use crate::deploy::apply::Target;
use crate::deploy::discovery::DiscoveryError;
use crate::deploy::manifest::{self, Manifest};
use crate::deploy::plan::{Plan, PlanError};
use crate::deploy::progress::Progress;
use crate::deploy::ready::{Readiness, readiness};
use crate::deploy::schedule::{self, NodeResult, State};
use crate::deploy::{Context, DeployError, Survey};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What becomes of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Applied(usize),
    /// The file itself is wrong (not YAML, a cycle, an unknown kind, refused by the API).
    Failed(String),
    /// The cluster could not be reached: the file stays where it is and is tried again.
    Retry(String),
    /// It depends on an object that is neither in the batch nor ready in the cluster: it
    /// stays until that object arrives and is ready.
    Defer(String),
}

/// Parses the files; a file that cannot be parsed is failed here, the rest are returned.
pub fn parse(
    files: &[PathBuf],
    fates: &mut BTreeMap<PathBuf, Fate>,
) -> Vec<(PathBuf, Vec<Manifest>)> {
    let mut parsed = Vec::new();
    for file in files {
        let name = Path::new(file.file_name().unwrap_or_default());
        let text = match std::fs::read(file) {
            Ok(bytes) => match manifest::text_of(name, bytes) {
                Ok(text) => text,
                Err(e) => {
                    fates.insert(file.clone(), Fate::Failed(e.to_string()));
                    continue;
                }
            },
            Err(e) => {
                fates.insert(file.clone(), Fate::Retry(format!("cannot read it: {e}")));
                continue;
            }
        };
        match manifest::parse_file(name, &text) {
            Ok(manifests) if manifests.is_empty() => {
                fates.insert(
                    file.clone(),
                    Fate::Failed(format!("`{}` holds no Kubernetes object", name.display())),
                );
            }
            Ok(manifests) => parsed.push((file.clone(), manifests)),
            Err(e) => {
                fates.insert(file.clone(), Fate::Failed(e.to_string()));
            }
        }
    }
    parsed
}

type Files = Vec<(PathBuf, Vec<Manifest>)>;

/// What one pass over the batch leads to.
enum Next<T> {
    Go(T),
    /// Some files were set aside: plan the rest again.
    Again,
    /// Every file has its fate.
    Stop,
}

/// Applies the parsed files together; every file gets a fate.
pub async fn apply(
    ctx: &Context,
    mut files: Files,
    progress: &dyn Progress,
    timeout: Option<Duration>,
    fates: &mut BTreeMap<PathBuf, Fate>,
) {
    // Dependencies within the batch order it; one on an object outside the batch must
    // already be ready in the cluster, else the file waits for it.
    let mut outside: BTreeMap<PathBuf, Vec<manifest::ObjectId>> = BTreeMap::new();
    loop {
        set_outside_dependencies_aside(&mut files, &mut outside);
        let plan = match plan(&mut files, fates) {
            Next::Go(plan) => plan,
            Next::Again => continue,
            Next::Stop => return,
        };
        let survey = match survey(ctx, &plan, &mut files, fates).await {
            Next::Go(survey) => survey,
            Next::Again => continue,
            Next::Stop => return,
        };
        let live = survey.live_objects();
        if defer_waiting(&mut files, &outside, &live, fates) {
            continue;
        }
        let results = run(ctx, &plan, &survey, &live, progress, timeout).await;
        return decide(ctx, &plan, &results, files, fates).await;
    }
}

/// Moves each dependency on an object outside the batch from the manifest to `outside`.
fn set_outside_dependencies_aside(
    files: &mut Files,
    outside: &mut BTreeMap<PathBuf, Vec<manifest::ObjectId>>,
) {
    let ids: Vec<_> = files
        .iter()
        .flat_map(|(_, ms)| ms.iter().map(|m| m.id.clone()))
        .collect();
    for (file, manifests) in files {
        for m in manifests.iter_mut() {
            let (inside, out): (Vec<_>, Vec<_>) =
                m.depends_on.drain(..).partition(|d| ids.contains(d));
            m.depends_on = inside;
            outside.entry(file.clone()).or_default().extend(out);
        }
    }
}

/// The batch's plan; the files of a cycle fail (the rest is planned again), a missing
/// reference fails them all.
fn plan(files: &mut Files, fates: &mut BTreeMap<PathBuf, Fate>) -> Next<Plan> {
    match Plan::build(files.iter().flat_map(|(_, ms)| ms.clone()).collect()) {
        Ok(_) if files.is_empty() => Next::Stop,
        Ok(plan) => Next::Go(plan),
        Err(PlanError::Cycle(cycle)) => {
            let message = PlanError::Cycle(cycle.clone()).to_string();
            for id in &cycle {
                let owner = files
                    .iter()
                    .position(|(_, ms)| ms.iter().any(|m| &m.id == id));
                if let Some(i) = owner {
                    fates.insert(files.remove(i).0, Fate::Failed(message.clone()));
                }
            }
            Next::Again
        }
        Err(e @ PlanError::Missing(_)) => {
            for (file, _) in files.drain(..) {
                fates.insert(file, Fate::Failed(e.to_string()));
            }
            Next::Stop
        }
    }
}

/// The cluster as the plan meets it. A file's own fault (a kind the server does not
/// serve, another namespace) fails that file and the rest is planned again; anything
/// else keeps every file for a retry.
async fn survey(
    ctx: &Context,
    plan: &Plan,
    files: &mut Files,
    fates: &mut BTreeMap<PathBuf, Fate>,
) -> Next<Survey> {
    let e = match ctx.survey(plan, false).await {
        Ok(survey) => return Next::Go(survey),
        Err(e) => e,
    };
    let own = match &e {
        DeployError::Discovery(DiscoveryError::UnknownKind {
            file,
            kind,
            api_version,
        }) => Some((
            file,
            format!("the server does not serve {kind} in {api_version}"),
        )),
        DeployError::WrongNamespace { file, .. } => Some((file, e.to_string())),
        _ => None,
    };
    let Some((file, message)) = own else {
        retry_all(std::mem::take(files), &crate::report::one_line(&e), fates);
        return Next::Stop;
    };
    match files
        .iter()
        .position(|(f, _)| f.file_name() == Some(file.as_os_str()))
    {
        Some(i) => {
            fates.insert(files.remove(i).0, Fate::Failed(message));
            Next::Again
        }
        None => {
            retry_all(std::mem::take(files), &message, fates);
            Next::Stop
        }
    }
}

/// Defers the files that depend on an object outside the batch that is not ready;
/// whether there were any (then the rest is planned again).
fn defer_waiting(
    files: &mut Files,
    outside: &BTreeMap<PathBuf, Vec<manifest::ObjectId>>,
    live: &HashMap<manifest::ObjectId, Value>,
    fates: &mut BTreeMap<PathBuf, Fate>,
) -> bool {
    let not_ready = |d: &manifest::ObjectId| {
        live.get(d)
            .is_none_or(|obj| !matches!(readiness(&d.kind, obj), Readiness::Ready))
    };
    let before = files.len();
    files.retain(|(file, _)| {
        let waits: Vec<String> = outside
            .get(file)
            .into_iter()
            .flatten()
            .filter(|d| not_ready(d))
            .map(ToString::to_string)
            .collect();
        if !waits.is_empty() {
            fates.insert(
                file.clone(),
                Fate::Defer(format!("waits for {}", waits.join(", "))),
            );
        }
        waits.is_empty()
    });
    files.len() != before
}

/// Applies the plan through the deploy engine.
async fn run(
    ctx: &Context,
    plan: &Plan,
    survey: &Survey,
    live: &HashMap<manifest::ObjectId, Value>,
    progress: &dyn Progress,
    timeout: Option<Duration>,
) -> Vec<NodeResult> {
    let target = Target {
        kube: &ctx.kube,
        namespace: &ctx.namespace,
        deployment: &ctx.deployment,
        dry_run: false,
        recreate: false,
        gone_timeout: Duration::from_secs(60),
    };
    let options = schedule::Options {
        parallel: 8,
        timeout,
        wait_all: false,
    };
    let (results, _) = schedule::run(
        plan,
        &survey.resources,
        live,
        &target,
        &options,
        progress,
        std::future::pending(),
    )
    .await;
    results
}

/// Each file's fate from its objects' results: applied, or failed (kept for a retry when
/// the API server cannot be reached, since then the cluster is at fault, not the file).
async fn decide(
    ctx: &Context,
    plan: &Plan,
    results: &[NodeResult],
    files: Files,
    fates: &mut BTreeMap<PathBuf, Fate>,
) {
    let reachable = ctx
        .kube
        .send(
            http::Request::get("/version")
                .body(Vec::new())
                .expect("a valid request"),
        )
        .await
        .is_ok();
    for (file, manifests) in files {
        let mine: Vec<_> = manifests
            .iter()
            .filter_map(|m| plan.index.get(&m.id).map(|&i| &results[i]))
            .collect();
        let failed: Vec<String> = mine
            .iter()
            .filter(|r| matches!(r.state, State::Failed | State::Skipped))
            .map(|r| format!("{}: {}", r.object, r.message))
            .collect();
        let fate = if failed.is_empty() {
            Fate::Applied(mine.len())
        } else if !reachable {
            Fate::Retry(failed.join("; "))
        } else {
            Fate::Failed(failed.join("\n"))
        };
        fates.insert(file, fate);
    }
}

fn retry_all(files: Vec<(PathBuf, Vec<Manifest>)>, why: &str, fates: &mut BTreeMap<PathBuf, Fate>) {
    for (file, _) in files {
        fates.insert(file, Fate::Retry(why.to_string()));
    }
}
