//! Rolling a workload's pods onto its current template where its controller does not:
//!
//! - A ReplicationController: the real controller never replaces a pod because the
//!   template changed (it only adds or removes pods to match `replicas`), so deploy does
//!   it as a Deployment's controller would: it surges the controller by `max-surge` pods
//!   (made from the new template), deletes old pods only while at least
//!   `replicas - max-unavailable` pods stay ready, and scales back once no old pod is left.
//! - A DaemonSet with the `OnDelete` update strategy: its controller makes a pod of the
//!   new template only where an old one was deleted, so deploy deletes old pods while at
//!   most `max-unavailable` (default 1) of the pods the DaemonSet should run are not
//!   ready. It cannot surge: a node runs one pod of a DaemonSet.
//!
//! Each pod carries the hash of the template it was made from ([`TEMPLATE_HASH`]), so
//! readiness counts only current pods and a run that was interrupted picks up from what
//! the cluster holds.

use super::apply::Target;
use super::discovery::Resource;
use super::doomed;
use super::manifest::ObjectId;
use super::ops;
use super::progress::Progress;
use super::ready::Readiness;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Annotation of a pod template (and so of its pods): the hash of that template.
pub const TEMPLATE_HASH: &str = "kube-openstack/template-hash";
/// Annotation of a ReplicationController: how many pods above `replicas` a rollout may
/// make (default 1).
pub const MAX_SURGE: &str = "kube-openstack/max-surge";
/// Annotation of a ReplicationController or DaemonSet: how many of its pods may be not
/// ready during a rollout (default 0 for a ReplicationController, 1 for a DaemonSet).
pub const MAX_UNAVAILABLE: &str = "kube-openstack/max-unavailable";

/// Whether deploy rolls the pods of this workload (its desired body): every
/// ReplicationController, and a DaemonSet whose controller waits for its pods to be
/// deleted (`OnDelete`); the other controllers roll their pods themselves.
pub fn rolls(kind: &str, body: &Value) -> bool {
    match kind {
        "ReplicationController" => true,
        "DaemonSet" => {
            body.pointer("/spec/updateStrategy/type")
                .and_then(Value::as_str)
                == Some("OnDelete")
        }
        _ => false,
    }
}

/// Puts the hash of the pod template into the template's own annotations.
pub fn stamp_template(body: &mut Value) {
    let Some(template) = body.pointer_mut("/spec/template") else {
        return;
    };
    // The hash of the template as rendered: a stamp already there is not part of it.
    let mut rendered = template.clone();
    if let Some(meta) = rendered.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove(TEMPLATE_HASH);
            if a.is_empty() {
                meta.remove("annotations");
            }
        }
        if meta.is_empty() {
            rendered.as_object_mut().map(|t| t.remove("metadata"));
        }
    }
    let digest = Sha256::digest(rendered.to_string().as_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if !template.get("metadata").is_some_and(Value::is_object) {
        template["metadata"] = json!({});
    }
    let meta = &mut template["metadata"];
    if !meta.get("annotations").is_some_and(Value::is_object) {
        meta["annotations"] = json!({});
    }
    meta["annotations"][TEMPLATE_HASH] = json!(hash);
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")?.get(key)?.as_str()
}

/// How far a rollout may go above and below `replicas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub surge: i64,
    pub unavailable: i64,
}

impl Bounds {
    /// From the workload's annotations. For a ReplicationController both zero would never
    /// progress, so surge is then 1; a DaemonSet cannot surge, so at least one of its
    /// pods may be down.
    pub fn of(kind: &str, workload: &Value) -> Result<Bounds, String> {
        let read = |key: &str, default: i64| match annotation(workload, key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    format!("annotation `{key}` is `{v}`: a number of pods (0 or more) is expected")
                }),
        };
        if kind == "DaemonSet" {
            let unavailable = read(MAX_UNAVAILABLE, 1)?.max(1);
            return Ok(Bounds {
                surge: 0,
                unavailable,
            });
        }
        let unavailable = read(MAX_UNAVAILABLE, 0)?;
        let surge = read(MAX_SURGE, 1)?;
        let surge = if surge == 0 && unavailable == 0 {
            1
        } else {
            surge
        };
        Ok(Bounds { surge, unavailable })
    }
}

