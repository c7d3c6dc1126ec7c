//! The steps that talk to the cluster: the registry part, the whole tree, the db-sync
//! pods, the clean-up; and reaching the registry to push to.

use super::{Outcome, Run};
use crate::deploy::forward::{self, Forward};
use crate::deploy::manifest::{self, Manifest, ObjectId};
use crate::deploy::order::is_one_shot;
use crate::deploy::plan::Plan;
use crate::deploy::progress::Progress as _;
use crate::deploy::{Context, schedule};
use crate::printer::{DeployProgress, Mode};
use crate::settings::DryRun;
use crate::up::check::{drift, mark};
use crate::up::record::StepRecord;
use crate::up::{Step, digest_json, registry_part, selector_string};
use crate::workflow::db_sync::{Selected, Shown, db_sync, print_table};
use crate::workflow::deploy::{self, Exec, connect};
use crate::workflow::teardown::clean_jobs;
use anyhow::Context as _;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

const DB_SYNC: &str = "-db-sync";

/// What a cluster step says in a client dry run.
const NOT_ASKED: &str = "client dry run: the cluster was not asked";

/// What a cluster step found or did.
enum Applied {
    /// Every object as the record says: nothing applied.
    Fresh(usize),
    Ran {
        counts: String,
        changes: usize,
        /// Why the record could not be trusted (`None`: there was no record).
        reason: Option<String>,
        live: HashMap<ObjectId, Value>,
    },
}

