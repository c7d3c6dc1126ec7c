//! `kube-openstack params show|get|regenerate`.

use crate::cli::{Format, ParamsCommand, SourceArgs, WaitArgs};
use crate::params::{self, ParamSet};
use crate::printer::Printer;
use crate::secrets::Masker;
use crate::settings::Project;
use crate::state::StateDir;
use anyhow::{Context as _, bail};
use serde_json::Value as Json;

pub fn run(project: &Project, printer: &Printer, command: ParamsCommand) -> anyhow::Result<u8> {
    match command {
        ParamsCommand::Show {
            source,
            wait,
            show_secrets,
            output,
        } => {
            let set = load_waiting(project, printer, &source, &wait)?;
            let state = StateDir::new(project.state_dir(&source));
            let masker = Masker::build(&state, set.secret_values(), show_secrets)?;
            printer.data(&show(&set, &masker, output, show_secrets));
        }
        ParamsCommand::Get { key, source } => {
            let set = load(project, printer, &source)?;
            let Some(p) = set.values.get(&key) else {
                bail!("parameter `{key}` is not defined (`kube-openstack params show` lists them)");
            };
            printer.data(&format!("{}\n", p.text()));
        }
        ParamsCommand::Refresh {
            source,
            wait,
            show_secrets,
        } => {
            super::heat_refresh::refresh(project, printer, &source, &wait, show_secrets)?;
        }
        ParamsCommand::Regenerate { keys, source } => {
            let state = StateDir::new(project.state_dir(&source));
            let lock = state.lock()?;
            let req = project.params_request(&source);
            let rotated =
                params::regenerate(&req, &state, &keys).context("cannot regenerate parameters")?;
            drop(lock);
            // Evaluate now so the new values exist (and are kept) before anything renders.
            load(project, printer, &source)?;
            printer.status(
                "Regenerated",
                format!("{} ({})", rotated.join(", "), keys.join(", ")),
            );
        }
    }
    Ok(0)
}

/// Loads the parameters as the flags and config say, holding the state lock meanwhile.
pub(super) fn load(
    project: &Project,
    printer: &Printer,
    source: &SourceArgs,
) -> anyhow::Result<ParamSet> {
    load_waiting(project, printer, source, &WaitArgs::default())
}

/// As [`load`]; a Heat stack whose outputs were never read is read first (waiting for it
/// as `wait` says).
fn load_waiting(
    project: &Project,
    printer: &Printer,
    source: &SourceArgs,
    wait: &WaitArgs,
) -> anyhow::Result<ParamSet> {
    let state = StateDir::new(project.state_dir(source));
    let req = project.params_request(source);
    let _lock = state.lock()?;
    if req.source == params::SourceKind::Heat {
        super::heat_refresh::read_if_missing(project, printer, source, wait, &state)?;
    }
    let set = params::load(&req, &state, &mut |w| printer.warn(w))
        .context("cannot read the parameters")?;
    Ok(set)
}

fn show(set: &ParamSet, masker: &Masker, format: Format, show_secrets: bool) -> String {
    let shown = |p: &params::Param| -> Json {
        if p.secret && !show_secrets {
            Json::String(masker.mask(&p.text()))
        } else {
            p.value.clone()
        }
    };
    match format {
        Format::Json | Format::Yaml => {
            let map: serde_json::Map<String, Json> = set
                .values
                .iter()
                .map(|(k, p)| (k.clone(), serde_json::json!({"value": shown(p), "secret": p.secret, "source": p.origin})))
                .collect();
            if format == Format::Json {
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&map).expect("serializable")
                )
            } else {
                serde_yaml::to_string(&map).expect("serializable")
            }
        }
        Format::Table => {
            let width = set.values.keys().map(String::len).max().unwrap_or(4).max(4);
            let mut out = format!("{:width$}  {:8}  VALUE\n", "NAME", "SOURCE");
            for (k, p) in &set.values {
                let origin = serde_json::to_value(p.origin).expect("serializable");
                let value = match shown(p) {
                    Json::String(s) => s,
                    other => other.to_string(),
                };
                out.push_str(&format!(
                    "{k:width$}  {:8}  {value}\n",
                    origin.as_str().unwrap_or("")
                ));
            }
            out
        }
    }
}