/// The controller's active pods, split by template.
#[derive(Debug, Default)]
pub struct Census {
    /// Pods of the current template: (name, ready).
    pub new: Vec<(String, bool)>,
    pub old: Vec<(String, bool)>,
}

impl Census {
    fn ready(pods: &[(String, bool)]) -> i64 {
        pods.iter().filter(|(_, r)| *r).count() as i64
    }
}

/// The next step of a rollout.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Every pod is of the current template and ready.
    Done,
    /// Set `replicas` to this.
    Scale(i64),
    /// Delete these old pods.
    Delete(Vec<String>),
    /// Nothing to do until pods change; what it waits for.
    Wait(String),
}

/// What to do now, from the controller's `replicas` and its pods (pure: unit-tested).
pub fn decide(want: i64, bounds: Bounds, replicas: i64, census: &Census) -> Action {
    let new_ready = Census::ready(&census.new);
    if census.old.is_empty() {
        if replicas != want {
            return Action::Scale(want);
        }
        if new_ready >= want && census.new.len() as i64 == want {
            return Action::Done;
        }
        return Action::Wait(format!(
            "{new_ready}/{want} pods of the current template ready"
        ));
    }
    if replicas != want + bounds.surge {
        return Action::Scale(want + bounds.surge);
    }
    // Old pods that are not ready cost nothing to replace; ready ones go only while
    // enough pods stay ready.
    let ready_total = new_ready + Census::ready(&census.old);
    let mut spare = ready_total - (want - bounds.unavailable);
    let mut doomed = Vec::new();
    for (name, ready) in &census.old {
        if !ready {
            doomed.push(name.clone());
        } else if spare > 0 {
            spare -= 1;
            doomed.push(name.clone());
        }
    }
    if doomed.is_empty() {
        Action::Wait(format!(
            "{new_ready}/{want} pods of the current template ready, {} old",
            census.old.len()
        ))
    } else {
        Action::Delete(doomed)
    }
}

/// The resource of pods (served by every cluster at `v1`).
pub fn pods_resource() -> Resource {
    Resource {
        api_version: "v1".into(),
        kind: "Pod".into(),
        plural: "pods".into(),
        namespaced: true,
    }
}