impl Run<'_> {
    pub(super) fn registry_step(&mut self) -> anyhow::Result<Outcome> {
        let plan = self.plan()?;
        let part = registry_part(&plan);
        if part.is_empty() {
            return Ok(Outcome::UpToDate(
                "the tree has no in-cluster registry: nothing to deploy first".into(),
            ));
        }
        let sub: Vec<Manifest> = part
            .iter()
            .map(|&i| plan.nodes[i].manifest.clone())
            .collect();
        let sub =
            Plan::build(sub).context("invalid dependencies in the registry's part of the tree")?;
        self.cluster_step(Step::Registry, &sub)
    }

    pub(super) fn deploy_step(&mut self) -> anyhow::Result<Outcome> {
        let plan = self.plan()?;
        let result = self.cluster_step(Step::Deploy, &plan)?;
        if matches!(result, Outcome::Done(_)) {
            // One-shot pods deleted by an earlier clean-jobs were just created again.
            self.record.steps.remove(&Step::CleanJobs);
            self.save()?;
        }
        Ok(result)
    }

    pub(super) fn db_sync_step(&mut self) -> anyhow::Result<Outcome> {
        let manifests = self.manifests()?;
        let pods: Vec<&Manifest> = manifests.iter().filter(|m| is_db_sync(m)).collect();
        if pods.is_empty() {
            return Ok(Outcome::UpToDate("the tree has no db-sync pods".into()));
        }
        if self.settings.dry_run == DryRun::Client {
            let names: Vec<&str> = pods.iter().map(|m| m.id.name.as_str()).collect();
            return Ok(Outcome::Would(format!(
                "rerun those of {} that did not succeed ({NOT_ASKED})",
                names.join(", ")
            )));
        }
        let cleaned = self.cleaned();
        let live = self.live_pods()?;
        let rerun: Vec<&str> = pods
            .iter()
            .map(|m| &m.id)
            .filter(|id| match live.get(*id) {
                Some(pod) => {
                    pod.pointer("/status/phase").and_then(Value::as_str) != Some("Succeeded")
                }
                None => !cleaned.contains(&id.to_string()),
            })
            .map(|id| id.name.as_str())
            .collect();
        if rerun.is_empty() {
            return Ok(Outcome::UpToDate(format!(
                "{} db-sync pods succeeded",
                pods.len()
            )));
        }
        if self.settings.dry_run.is_on() {
            return Ok(Outcome::Would(format!("rerun {}", rerun.join(", "))));
        }
        let services: Vec<String> = rerun
            .iter()
            .map(|n| n.trim_end_matches(DB_SYNC).to_string())
            .collect();
        db_sync(
            &self.settings.cluster,
            self.printer,
            Selected::Services(&services),
            self.settings.parallel,
            self.settings
                .timeout
                .unwrap_or(schedule::default_timeout("Pod")),
            &Shown {
                // On stderr: stdout is the summary (`-o json` too).
                logs: &|text| self.printer.note(text),
                rows: &|rows| print_table(self.printer, rows),
            },
        )?;
        // The rerun pods are new objects: the deploy record follows them.
        let live = self.live_pods()?;
        if let Some(deploy) = self.record.steps.get_mut(&Step::Deploy) {
            for name in &rerun {
                let id = ObjectId::new("Pod", name);
                if let Some(pod) = live.get(&id) {
                    deploy.objects.insert(id.to_string(), mark(pod));
                }
            }
        }
        self.save()?;
        Ok(Outcome::Done(format!(
            "reran {}; {} db-sync pods succeeded",
            rerun.join(", "),
            pods.len()
        )))
    }

    pub(super) fn clean_jobs_step(&mut self) -> anyhow::Result<Outcome> {
        if self.settings.dry_run == DryRun::Client {
            return Ok(Outcome::Would(format!(
                "delete the one-shot pods that finished ({NOT_ASKED})"
            )));
        }
        let manifests = self.manifests()?;
        let live = self.live_pods()?;
        let finished: Vec<String> = manifests
            .iter()
            .filter(|m| m.id.kind == "Pod" && is_one_shot(&m.id.kind, &m.body))
            .filter(|m| {
                live.get(&m.id)
                    .and_then(|p| p.pointer("/status/phase"))
                    .and_then(Value::as_str)
                    == Some("Succeeded")
            })
            .map(|m| m.id.to_string())
            .collect();
        if finished.is_empty() {
            return Ok(Outcome::UpToDate("no finished one-shot pods".into()));
        }
        if self.settings.dry_run.is_on() {
            return Ok(Outcome::Would(format!("delete {}", finished.join(", "))));
        }
        clean_jobs(&self.settings.cluster, self.printer, false, false)?;
        let mut cleaned = self.cleaned();
        cleaned.extend(finished.iter().cloned());
        cleaned.sort();
        cleaned.dedup();
        let detail = format!("deleted {}", finished.join(", "));
        self.complete(
            Step::CleanJobs,
            String::new(),
            &detail,
            StepRecord {
                cleaned,
                ..StepRecord::default()
            },
        )?;
        Ok(Outcome::Done(detail))
    }

    /// Where to push: `(push_to, forward)`. The `--registry-url` address when something
    /// answers there; else a port-forward to a registry pod, on that address's port when
    /// it is a local one (so images named `localhost:4999/...` push as they are named).
    pub(super) fn reach_registry(
        &mut self,
        named: &str,
    ) -> anyhow::Result<(Option<String>, Option<Forward>)> {
        let url = self
            .settings
            .registry_url
            .clone()
            .unwrap_or_else(|| named.to_string());
        let host = url
            .split_once("://")
            .map_or(url.as_str(), |(_, h)| h)
            .trim_end_matches('/')
            .to_string();
        let push_to = |addr: &str| (addr != named).then(|| addr.to_string());
        if answers(&host) {
            return Ok((push_to(&url), None));
        }
        let plan = self.plan()?;
        let part = registry_part(&plan);
        let service = part
            .iter()
            .map(|&i| &plan.nodes[i].manifest)
            .find(|m| m.id.kind == "Service" && selector_string(&m.body).is_some());
        let Some(service) = service else {
            anyhow::bail!(
                "nothing answers at `{host}` and the tree has no in-cluster registry to forward to; start the registry or pass `--registry-url`"
            );
        };
        let selector = selector_string(&service.body).expect("found above");
        let target_port = service_target_port(
            &service.body,
            &part
                .iter()
                .map(|&i| &plan.nodes[i].manifest)
                .collect::<Vec<_>>(),
        )
        .with_context(|| {
            format!(
                "cannot tell which port of `{}`'s pods serves the registry",
                service.id
            )
        })?;
        let (local_host, local_port) = match host.rsplit_once(':') {
            Some((h, p)) if is_loopback(h) => (h.to_string(), p.parse().unwrap_or(0)),
            _ => ("127.0.0.1".to_string(), 0),
        };
        let f = crate::rt::block_on(async {
            let ctx = connect(&self.settings.cluster).await?;
            Ok::<_, anyhow::Error>(forward::start(&ctx, &selector, target_port, local_port).await?)
        })
        .with_context(|| format!("nothing answers at `{host}`, and a port-forward to the registry pods ({selector}) failed"))?;
        let local = if local_port != 0 {
            format!("{local_host}:{}", f.local.port())
        } else {
            f.local.to_string()
        };
        self.printer.status(
            "Forwarding",
            format!("{local} to port {target_port} of pod `{}`: nothing answers at `{host}`, so images are pushed through the cluster", f.pod),
        );
        Ok((push_to(&local), Some(f)))
    }

    fn plan(&self) -> anyhow::Result<Plan> {
        let manifests = self.manifests()?;
        Plan::build(manifests)
            .with_context(|| format!("invalid dependencies in `{}`", self.out_dir().display()))
    }

    /// The rendered tree's objects: this run's render in a dry run (nothing was written),
    /// else what is on disk.
    pub(super) fn manifests(&self) -> anyhow::Result<Vec<Manifest>> {
        if self.settings.dry_run.is_on()
            && let Some(files) = &self.rendered
        {
            let files = files
                .iter()
                .filter(|f| !f.copied)
                .map(|f| (f.path.clone(), f.content.clone()))
                .collect();
            return Ok(manifest::from_files(files)?);
        }
        let dir = self.out_dir();
        manifest::load_tree(&dir)
            .with_context(|| format!("cannot read the rendered tree `{}`", dir.display()))
    }

    fn cleaned(&self) -> Vec<String> {
        self.record
            .steps
            .get(&Step::CleanJobs)
            .map(|r| r.cleaned.clone())
            .unwrap_or_default()
    }

    /// The deployment's live pods, by id.
    fn live_pods(&self) -> anyhow::Result<HashMap<ObjectId, Value>> {
        crate::rt::block_on(async {
            let ctx = connect(&self.settings.cluster).await?;
            let live = ctx.list_pods().await?;
            Ok::<_, anyhow::Error>(live.into_iter().map(|(id, (_, obj))| (id, obj)).collect())
        })
    }

    /// Applies `plan` unless the record shows every object as it was left and ready.
    fn cluster_step(&mut self, step: Step, plan: &Plan) -> anyhow::Result<Outcome> {
        if self.settings.dry_run == DryRun::Client {
            return Ok(Outcome::Would(format!(
                "apply {} objects in dependency order ({NOT_ASKED})",
                plan.nodes.len()
            )));
        }
        let namespace = &self.settings.cluster.namespace;
        let inputs = inputs_of(namespace, plan);
        let ids: Vec<ObjectId> = plan.nodes.iter().map(|n| n.manifest.id.clone()).collect();
        let recorded = if self.may_skip() {
            self.record.matching(step, &inputs).cloned()
        } else {
            None
        };
        let cleaned = self.cleaned();
        let progress = self.progress(plan)?;
        let exec = self.exec();
        let applied = crate::rt::block_on(async {
            let ctx = connect(&self.settings.cluster).await?;
            let mut reason = None;
            if let Some(rec) = &recorded {
                let live = live_objects(&ctx, plan).await?;
                match drift(&ids, &rec.objects, &cleaned, &live) {
                    None => return Ok::<_, anyhow::Error>(Applied::Fresh(ids.len())),
                    Some(why) => reason = Some(why),
                }
            }
            let report = deploy::execute(&ctx, plan, &exec, &progress).await?;
            deploy::check(&report, progress.masker())?;
            let (counts, changes) = deploy::counts(&report, exec.dry_run);
            let live = if exec.dry_run {
                HashMap::new()
            } else {
                live_objects(&ctx, plan).await?
            };
            Ok(Applied::Ran {
                counts,
                changes,
                reason,
                live,
            })
        })?;
        let (counts, changes, reason, live) = match applied {
            Applied::Fresh(n) => {
                return Ok(Outcome::UpToDate(format!(
                    "{n} objects in `{namespace}` as the last run left them, ready"
                )));
            }
            Applied::Ran {
                counts,
                changes,
                reason,
                live,
            } => (counts, changes, reason, live),
        };
        let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
        let detail = format!("{counts}{why}");
        if self.settings.dry_run.is_on() {
            return Ok(Outcome::Would(detail));
        }
        let objects: BTreeMap<String, _> = ids
            .iter()
            .filter_map(|id| live.get(id).map(|o| (id.to_string(), mark(o))))
            .collect();
        let record = StepRecord {
            objects,
            ..StepRecord::default()
        };
        self.complete(step, inputs, &detail, record)?;
        if changes == 0 {
            return Ok(Outcome::UpToDate(detail));
        }
        Ok(Outcome::Done(detail))
    }

    /// The deploy progress of a cluster step: every line with `--verbose`, else quiet.
    fn progress(&self, plan: &Plan) -> anyhow::Result<DeployProgress> {
        let manifests: Vec<&Manifest> = plan.nodes.iter().map(|n| &n.manifest).collect();
        let masker = Arc::new(deploy::masker(&self.state, &manifests)?);
        let mode = if self.settings.verbose {
            Mode::Text
        } else {
            Mode::Quiet
        };
        Ok(self
            .printer
            .deploy_progress(mode, masker, plan.nodes.len(), !self.settings.verbose))
    }

    /// How a cluster step applies: waiting for every object, pruning nothing.
    fn exec(&self) -> Exec {
        Exec {
            dry_run: self.settings.dry_run.is_on(),
            recreate: false,
            prune: false,
            timeout: self.settings.timeout,
            options: schedule::Options {
                parallel: usize::from(self.settings.parallel),
                timeout: self.settings.timeout,
                wait_all: true,
            },
        }
    }
}

