//! The Heat stack made from the project's Heat template (`heat/heat-setup.yaml`), named
//! by `--stack` or `stack:` in the config: create, show, delete.

use super::openstack::{self, with_wait};
use super::params::text;
use crate::openstack::heat::{Phase, not_ready};
use crate::openstack::{HeatClient, OpenStackError, Stack, StackRef};
use crate::params::local::LocalTemplate;
use crate::printer::Printer;
use crate::secrets::{self, Masker};
use crate::settings::{ParamsSettings, WaitSettings};
use anyhow::{Context as _, bail};
use std::collections::BTreeMap;
use std::path::Path;

fn stack_name(s: &ParamsSettings) -> anyhow::Result<String> {
    match &s.request.stack {
        Some(name) => Ok(name.clone()),
        None => bail!("no stack name: pass `--stack NAME` or set `stack:` in kube-openstack.yaml"),
    }
}

/// Creates the stack from the Heat template with the stack parameters; waits until it
/// settles when the settings say so.
pub fn create(s: &ParamsSettings, printer: &Printer) -> anyhow::Result<()> {
    let name = stack_name(s)?;
    let req = &s.request;
    let path = &req.heat_template;
    let template = crate::files::read_to_string(path)
        .with_context(|| format!("cannot read the Heat template `{}`", path.display()))?;
    let files = get_files(&template, path)?;
    with_wait(printer, &name, &s.wait, |w| {
        crate::rt::block_on(async {
            let (_, heat, _) = openstack::connect(&s.openstack, printer).await?;
            let stack = heat
                .create(&name, &template, &req.stack_parameters, &files, None)
                .await?;
            printer.status("Creating", format!("stack `{name}` ({})", stack.id));
            if !s.wait.wait {
                return Ok(());
            }
            let done = heat.wait(&stack, w).await?;
            finished(&heat, &stack, &done).await?;
            printer.status("Created", format!("stack `{name}`: {}", done.stack_status));
            Ok::<(), OpenStackError>(())
        })
    })
    .with_context(|| format!("cannot create stack `{name}` from `{}`", path.display()))
}