/// The active pods the object controls (by `ownerReferences`), found through its selector.
pub async fn owned_pods(t: &Target<'_>, owner: &Value) -> Result<Vec<Value>, String> {
    let uid = owner.pointer("/metadata/uid").and_then(Value::as_str);
    let selector = owner
        .pointer("/spec/selector/matchLabels")
        .or_else(|| owner.pointer("/spec/selector"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let pods = ops::list(t.kube, &pods_resource(), t.namespace, &selector)
        .await
        .map_err(|e| format!("cannot list its pods: {e}"))?;
    Ok(pods
        .into_iter()
        .filter(|p| {
            let controller = p
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|r| r["controller"] == true);
            controller.and_then(|r| r["uid"].as_str()) == uid && doomed::active(p)
        })
        .collect())
}

fn census(pods: &[Value], hash: &str) -> Census {
    let mut out = Census::default();
    for p in pods {
        let name = p["metadata"]["name"].as_str().unwrap_or("?").to_string();
        let entry = (name, doomed::pod_ready(p));
        if annotation(p, TEMPLATE_HASH) == Some(hash) {
            out.new.push(entry);
        } else {
            out.old.push(entry);
        }
    }
    out
}

/// How a rollout ended: readiness, a failed pod's log, and what to report when ready.
pub struct Rolled {
    pub readiness: Readiness,
    pub logs: Option<String>,
    pub note: String,
}

/// Rolls the workload `id` (whose desired body is `body`) onto its template and waits
/// until every pod is current and ready. `None`: nothing to roll and nobody waits.
pub async fn converge(
    t: &Target<'_>,
    id: &ObjectId,
    res: &Resource,
    body: &Value,
    must_wait: bool,
    timeout: Duration,
    progress: &dyn Progress,
) -> Option<Rolled> {
    let failed = |why: String| {
        Some(Rolled {
            readiness: Readiness::Failed(why),
            logs: None,
            note: String::new(),
        })
    };
    let bounds = match Bounds::of(&id.kind, body) {
        Ok(b) => b,
        Err(why) => return failed(why),
    };
    let hash = body
        .pointer(&format!(
            "/spec/template/metadata/annotations/{}",
            TEMPLATE_HASH.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut walk = Walk {
        t,
        id,
        res,
        body,
        progress,
        rolled: false,
        last: String::new(),
    };
    let start = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        match walk.step(bounds, &hash, must_wait).await {
            Step::Over(r) => return r,
            Step::Again(why) => walk.say(&why),
        }
        if start.elapsed() >= timeout {
            // A wait gives up pending only when its time is out.
            return Some(Rolled {
                readiness: Readiness::Pending(format!(
                    "timed out after {}s, still waiting: {}",
                    timeout.as_secs_f32(),
                    walk.last
                )),
                logs: None,
                note: String::new(),
            });
        }
        tokio::time::sleep(delay.min(timeout.saturating_sub(start.elapsed()))).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(1));
    }
}

/// How many current, ready pods the workload should have: a ReplicationController's
/// desired `replicas`; for a DaemonSet, the nodes its controller says should run one
/// (`Err`: the controller has not seen this generation yet).
fn wanted(kind: &str, body: &Value, live: &Value) -> Result<i64, String> {
    let int = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_i64);
    if kind != "DaemonSet" {
        return Ok(int(body, "/spec/replicas").unwrap_or(1));
    }
    let generation = int(live, "/metadata/generation").unwrap_or(0);
    if int(live, "/status/observedGeneration").unwrap_or(0) < generation {
        return Err(format!("generation {generation} not yet observed"));
    }
    Ok(int(live, "/status/desiredNumberScheduled").unwrap_or(0))
}

enum Step {
    Over(Option<Rolled>),
    Again(String),
}

/// One rollout in progress.
struct Walk<'a> {
    t: &'a Target<'a>,
    id: &'a ObjectId,
    res: &'a Resource,
    body: &'a Value,
    progress: &'a dyn Progress,
    /// Old pods were seen: the end is reported as a rollout.
    rolled: bool,
    last: String,
}

