//! Rerunning the one-shot database jobs. For each selected `SERVICE-db-sync` pod: delete
//! the old one and wait until it is gone, create it from the rendered manifest, wait for
//! it to succeed; its log is printed as it comes, each line prefixed by the pod's name.
//! Independent pods run in parallel; dependencies between the selected ones are kept.

use super::deploy::{connect, masker, read_tree};
use crate::deploy::apply::Target;
use crate::deploy::discovery::Resource;
use crate::deploy::manifest::Manifest;
use crate::deploy::ops;
use crate::deploy::order::is_one_shot;
use crate::deploy::plan::Plan;
use crate::deploy::progress::Progress;
use crate::deploy::schedule::{self, NodeResult, State};
use crate::printer::{Mode, Printer};
use crate::secrets::Masker;
use crate::settings::ClusterSettings;
use anyhow::Context as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const SUFFIX: &str = "-db-sync";

/// Which pods: those of these services, or all.
pub enum Selected<'a> {
    All,
    Services(&'a [String]),
}

/// One pod's result, its detail masked.
#[derive(Debug, serde::Serialize)]
pub struct PodRow {
    pub pod: String,
    pub state: State,
    pub detail: String,
}

/// Where a run's output goes: the caller decides how each is printed.
pub struct Shown<'a> {
    /// The pods' log lines as they come, each prefixed by its pod's name and masked.
    pub logs: &'a dyn Fn(&str),
    /// A row per pod at the end (before an error names those that did not succeed).
    pub rows: &'a dyn Fn(&[PodRow]),
}

/// Reruns the pods, showing their logs and results; returns their names.
pub fn db_sync(
    cluster: &ClusterSettings,
    printer: &Printer,
    selected: Selected,
    parallel: u16,
    timeout: Duration,
    shown: &Shown,
) -> anyhow::Result<Vec<String>> {
    let manifests = read_tree(cluster)?;
    // The whole tree's graph is checked, so a bad reference is reported as `deploy` would.
    Plan::build(manifests.clone())
        .with_context(|| format!("invalid dependencies in `{}`", cluster.manifests.display()))?;
    let selected = select(&manifests, selected)?;
    let names: Vec<String> = selected.iter().map(|m| m.id.name.clone()).collect();
    let plan = plan_of(&selected, &names)?;
    let masker = Arc::new(masker(
        &cluster.state,
        &manifests.iter().collect::<Vec<_>>(),
    )?);
    let progress = printer.deploy_progress(Mode::Text, masker.clone(), plan.nodes.len(), false);
    let results = crate::rt::block_on(async {
        let ctx = connect(cluster).await?;
        let (_, resources) = crate::deploy::resolve(&ctx, &plan).await?;
        ctx.ensure_namespace(false).await?;
        delete_previous(&ctx, &plan, &resources, &progress, timeout).await?;
        let target = Target {
            kube: &ctx.kube,
            namespace: &ctx.namespace,
            deployment: &ctx.deployment,
            dry_run: false,
            recreate: false,
            gone_timeout: timeout,
        };
        let options = schedule::Options {
            parallel: usize::from(parallel),
            timeout: Some(timeout),
            wait_all: true,
        };
        let interrupt = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let finished = AtomicBool::new(false);
        let run = async {
            let (results, _) = schedule::run(
                &plan,
                &resources,
                &HashMap::new(),
                &target,
                &options,
                &progress,
                interrupt,
            )
            .await;
            finished.store(true, Ordering::SeqCst);
            results
        };
        let follow = follow_logs(&ctx, &plan, &resources, shown.logs, &masker, &finished);
        let (results, ()) = tokio::join!(run, follow);
        Ok::<_, anyhow::Error>(results)
    })?;
    let rows: Vec<PodRow> = results
        .iter()
        .map(|r| PodRow {
            pod: r.object.clone(),
            state: r.state,
            detail: masker.mask(&r.message),
        })
        .collect();
    (shown.rows)(&rows);
    check(&results)?;
    printer.status("Synced", names.join(", "));
    Ok(names)
}

/// The plan of the selected pods, with only the dependencies among them: the rest is
/// already deployed.
fn plan_of(selected: &[&Manifest], names: &[String]) -> anyhow::Result<Plan> {
    let sub: Vec<Manifest> = selected
        .iter()
        .map(|m| {
            let mut m = (*m).clone();
            m.depends_on
                .retain(|d| d.kind == "Pod" && names.contains(&d.name));
            m
        })
        .collect();
    Plan::build(sub).context("invalid dependencies between the db-sync pods")
}