/// Creates the stack (waiting until it settles) when it does not exist; `Ok(true)` when
/// it was created.
pub fn create_if_missing(s: &ParamsSettings, printer: &Printer) -> anyhow::Result<bool> {
    let name = stack_name(s)?;
    let exists = crate::rt::block_on(async {
        let (_, heat, _) = openstack::connect(&s.openstack, printer).await?;
        match heat.find(&name).await {
            Ok(_) => Ok(true),
            Err(OpenStackError::StackNotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    })
    .with_context(|| format!("cannot look for stack `{name}`"))?;
    if exists {
        return Ok(false);
    }
    let waiting = ParamsSettings {
        wait: WaitSettings::until_settled(),
        ..s.clone()
    };
    create(&waiting, printer)?;
    Ok(true)
}

/// A stack that ended in `*_FAILED` is an error listing the failed resources.
async fn finished(heat: &HeatClient, stack: &StackRef, done: &Stack) -> Result<(), OpenStackError> {
    match done.phase() {
        Phase::Complete => Ok(()),
        _ => Err(not_ready(done, heat.failed_resources(stack).await)),
    }
}

/// What `stack show` prints: the stack's status, reason and outputs, secrets masked unless
/// asked.
#[derive(Debug, serde::Serialize)]
pub struct StackView {
    pub name: String,
    pub id: String,
    pub status: String,
    pub reason: String,
    /// By key; an output Heat could not compute holds `(error: ...)`.
    pub outputs: std::collections::BTreeMap<String, String>,
}

impl StackView {
    pub fn text(&self) -> String {
        let mut out = format!(
            "stack:   {} ({})\nstatus:  {}\nreason:  {}\noutputs:\n",
            self.name, self.id, self.status, self.reason
        );
        let width = self.outputs.keys().map(String::len).max().unwrap_or(0);
        for (key, value) in &self.outputs {
            out.push_str(&format!("  {key:width$}  {value}\n"));
        }
        out
    }
}

/// The stack's status, reason and outputs (secrets masked unless `show_secrets`).
pub fn show(
    s: &ParamsSettings,
    printer: &Printer,
    show_secrets: bool,
) -> anyhow::Result<StackView> {
    let name = stack_name(s)?;
    let stack = crate::rt::block_on(async {
        let (_, heat, _) = openstack::connect(&s.openstack, printer).await?;
        let r = heat.find(&name).await?;
        heat.show(&r, true).await
    })
    .with_context(|| format!("cannot show stack `{name}`"))?;
    let template = crate::files::read_to_string(&s.request.heat_template)
        .ok()
        .and_then(|t| LocalTemplate::parse(&t, "template").ok());
    let secret = |key: &str, description: Option<&str>| {
        secrets::is_secret(key, description)
            || template
                .as_ref()
                .is_some_and(|t| t.random_resources_behind(key).is_ok_and(|r| !r.is_empty()))
    };
    let values: Vec<String> = stack
        .outputs
        .iter()
        .filter(|o| secret(&o.output_key, o.description.as_deref()))
        .map(|o| text(&o.output_value))
        .collect();
    let masker = Masker::build(&s.state, values, show_secrets)?;
    let outputs = stack
        .outputs
        .iter()
        .map(|o| {
            let value = match &o.output_error {
                Some(e) => format!("(error: {e})"),
                None if secret(&o.output_key, o.description.as_deref()) => {
                    masker.mask(&text(&o.output_value))
                }
                None => text(&o.output_value),
            };
            (o.output_key.clone(), value)
        })
        .collect();
    Ok(StackView {
        name: stack.stack_name.clone(),
        id: stack.id.clone(),
        status: stack.stack_status.clone(),
        reason: stack.reason().to_string(),
        outputs,
    })
}

pub fn delete(s: &ParamsSettings, printer: &Printer) -> anyhow::Result<()> {
    let name = stack_name(s)?;
    with_wait(printer, &name, &s.wait, |w| {
        crate::rt::block_on(async {
            let (_, heat, _) = openstack::connect(&s.openstack, printer).await?;
            let stack = heat.find(&name).await?;
            heat.delete(&stack).await?;
            printer.status("Deleting", format!("stack `{name}` ({})", stack.id));
            if !s.wait.wait {
                return Ok(());
            }
            // Shown by id, a deleted stack is DELETE_COMPLETE; it may also vanish.
            match heat.wait(&stack, w).await {
                Ok(done) => finished(&heat, &stack, &done).await?,
                Err(OpenStackError::StackNotFound(_)) => {}
                Err(e) => return Err(e),
            }
            printer.status("Deleted", format!("stack `{name}`"));
            Ok::<(), OpenStackError>(())
        })
    })
    .with_context(|| format!("cannot delete stack `{name}`"))
}

/// The files a template names with `get_file`, read relative to the template, keyed as
/// written (Heat looks them up by that key).
fn get_files(template: &str, path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let doc: serde_yaml::Value = crate::yaml::from_str(template)
        .with_context(|| format!("`{}` is not valid YAML", path.display()))?;
    let mut names = Vec::new();
    collect_get_file(&doc, &mut names);
    let base = path.parent().unwrap_or(Path::new("."));
    let mut files = BTreeMap::new();
    for name in names {
        let file = base.join(name.trim_start_matches("file://"));
        let text = crate::files::read_to_string(&file).with_context(|| {
            format!(
                "cannot read `{}`, named by `get_file` in `{}`",
                file.display(),
                path.display()
            )
        })?;
        files.insert(name, text);
    }
    Ok(files)
}

fn collect_get_file(v: &serde_yaml::Value, out: &mut Vec<String>) {
    match v {
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                match (k.as_str(), v.as_str()) {
                    (Some("get_file"), Some(name)) => out.push(name.to_string()),
                    _ => collect_get_file(v, out),
                }
            }
        }
        serde_yaml::Value::Sequence(s) => s.iter().for_each(|v| collect_get_file(v, out)),
        _ => {}
    }
}