impl Walk<'_> {
    fn say(&mut self, why: &str) {
        if why != self.last {
            let verb = if self.rolled { "Rolling" } else { "Waiting" };
            self.progress.object(verb, &self.id.to_string(), why);
            self.last = why.to_string();
        }
    }

    async fn step(&mut self, bounds: Bounds, hash: &str, must_wait: bool) -> Step {
        let (t, res) = (self.t, self.res);
        let live = match ops::get(t.kube, res, t.namespace, &self.id.name).await {
            Ok(Some(live)) => live,
            Ok(None) => return Step::Again("not found".into()),
            Err(e) => return Step::Again(format!("cannot read it: {e}")),
        };
        let want = match wanted(&self.id.kind, self.body, &live) {
            Ok(n) => n,
            Err(why) => return Step::Again(why),
        };
        let pods = match owned_pods(t, &live).await {
            Ok(p) => p,
            Err(why) => return Step::Again(why),
        };
        if pods.is_empty() && want > 0 {
            // No pod to judge by (none made yet): the controller's own status decides.
            return match super::ready::readiness(&self.id.kind, &live) {
                Readiness::Ready => Step::Over(Some(Rolled {
                    readiness: Readiness::Ready,
                    logs: None,
                    note: String::new(),
                })),
                Readiness::Pending(_) if !must_wait => Step::Over(None),
                Readiness::Pending(why) | Readiness::Failed(why) => Step::Again(why),
            };
        }
        let current: Vec<&Value> = pods
            .iter()
            .filter(|p| annotation(p, TEMPLATE_HASH) == Some(hash))
            .collect();
        if let Some((pod, why)) = current.iter().find_map(|p| Some((*p, doomed::doomed(p)?))) {
            let name = pod["metadata"]["name"].as_str().unwrap_or("?");
            let logs = doomed::last_words(t, name).await;
            return Step::Over(Some(Rolled {
                readiness: Readiness::Failed(format!("pod `{name}`: {why}")),
                logs,
                note: String::new(),
            }));
        }
        let census = census(&pods, hash);
        self.rolled |= !census.old.is_empty();
        // A DaemonSet has no replicas to scale: as many pods as nodes that should run one.
        let replicas = match self.id.kind.as_str() {
            "DaemonSet" => want,
            _ => live
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1),
        };
        let action = decide(want, bounds, replicas, &census);
        self.act(action, want, must_wait, &census).await
    }

    /// Carries out what [`decide`] chose.
    async fn act(&mut self, action: Action, want: i64, must_wait: bool, census: &Census) -> Step {
        let t = self.t;
        match action {
            Action::Done => Step::Over(Some(Rolled {
                readiness: Readiness::Ready,
                logs: None,
                note: match self.rolled {
                    true => format!("rolled out {want}/{want}"),
                    false => String::new(),
                },
            })),
            Action::Wait(_) if !must_wait && !self.rolled => Step::Over(None),
            Action::Wait(why) => Step::Again(why),
            Action::Scale(n) => {
                let mut body = self.body.clone();
                body["spec"]["replicas"] = json!(n);
                match ops::apply(t.kube, self.res, t.namespace, &self.id.name, &body, false).await {
                    Ok(_) => Step::Again(format!("replicas {n}")),
                    Err(e) => Step::Again(format!("cannot set replicas to {n}: {e}")),
                }
            }
            Action::Delete(names) => {
                for name in &names {
                    let gone =
                        ops::delete(t.kube, &pods_resource(), t.namespace, name, false).await;
                    if let Err(e) = gone {
                        return Step::Again(format!("cannot delete old pod `{name}`: {e}"));
                    }
                }
                Step::Again(format!(
                    "{}/{want} pods of the current template ready, replacing {}",
                    Census::ready(&census.new),
                    names.join(", ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(spec: &[(&str, bool)]) -> Vec<(String, bool)> {
        spec.iter().map(|(n, r)| (n.to_string(), *r)).collect()
    }

    const ONE_UP: Bounds = Bounds {
        surge: 1,
        unavailable: 0,
    };

    #[test]
    fn a_rollout_surges_one_pod_and_deletes_an_old_one_only_once_the_new_one_is_ready() {
        let mut c = Census {
            new: vec![],
            old: pods(&[("a", true), ("b", true), ("c", true)]),
        };
        assert_eq!(decide(3, ONE_UP, 3, &c), Action::Scale(4));
        c.new = pods(&[("n1", false)]);
        assert!(matches!(decide(3, ONE_UP, 4, &c), Action::Wait(_)));
        c.new = pods(&[("n1", true)]);
        assert_eq!(decide(3, ONE_UP, 4, &c), Action::Delete(vec!["a".into()]));
        c.old = pods(&[("b", true), ("c", false)]);
        assert_eq!(
            decide(3, ONE_UP, 4, &c),
            Action::Delete(vec!["c".into()]),
            "an old pod that is not ready goes at once"
        );
        c.old.clear();
        c.new = pods(&[("n1", true), ("n2", true), ("n3", true), ("n4", true)]);
        assert_eq!(decide(3, ONE_UP, 4, &c), Action::Scale(3));
        c.new.pop();
        assert_eq!(decide(3, ONE_UP, 3, &c), Action::Done);
    }

    #[test]
    fn max_unavailable_lets_old_pods_go_before_new_ones_are_ready() {
        let b = Bounds {
            surge: 0,
            unavailable: 1,
        };
        let c = Census {
            new: vec![],
            old: pods(&[("a", true), ("b", true)]),
        };
        assert_eq!(decide(2, b, 2, &c), Action::Delete(vec!["a".into()]));
    }

    #[test]
    fn bounds_come_from_annotations_and_bad_ones_are_named() {
        let rc = |s: &str, u: &str| json!({"metadata": {"annotations": {MAX_SURGE: s, MAX_UNAVAILABLE: u}}});
        assert_eq!(Bounds::of("ReplicationController", &json!({})), Ok(ONE_UP));
        assert_eq!(
            Bounds::of("ReplicationController", &rc("0", "0")),
            Ok(ONE_UP),
            "no bound would never progress"
        );
        assert_eq!(
            Bounds::of("ReplicationController", &rc("2", "1")),
            Ok(Bounds {
                surge: 2,
                unavailable: 1
            })
        );
        let err = Bounds::of("ReplicationController", &rc("-1", "0")).unwrap_err();
        assert!(err.contains(MAX_SURGE) && err.contains("`-1`"), "{err}");
    }

    #[test]
    fn a_daemon_set_never_surges_and_lets_at_least_one_pod_go() {
        let ds =
            |u: &str| json!({"metadata": {"annotations": {MAX_UNAVAILABLE: u, MAX_SURGE: "3"}}});
        let one_down = Bounds {
            surge: 0,
            unavailable: 1,
        };
        assert_eq!(Bounds::of("DaemonSet", &json!({})), Ok(one_down));
        assert_eq!(
            Bounds::of("DaemonSet", &ds("0")),
            Ok(one_down),
            "with none down it would never progress"
        );
        assert_eq!(Bounds::of("DaemonSet", &ds("2")).map(|b| b.surge), Ok(0));
        // Three nodes, all old and ready: one goes, then the next once its replacement
        // is ready.
        let mut c = Census {
            new: vec![],
            old: pods(&[("a", true), ("b", true), ("c", true)]),
        };
        assert_eq!(decide(3, one_down, 3, &c), Action::Delete(vec!["a".into()]));
        c.old = pods(&[("b", true), ("c", true)]);
        c.new = pods(&[("n1", false)]);
        assert!(matches!(decide(3, one_down, 3, &c), Action::Wait(_)));
        c.new = pods(&[("n1", true)]);
        assert_eq!(decide(3, one_down, 3, &c), Action::Delete(vec!["b".into()]));
        c.old.clear();
        c.new = pods(&[("n1", true), ("n2", true), ("n3", true)]);
        assert_eq!(decide(3, one_down, 3, &c), Action::Done);
    }

    #[test]
    fn only_replication_controllers_and_on_delete_daemon_sets_are_rolled_by_deploy() {
        let ds = |t: &str| json!({"spec": {"updateStrategy": {"type": t}}});
        assert!(rolls("ReplicationController", &json!({})));
        assert!(rolls("DaemonSet", &ds("OnDelete")));
        assert!(!rolls("DaemonSet", &ds("RollingUpdate")));
        assert!(
            !rolls("DaemonSet", &json!({})),
            "RollingUpdate is the default"
        );
        assert!(!rolls("Deployment", &json!({})));
    }

    #[test]
    fn the_template_hash_changes_with_the_template_only_and_is_stable() {
        let mut a = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "x:1"}]}}}});
        stamp_template(&mut a);
        let first = a.clone();
        stamp_template(&mut a);
        assert_eq!(a, first, "stamping twice gives the same hash");
        let mut b = first.clone();
        b["spec"]["replicas"] = json!(5);
        stamp_template(&mut b);
        assert_eq!(
            b["spec"]["template"], first["spec"]["template"],
            "replicas are not the template"
        );
        b["spec"]["template"]["spec"]["containers"][0]["image"] = json!("x:2");
        stamp_template(&mut b);
        assert_ne!(b["spec"]["template"], first["spec"]["template"]);
    }
}