/// The digest of what a cluster step applies: the namespace and every object as rendered
/// (with the digest of the configuration it reads).
fn inputs_of(namespace: &str, plan: &Plan) -> String {
    let objects: Vec<Value> = plan
        .nodes
        .iter()
        .map(|n| {
            json!([
                n.manifest.id.to_string(),
                digest_json(&n.manifest.body),
                n.manifest.config_digest
            ])
        })
        .collect();
    digest_json(&json!({"namespace": namespace, "objects": objects}))
}

/// The live objects of the plan's kinds in the deployment, by id.
async fn live_objects(ctx: &Context, plan: &Plan) -> anyhow::Result<HashMap<ObjectId, Value>> {
    let (_, resources) = crate::deploy::resolve(ctx, plan).await?;
    let mut types = Vec::new();
    for r in resources {
        if !types.contains(&r) {
            types.push(r);
        }
    }
    let live = ctx.list_live(&types).await?;
    Ok(live.into_iter().map(|(id, (_, obj))| (id, obj)).collect())
}

fn is_db_sync(m: &Manifest) -> bool {
    m.id.kind == "Pod" && m.id.name.ends_with(DB_SYNC) && is_one_shot(&m.id.kind, &m.body)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "127.0.0.1" || host == "[::1]"
}

/// Whether a TCP connection to `host:port` opens within two seconds.
fn answers(host: &str) -> bool {
    use std::net::ToSocketAddrs;
    let Ok(addrs) = host.to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

/// The pods' port a Service sends its first port to: `targetPort` as a number, or a
/// named port looked up in the selected workloads' containers, or `port` itself.
fn service_target_port(service: &Value, workloads: &[&Manifest]) -> Option<u16> {
    let port = service.pointer("/spec/ports/0")?;
    match port.get("targetPort") {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Some(Value::String(name)) => workloads.iter().find_map(|w| {
            let containers = w
                .body
                .pointer("/spec/template/spec/containers")?
                .as_array()?;
            containers.iter().find_map(|c| {
                c.get("ports")?.as_array()?.iter().find_map(|p| {
                    (p.get("name")?.as_str()? == name).then(|| {
                        p.get("containerPort")?
                            .as_u64()
                            .and_then(|n| u16::try_from(n).ok())
                    })?
                })
            })
        }),
        _ => port
            .get("port")?
            .as_u64()
            .and_then(|n| u16::try_from(n).ok()),
    }
}