/// A line per pod, on stderr with the logs: its state and why.
pub fn print_table(printer: &Printer, rows: &[PodRow]) {
    let mut table = String::from("POD\tSTATE\tDETAIL\n");
    for r in rows {
        table.push_str(&format!("{}\t{:?}\t{}\n", r.pod, r.state, r.detail));
    }
    printer.note(&crate::printer::align(&table));
}

/// The pods that did not succeed, as one error.
fn check(results: &[NodeResult]) -> anyhow::Result<()> {
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.state != State::Ready)
        .map(|r| r.object.as_str())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("db-sync did not succeed for {}", failed.join(", "));
    }
    Ok(())
}

/// Deletes every old pod first (waiting until gone): each is then created afresh.
async fn delete_previous(
    ctx: &crate::deploy::Context,
    plan: &Plan,
    resources: &[Resource],
    progress: &dyn Progress,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deletions = plan.nodes.iter().zip(resources).map(|(n, res)| {
        let name = n.manifest.id.name.clone();
        async move {
            if ops::delete(&ctx.kube, res, &ctx.namespace, &name, false).await? {
                progress.object("Deleting", &n.manifest.id.to_string(), "the previous run");
                ops::wait_gone(&ctx.kube, res, &ctx.namespace, &name, timeout).await?;
            }
            Ok::<_, anyhow::Error>(())
        }
    });
    for r in futures::future::join_all(deletions).await {
        r?;
    }
    Ok(())
}

/// The one-shot pods named `SERVICE-db-sync` for the services asked for (or all).
fn select<'a>(manifests: &'a [Manifest], selected: Selected) -> anyhow::Result<Vec<&'a Manifest>> {
    let all: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| {
            m.id.kind == "Pod" && m.id.name.ends_with(SUFFIX) && is_one_shot(&m.id.kind, &m.body)
        })
        .collect();
    let services = match selected {
        Selected::All => {
            anyhow::ensure!(!all.is_empty(), "the rendered tree has no `*{SUFFIX}` pod");
            return Ok(all);
        }
        Selected::Services(services) => services,
    };
    let mut out = Vec::new();
    for service in services {
        let name = format!("{service}{SUFFIX}");
        match all.iter().find(|m| m.id.name == name) {
            Some(m) => out.push(*m),
            None => {
                let known: Vec<&str> = all
                    .iter()
                    .map(|m| m.id.name.trim_end_matches(SUFFIX))
                    .collect();
                anyhow::bail!(
                    "no pod `{name}` in the rendered tree (services with a db-sync pod: {})",
                    known.join(", ")
                );
            }
        }
    }
    Ok(out)
}

/// Prints each pod's log lines, prefixed by its name, as they appear (polling the log
/// twice a second), until `finished`; then whatever is left.
async fn follow_logs(
    ctx: &crate::deploy::Context,
    plan: &Plan,
    resources: &[Resource],
    logs: &dyn Fn(&str),
    masker: &Masker,
    finished: &AtomicBool,
) {
    let mut printed = vec![0usize; plan.nodes.len()];
    let mut runs: Vec<Option<String>> = vec![None; plan.nodes.len()];
    loop {
        let last = finished.load(Ordering::SeqCst);
        for (i, (node, res)) in plan.nodes.iter().zip(resources).enumerate() {
            let name = &node.manifest.id.name;
            let pod = ops::get(&ctx.kube, res, &ctx.namespace, name).await;
            let Ok(text) = ops::logs(&ctx.kube, res, &ctx.namespace, name).await else {
                continue;
            };
            // A new pod or a restarted container has a log of its own: its length says
            // nothing about what was printed of the last one.
            let run = pod.ok().flatten().map(|p| run_of(&p));
            if run != runs[i] || text.len() < printed[i] {
                printed[i] = 0;
                runs[i] = run;
            }
            let fresh = &text[printed[i]..];
            // Whole lines only while the pod runs; the rest at the end.
            let upto = if last {
                fresh.len()
            } else {
                fresh.rfind('\n').map_or(0, |p| p + 1)
            };
            if upto > 0 {
                let lines: String = fresh[..upto]
                    .lines()
                    .map(|l| format!("{name} | {l}\n"))
                    .collect();
                logs(&masker.mask(&lines));
                printed[i] += upto;
            }
        }
        if last {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Which run of a pod a log belongs to: the pod's uid and its first container's restarts.
fn run_of(pod: &serde_json::Value) -> String {
    let uid = pod.pointer("/metadata/uid").and_then(|v| v.as_str());
    let restarts = pod.pointer("/status/containerStatuses/0/restartCount");
    format!(
        "{}/{}",
        uid.unwrap_or(""),
        restarts.and_then(|v| v.as_i64()).unwrap_or(0)
    )
}
