//! `kube-openstack clean-jobs`: delete finished one-shot pods of the deployment (the
//! optional cleanup step of the 2014 scripts). Failed ones are kept for their logs unless
//! `--all`.

use super::deploy::connect;
use crate::cli::CleanJobsArgs;
use crate::deploy::manifest::ObjectId;
use crate::deploy::progress::{Mode, Progress};
use crate::deploy::{discovery, prune};
use crate::printer::Printer;
use crate::secrets::Masker;
use crate::settings::Project;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub fn run(project: &Project, printer: &Printer, args: &CleanJobsArgs) -> anyhow::Result<u8> {
    let namespace = project.namespace(&args.cluster.namespace);
    let mode = Mode::text_unless(printer.is_quiet());
    let progress = Progress::new(mode, Arc::new(Masker::none()), 0, true);
    crate::rt::block_on(async {
        let ctx = connect(&args.cluster, namespace.clone()).await?;
        let live = ctx.list_pods().await?;
        let mut finished: Vec<(ObjectId, discovery::Resource)> = live
            .iter()
            .filter(|(_, (_, pod))| {
                let one_shot = pod
                    .pointer("/spec/restartPolicy")
                    .and_then(Value::as_str)
                    .unwrap_or("Always")
                    != "Always";
                let phase = pod
                    .pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                one_shot && (phase == "Succeeded" || args.all && phase == "Failed")
            })
            .map(|(id, (res, _))| (id.clone(), res.clone()))
            .collect();
        prune::sort_for_deletion(&mut finished);
        let deleted = prune::delete_all(
            &ctx,
            &finished,
            args.dry_run,
            Duration::from_secs(120),
            &progress,
        )
        .await;
        for d in &deleted {
            printer.data(&format!("{}\n", d.object));
        }
        crate::deploy::prune::check_deleted(&deleted, "pods")?;
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        printer.status(
            "Cleaned",
            format!(
                "{verb} {} finished one-shot pods in `{namespace}`",
                deleted.len()
            ),
        );
        Ok(0)
    })
}
