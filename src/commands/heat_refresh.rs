//! Reading a Heat stack's outputs into the state directory: on first use of
//! `--source heat`, and on `params refresh` (which reports what changed, masked).

use super::cloud;
use crate::cli::{SourceArgs, WaitArgs};
use crate::params::heat::{self, Change, SavedStack};
use crate::params::local::LocalTemplate;
use crate::params::{ParamsError, Request};
use crate::printer::Printer;
use crate::secrets::Masker;
use crate::settings::Project;
use crate::state::StateDir;
use anyhow::Context as _;
use serde_json::Value as Json;

/// Reads the stack's outputs unless the state already holds them. The caller holds the
/// state lock.
pub(super) fn read_if_missing(
    project: &Project,
    printer: &Printer,
    source: &SourceArgs,
    wait: &WaitArgs,
    state: &StateDir,
) -> anyhow::Result<()> {
    let req = project.params_request(source);
    let stack = req.stack.clone().ok_or(ParamsError::NoStack)?;
    if heat::saved(state, &stack)?.is_some() {
        return Ok(());
    }
    let saved = read(project, printer, source, wait, &req, &stack)?;
    heat::save(state, &saved)?;
    printer.status(
        "Read",
        format!("{} outputs of stack `{stack}`", saved.outputs.len()),
    );
    Ok(())
}

/// `params refresh`: reads the outputs again, saves them, and prints each change.
pub(super) fn refresh(
    project: &Project,
    printer: &Printer,
    source: &SourceArgs,
    wait: &WaitArgs,
    show_secrets: bool,
) -> anyhow::Result<()> {
    let state = StateDir::new(project.state_dir(source));
    let req = project.params_request(source);
    if req.source != crate::params::SourceKind::Heat {
        anyhow::bail!(
            "`params refresh` reads a Heat stack again; the parameter source is not `heat` (pass `--source heat`)"
        );
    }
    let stack = req.stack.clone().ok_or(ParamsError::NoStack)?;
    let _lock = state.lock()?;
    let old = heat::saved(&state, &stack)?;
    let new = read(project, printer, source, wait, &req, &stack)?;
    let changes = heat::changes(old.as_ref(), &new);
    heat::save(&state, &new)?;
    let masker = Masker::build(&state, secrets(old.as_ref(), &new), show_secrets)?;
    let mut report = String::new();
    for c in &changes {
        report.push_str(&describe(c, &masker));
        report.push('\n');
    }
    printer.data(&report);
    printer.status(
        "Refreshed",
        format!(
            "stack `{stack}`: {} of {} outputs changed",
            changes.len(),
            new.outputs.len()
        ),
    );
    Ok(())
}

fn read(
    project: &Project,
    printer: &Printer,
    source: &SourceArgs,
    wait: &WaitArgs,
    req: &Request,
    stack: &str,
) -> anyhow::Result<SavedStack> {
    // The template the stack was made from tells which outputs are generated secrets;
    // without it, names and descriptions still do.
    let template = std::fs::read_to_string(&req.heat_template)
        .ok()
        .and_then(|text| {
            LocalTemplate::parse(&text, &req.heat_template.display().to_string()).ok()
        });
    cloud::with_wait(printer, stack, wait, |w| {
        crate::rt::block_on(async {
            let (session, heat_client, resolved) =
                cloud::connect(project, printer, &source.openstack).await?;
            let object_store = session
                .endpoint(
                    "object-store",
                    resolved.cloud.region.as_deref(),
                    resolved.cloud.interface,
                )
                .ok();
            let wait = wait.wait.then_some(w);
            heat::fetch(
                &heat_client,
                stack,
                template.as_ref(),
                object_store.as_deref(),
                wait,
            )
            .await
        })
    })
    .with_context(|| format!("cannot read the outputs of stack `{stack}`"))
}

fn secrets(old: Option<&SavedStack>, new: &SavedStack) -> Vec<String> {
    old.into_iter()
        .chain([new])
        .flat_map(|s| s.outputs.values())
        .filter(|o| o.secret)
        .map(|o| text(&o.value))
        .collect()
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn shown(v: &Json, secret: bool, masker: &Masker) -> String {
    if secret {
        masker.mask(&text(v))
    } else {
        text(v)
    }
}

fn describe(c: &Change, masker: &Masker) -> String {
    match c {
        Change::Added { key, value, secret } => {
            format!("+ {key}: {}", shown(value, *secret, masker))
        }
        Change::Removed { key, value, secret } => {
            format!("- {key}: {}", shown(value, *secret, masker))
        }
        Change::Changed {
            key,
            old,
            new,
            secret,
        } => {
            format!(
                "~ {key}: {} -> {}",
                shown(old, *secret, masker),
                shown(new, *secret, masker)
            )
        }
    }
}
