//! The steps that run on this machine: parameters, render, images.

use super::{Outcome, Run};
use crate::images::lock::DigestLock;
use crate::images::schedule::Mode;
use crate::params::{self, SourceKind};
use crate::render::RenderedFile;
use crate::settings::TreeSettings;
use crate::up::record::StepRecord;
use crate::up::{Step, digest_json};
use crate::workflow;
use anyhow::Context as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;

impl Run<'_> {
    pub(super) fn params_step(&mut self) -> anyhow::Result<Outcome> {
        let req = &self.settings.tree.params.request;
        let mut created = false;
        if req.source == SourceKind::Heat {
            let stack = req.stack.clone().ok_or(params::ParamsError::NoStack)?;
            let saved = params::heat::saved(&self.state, &stack)?.is_some();
            if self.settings.dry_run.is_on() && !saved {
                return Ok(Outcome::Would(format!(
                    "read the outputs of stack `{stack}`"
                )));
            }
            if self.settings.create_stack && !saved {
                created =
                    workflow::stack::create_if_missing(&self.settings.tree.params, self.printer)?;
            }
        }
        let set = self.read_params()?;
        let digests: BTreeMap<String, String> = set
            .values
            .iter()
            .map(|(k, p)| (k.clone(), digest_json(&p.value)))
            .collect();
        let inputs = digest_json(&json!(digests));
        let count = set.values.len();
        self.params = Some(set);
        if self.may_skip() && self.record.matching(Step::Params, &inputs).is_some() {
            return Ok(Outcome::UpToDate(format!("{count} parameters, unchanged")));
        }
        let before = self
            .record
            .steps
            .get(&Step::Params)
            .map(|r| r.digests.clone());
        let detail = match &before {
            None => format!("{count} parameters (first run)"),
            Some(before) => {
                let mut changed: Vec<&str> = digests
                    .iter()
                    .filter(|(k, d)| before.get(*k) != Some(d))
                    .map(|(k, _)| k.as_str())
                    .chain(
                        before
                            .keys()
                            .filter(|k| !digests.contains_key(*k))
                            .map(String::as_str),
                    )
                    .collect();
                changed.sort();
                format!("{count} parameters; changed: {}", changed.join(", "))
            }
        };
        let detail = if created {
            format!("stack created; {detail}")
        } else {
            detail
        };
        if self.settings.dry_run.is_on() {
            return Ok(Outcome::Would(detail));
        }
        self.complete(
            Step::Params,
            inputs,
            &detail,
            StepRecord {
                digests,
                ..StepRecord::default()
            },
        )?;
        Ok(Outcome::Done(detail))
    }

    pub(super) fn render_step(&mut self) -> anyhow::Result<Outcome> {
        let params = self.loaded_params()?;
        let pin = self.pinning()?;
        let files = self.render_files(&params, pin)?;
        let out_dir = self.out_dir();
        let old = crate::render::output::read_tree(&out_dir)
            .with_context(|| format!("cannot read `{}`", out_dir.display()))?;
        let diff = crate::diff::compare(&files, &old, &crate::secrets::Masker::none());
        let inputs = tree_digest(&files);
        let count = files.len();
        self.rendered = Some(files);
        if diff.is_empty() {
            if !self.settings.dry_run.is_on() {
                self.complete(Step::Render, inputs, "unchanged", StepRecord::default())?;
            }
            return Ok(Outcome::UpToDate(format!(
                "{count} files in `{}`, unchanged (not written)",
                out_dir.display()
            )));
        }
        let (added, changed, removed) = diff.object_counts();
        let detail = format!(
            "{} of {count} files in `{}` ({added} objects added, {changed} changed, {removed} removed)",
            diff.files.len(),
            out_dir.display()
        );
        if self.settings.dry_run.is_on() {
            return Ok(Outcome::Would(format!("write {detail}")));
        }
        self.write_tree()?;
        self.complete(Step::Render, inputs, &detail, StepRecord::default())?;
        Ok(Outcome::Done(format!("wrote {detail}")))
    }

    pub(super) fn images_step(&mut self) -> anyhow::Result<Outcome> {
        let images = &self.settings.images;
        let naming = &images.naming;
        let contexts = workflow::images::inputs(images)?;
        let inputs = digest_json(&json!({
            "registry": naming.registry, "prefix": naming.prefix, "tag": naming.tag,
            "contexts": contexts,
        }));
        let state_dir = self.state.path().to_path_buf();
        let lock = DigestLock::load(&state_dir)?;
        let stale: Vec<&str> = contexts
            .iter()
            .filter(|(name, hash)| {
                lock.images
                    .get(name)
                    .is_none_or(|l| &l.content_hash != hash)
            })
            .map(|(name, _)| name.as_str())
            .collect();
        let recorded = self.record.matching(Step::Images, &inputs).is_some();
        if self.may_skip() && recorded && stale.is_empty() {
            let pinned = self.pin_again()?;
            return Ok(Outcome::UpToDate(format!(
                "{} images, unchanged since their push{pinned}",
                contexts.len()
            )));
        }
        if self.settings.dry_run.is_on() {
            return Ok(Outcome::Would(format!(
                "build and push what the registry lacks of {} images (changed since the last push: {})",
                contexts.len(),
                if stale.is_empty() {
                    "none".into()
                } else {
                    stale.join(", ")
                }
            )));
        }
        // Reach the registry, through a port-forward when only the cluster reaches it.
        let (push_to, forward) = self.reach_registry(&naming.registry)?;
        let images = images.clone().pushing_to(push_to);
        let before = lock.images.clone();
        workflow::images::publish(&images, self.printer, Mode::BuildAndPush, &[])?;
        drop(forward);
        let after = DigestLock::load(&state_dir)?;
        let pushed: Vec<&str> = after
            .images
            .iter()
            .filter(|(name, l)| before.get(*name).is_none_or(|b| b.digest != l.digest))
            .map(|(name, _)| name.as_str())
            .collect();
        let pinned = self.pin_again()?;
        let detail = format!(
            "{} images; new digests: {}{pinned}",
            contexts.len(),
            if pushed.is_empty() {
                "none".into()
            } else {
                pushed.join(", ")
            }
        );
        self.complete(Step::Images, inputs, &detail, StepRecord::default())?;
        Ok(Outcome::Done(detail))
    }

    /// The parameters, loaded by the params step or now (when it was not selected).
    fn loaded_params(&mut self) -> anyhow::Result<params::ParamSet> {
        if self.params.is_none() {
            self.params = Some(self.read_params()?);
        }
        Ok(self.params.clone().expect("loaded above"))
    }

    /// Reads the parameters as `params` does; in a dry run, values generated now are not
    /// kept.
    fn read_params(&self) -> anyhow::Result<params::ParamSet> {
        let params = &self.settings.tree.params;
        if self.settings.dry_run.is_on() {
            workflow::params::load_keeping_nothing(params, self.printer)
        } else {
            workflow::params::load(params, self.printer)
        }
    }

    /// Whether to pin image digests: asked for, and every image has one recorded (on a
    /// first run the images step pins once they are pushed).
    fn pinning(&self) -> anyhow::Result<bool> {
        if !self.settings.tree.pin_images {
            return Ok(false);
        }
        let contexts = workflow::images::inputs(&self.settings.images)?;
        let lock = DigestLock::load(self.state.path())?;
        Ok(contexts
            .iter()
            .all(|(name, _)| lock.images.contains_key(name)))
    }

    /// After a push, renders again with the digests pinned, writing only what changed.
    fn pin_again(&mut self) -> anyhow::Result<String> {
        if !self.settings.tree.pin_images || self.settings.dry_run.is_on() {
            return Ok(String::new());
        }
        let params = self.loaded_params()?;
        let files = self.render_files(&params, true)?;
        let out_dir = self.out_dir();
        let old = crate::render::output::read_tree(&out_dir)?;
        if crate::diff::compare(&files, &old, &crate::secrets::Masker::none()).is_empty() {
            return Ok(String::new());
        }
        self.rendered = Some(files);
        self.write_tree()?;
        // The rendered tree changed: the render step's record follows it.
        if let Some(files) = &self.rendered {
            let inputs = tree_digest(files);
            if let Some(r) = self.record.steps.get_mut(&Step::Render) {
                r.inputs = inputs;
            }
        }
        Ok(format!("; digests pinned into `{}`", out_dir.display()))
    }

    fn render_files(
        &self,
        params: &params::ParamSet,
        pin: bool,
    ) -> anyhow::Result<Vec<RenderedFile>> {
        let tree = TreeSettings {
            pin_images: pin,
            ..self.settings.tree.clone()
        };
        let (files, _) = workflow::render::in_memory(&tree, self.printer, params)?;
        Ok(files)
    }

    /// Writes this run's render (atomically, as `render` does).
    fn write_tree(&mut self) -> anyhow::Result<()> {
        let files = self.rendered.as_ref().expect("rendered before writing");
        let secrets = self
            .params
            .as_ref()
            .map(|p| p.secret_values())
            .unwrap_or_default();
        workflow::render::write(
            &self.settings.tree,
            self.printer,
            files,
            &secrets,
            &self.out_dir(),
        )
    }

    pub(super) fn out_dir(&self) -> std::path::PathBuf {
        self.settings.cluster.manifests.clone()
    }
}

/// A digest of a rendered tree: every file's path and content.
fn tree_digest(files: &[RenderedFile]) -> String {
    let map: BTreeMap<String, Value> = files
        .iter()
        .map(|f| {
            (
                f.path.display().to_string(),
                json!(crate::up::digest_bytes(&f.content)),
            )
        })
        .collect();
    digest_json(&json!(map))
}
