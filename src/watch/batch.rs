//! One batch of dropped files through the deploy engine: parsed, planned together (so
//! files that arrive at once are applied in dependency order), applied, and each file's
//! fate decided: applied, failed (its own fault), or kept for a retry (the cluster's).

use crate::deploy::apply::Target;
use crate::deploy::discovery::DiscoveryError;
use crate::deploy::manifest::{self, Manifest};
use crate::deploy::plan::{Plan, PlanError};
use crate::deploy::progress::Progress;
use crate::deploy::ready::{Readiness, readiness};
use crate::deploy::schedule::{self, State};
use crate::deploy::{Context, DeployError};
use std::collections::BTreeMap;
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

/// Applies the parsed files together; every file gets a fate.
pub async fn apply(
    ctx: &Context,
    mut files: Vec<(PathBuf, Vec<Manifest>)>,
    progress: &dyn Progress,
    timeout: Option<Duration>,
    fates: &mut BTreeMap<PathBuf, Fate>,
) {
    // Dependencies within the batch order it; one on an object outside the batch must
    // already be ready in the cluster, else the file waits for it.
    let mut outside: BTreeMap<PathBuf, Vec<manifest::ObjectId>> = BTreeMap::new();
    loop {
        let ids: Vec<_> = files
            .iter()
            .flat_map(|(_, ms)| ms.iter().map(|m| m.id.clone()))
            .collect();
        for (file, manifests) in &mut files {
            for m in manifests.iter_mut() {
                let (inside, out): (Vec<_>, Vec<_>) =
                    m.depends_on.drain(..).partition(|d| ids.contains(d));
                m.depends_on = inside;
                outside.entry(file.clone()).or_default().extend(out);
            }
        }
        let owner = |id: &manifest::ObjectId, files: &[(PathBuf, Vec<Manifest>)]| {
            files
                .iter()
                .position(|(_, ms)| ms.iter().any(|m| &m.id == id))
        };
        let plan = match Plan::build(files.iter().flat_map(|(_, ms)| ms.clone()).collect()) {
            Ok(plan) => plan,
            Err(PlanError::Cycle(cycle)) => {
                let message = PlanError::Cycle(cycle.clone()).to_string();
                for id in &cycle {
                    if let Some(i) = owner(id, &files) {
                        fates.insert(files.remove(i).0, Fate::Failed(message.clone()));
                    }
                }
                continue;
            }
            Err(e @ PlanError::Missing(_)) => {
                for (file, _) in files.drain(..) {
                    fates.insert(file, Fate::Failed(e.to_string()));
                }
                return;
            }
        };
        if files.is_empty() {
            return;
        }
        let survey = match ctx.survey(&plan, false).await {
            Ok(survey) => survey,
            Err(e) => {
                // A file's own fault (a kind the server does not serve, another namespace)
                // fails that file; the rest of the batch goes on without it.
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
                    return retry_all(files, &crate::report::one_line(&e), fates);
                };
                match files
                    .iter()
                    .position(|(f, _)| f.file_name() == Some(file.as_os_str()))
                {
                    Some(i) => {
                        fates.insert(files.remove(i).0, Fate::Failed(message));
                        continue;
                    }
                    None => return retry_all(files, &message, fates),
                }
            }
        };
        let live = survey.live_objects();
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
        if files.len() != before {
            continue;
        }
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
            &plan,
            &survey.resources,
            &live,
            &target,
            &options,
            progress,
            std::future::pending(),
        )
        .await;
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
        return;
    }
}

fn retry_all(files: Vec<(PathBuf, Vec<Manifest>)>, why: &str, fates: &mut BTreeMap<PathBuf, Fate>) {
    for (file, _) in files {
        fates.insert(file, Fate::Retry(why.to_string()));
    }
}
