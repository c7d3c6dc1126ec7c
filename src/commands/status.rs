//! `kube-openstack status`: every object of the deployment, whether it is ready, its age
//! and what it waits on. Exit 0 only when everything is ready, 1 otherwise.

use super::deploy::{align, connect, read_tree};
use crate::cli::{EventFormat, StatusArgs};
use crate::deploy::manifest::ObjectId;
use crate::deploy::plan::Plan;
use crate::deploy::ready::{Readiness, readiness};
use crate::errors::EXIT_DIFFERENCES;
use crate::printer::Printer;
use crate::settings::Project;
use anyhow::Context as _;
use serde_json::{Value, json};

pub fn run(project: &Project, printer: &Printer, args: &StatusArgs) -> anyhow::Result<u8> {
    let (dir, manifests) = read_tree(project, &args.cluster)?;
    let plan = Plan::build(manifests)
        .with_context(|| format!("invalid dependencies in `{}`", dir.display()))?;
    let namespace = project.namespace(&args.cluster.namespace);
    let live = crate::rt::block_on(async {
        let ctx = connect(&args.cluster, namespace.clone()).await?;
        let (discovered, resources) = crate::deploy::resolve(&ctx, &plan).await?;
        let types = crate::deploy::deployment_types(&discovered, &resources);
        Ok::<_, anyhow::Error>(ctx.list_live(&types).await?)
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let state_of = |id: &ObjectId| live.get(id).map(|(_, obj)| readiness(&id.kind, obj));
    let mut rows = Vec::new();
    let mut all_ready = true;
    for node in &plan.nodes {
        let id = &node.manifest.id;
        let (ready, detail) = match state_of(id) {
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
        };
        all_ready &= ready == "yes";
        let age = live
            .get(id)
            .and_then(|(_, o)| age(o, now))
            .unwrap_or_else(|| "-".into());
        rows.push(json!({"object": id.to_string(), "ready": ready, "age": age, "detail": detail}));
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
        rows.push(json!({"object": id.to_string(), "ready": "-", "age": "-", "detail": "not in the tree (`deploy --prune` deletes it)"}));
    }
    match args.output {
        EventFormat::Json => printer.data(&format!(
            "{}\n",
            serde_json::to_string_pretty(&rows).expect("serializable")
        )),
        EventFormat::Text => {
            let mut table = String::from("OBJECT\tREADY\tAGE\tWAITING ON\n");
            for r in &rows {
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                table.push_str(&format!(
                    "{}\t{}\t{}\t{}\n",
                    s("object"),
                    s("ready"),
                    s("age"),
                    s("detail")
                ));
            }
            printer.data(&align(&table));
        }
    }
    let ready = rows.iter().filter(|r| r["ready"] == "yes").count();
    printer.status(
        "Status",
        format!(
            "{ready} of {} objects ready in namespace `{namespace}`",
            plan.nodes.len()
        ),
    );
    Ok(if all_ready { 0 } else { EXIT_DIFFERENCES })
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
