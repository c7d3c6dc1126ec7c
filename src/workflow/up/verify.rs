//! The last step: the deployed cloud checks itself (`kube-openstack verify`). It is not
//! redone while nothing the deploy and db-sync steps left has changed since it passed;
//! `--only verify` and `--force` run it regardless. A tree without the client pod has
//! nothing to check from: the step says so and passes.

use super::{Outcome, Run};
use crate::up::record::StepRecord;
use crate::up::{Step, digest_json};
use crate::verify::CLIENT_POD;
use crate::workflow::verify::{Format, verify};
use serde_json::json;
use std::time::Duration;

/// How long the checks may take when `--timeout` does not say.
const TIMEOUT: Duration = Duration::from_secs(600);

impl Run<'_> {
    pub(super) fn verify_step(&mut self) -> anyhow::Result<Outcome> {
        if self.settings.dry_run.is_on() {
            return Ok(Outcome::Would(
                "run the checks of `kube-openstack verify` in the cluster".into(),
            ));
        }
        let has_client = self
            .manifests()?
            .iter()
            .any(|m| m.id.kind == "Pod" && m.id.name == CLIENT_POD);
        if !has_client {
            return Ok(Outcome::UpToDate(format!(
                "the tree has no pod `{CLIENT_POD}` to check the cloud from"
            )));
        }
        let inputs = self.verify_inputs();
        let alone = self.settings.selection.only == Some(Step::Verify);
        if let Some(last) = self.record.steps.get(&Step::Verify)
            && self.may_skip()
            && !alone
            && inputs.as_ref().is_some_and(|i| *i == last.inputs)
        {
            return Ok(Outcome::UpToDate(format!(
                "{}; nothing deployed changed since",
                last.detail
            )));
        }
        let timeout = self.settings.timeout.unwrap_or(TIMEOUT);
        let checks = verify(&self.settings.cluster, self.printer, Format::Notes, timeout)?;
        let detail = format!("{} checks passed", checks.len());
        self.complete(
            Step::Verify,
            inputs.unwrap_or_default(),
            &detail,
            StepRecord::default(),
        )?;
        Ok(Outcome::Done(detail))
    }

    /// What the checks ran against: the deploy step's record (its inputs and every object
    /// as it was left, rerun db-sync pods included). `None` when nothing was recorded.
    fn verify_inputs(&self) -> Option<String> {
        let deploy = self.record.steps.get(&Step::Deploy)?;
        Some(digest_json(&json!({
            "namespace": self.settings.cluster.namespace,
            "inputs": deploy.inputs,
            "objects": deploy.objects,
        })))
    }
}
