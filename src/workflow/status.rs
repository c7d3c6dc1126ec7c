//! Every object of the deployment: whether it is ready, its age, what it waits on; and
//! the live objects no longer in the tree.

use super::deploy::{connect, plan};
use crate::deploy::doomed::{self, Trouble};
use crate::deploy::manifest::ObjectId;
use crate::deploy::order::is_long_running;
use crate::deploy::plan::{Node, Plan};
use crate::deploy::ready::{Readiness, readiness};
use crate::settings::ClusterSettings;
use serde_json::Value;

/// One object's line.
#[derive(Debug, serde::Serialize)]
pub struct Row {
    pub object: String,
    /// `yes`, `no`, `failed`, `missing`, or `-` for an object not in the tree.
    pub ready: &'static str,
    pub age: String,
    pub detail: String,
    /// For a workload not ready: Kubernetes' reason one of its pods gives
    /// (`ImagePullBackOff`, `CrashLoopBackOff`, `Unschedulable`, ...) and that pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
}

pub struct Status {
    /// The tree's objects in plan order, then the live ones no longer in the tree.
    pub rows: Vec<Row>,
    /// Objects in the tree.
    pub objects: usize,
}

impl Status {
    pub fn ready(&self) -> usize {
        self.rows.iter().filter(|r| r.ready == "yes").count()
    }

    pub fn all_ready(&self) -> bool {
        self.ready() == self.objects
    }
}

pub fn status(cluster: &ClusterSettings) -> anyhow::Result<Status> {
    let plan = plan(cluster)?;
    let (live, pods) = crate::rt::block_on(async {
        let ctx = connect(cluster).await?;
        let (discovered, resources) = crate::deploy::resolve(&ctx, &plan).await?;
        let types = crate::deploy::deployment_types(&discovered, &resources);
        let live = ctx.list_live(&types).await?;
        let workloads = live.keys().any(|id| is_long_running(&id.kind));
        let pods = match workloads {
            true => ctx.namespace_pods().await?,
            false => Vec::new(),
        };
        Ok::<_, anyhow::Error>((live, pods))
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let state_of = |id: &ObjectId| live.get(id).map(|(_, obj)| readiness(&id.kind, obj));
    let mut rows = Vec::new();
    for node in &plan.nodes {
        let id = &node.manifest.id;
        // A workload not ready says what its pods say; a pod that will never start fails it.
        let trouble = match (state_of(id), live.get(id)) {
            (Some(Readiness::Pending(_)), Some((_, obj))) if is_long_running(&id.kind) => {
                doomed::trouble(obj, &pods)
            }
            _ => None,
        };
        let (ready, detail) = match (state_of(id), &trouble) {
            (_, Some(t)) if t.fatal => ("failed", trouble_detail(t)),
            (Some(Readiness::Pending(why)), Some(t)) => {
                ("no", format!("{why}; {}", trouble_detail(t)))
            }
            (state, _) => row_state(state, node, &plan, &state_of),
        };
        let age = live
            .get(id)
            .and_then(|(_, o)| age(o, now))
            .unwrap_or_else(|| "-".into());
        rows.push(Row {
            object: id.to_string(),
            ready,
            age,
            detail,
            reason: trouble.as_ref().map(|t| t.reason.clone()),
            pod: trouble.map(|t| t.pod),
        });
    }
    let mut extra: Vec<&ObjectId> = live
        .iter()
        .filter(|(id, (_, o))| {
            !plan.index.contains_key(id) && o.pointer("/metadata/ownerReferences").is_none()
        })
        .map(|(id, _)| id)
        .collect();
    extra.sort();
    for id in extra {
        rows.push(Row {
            object: id.to_string(),
            ready: "-",
            age: "-".into(),
            detail: "not in the tree (`deploy --prune` deletes it)".into(),
            reason: None,
            pod: None,
        });
    }
    Ok(Status {
        rows,
        objects: plan.nodes.len(),
    })
}

/// An object's readiness as a row: `yes`, `no` with what it waits on, `failed` with why.
fn row_state(
    state: Option<Readiness>,
    node: &Node,
    plan: &Plan,
    state_of: &dyn Fn(&ObjectId) -> Option<Readiness>,
) -> (&'static str, String) {
    match state {
        None => ("missing", "not deployed".to_string()),
        Some(Readiness::Ready) => ("yes", String::new()),
        Some(Readiness::Failed(why)) => ("failed", why),
        Some(Readiness::Pending(why)) => {
            let waits_on: Vec<String> = node
                .deps
                .iter()
                .map(|e| &plan.nodes[e.on].manifest.id)
                .filter(|d| state_of(d) != Some(Readiness::Ready))
                .map(ToString::to_string)
                .collect();
            let detail = if waits_on.is_empty() {
                why
            } else {
                format!("{why}; waits on {}", waits_on.join(", "))
            };
            ("no", detail)
        }
    }
}

/// `pod `NAME`: WHY`, naming Kubernetes' reason when the message does not.
fn trouble_detail(t: &Trouble) -> String {
    if t.message.contains(&t.reason) {
        format!("pod `{}`: {}", t.pod, t.message)
    } else {
        format!("pod `{}` {}: {}", t.pod, t.reason, t.message)
    }
}

/// `5m`, `3h`, `2d` since `metadata.creationTimestamp`.
fn age(obj: &Value, now: i64) -> Option<String> {
    let ts = obj.pointer("/metadata/creationTimestamp")?.as_str()?;
    let secs = (now - parse_rfc3339(ts)?).max(0);
    Some(match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    })
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ` (the API server's format).
fn parse_rfc3339(ts: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, m, d, hh, mm, ss) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_servers_timestamps() {
        assert_eq!(super::parse_rfc3339("1970-01-02T00:00:01Z"), Some(86401));
        assert_eq!(
            super::parse_rfc3339("2026-11-21T01:35:33Z"),
            Some(1_795_224_933)
        );
    }
}
