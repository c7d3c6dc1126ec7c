//! `kube-openstack params show|get|refresh|regenerate`.

use crate::cli::{Format, ParamsCommand};
use crate::params::{self, ParamSet};
use crate::printer::Printer;
use crate::secrets::Masker;
use crate::settings::{ParamsSettings, Project};
use crate::workflow;
use anyhow::bail;
use serde_json::Value as Json;

pub fn run(project: &Project, printer: &Printer, command: ParamsCommand) -> anyhow::Result<u8> {
    match command {
        ParamsCommand::Show {
            source,
            wait,
            show_secrets,
            output,
        } => {
            let settings = ParamsSettings::new(project, &source).waiting(&wait);
            let (set, _reading) = workflow::params::read_only(&settings, printer)?;
            let masker = Masker::build(&settings.state, set.secret_values(), show_secrets)?;
            show(printer, &set, &masker, output, show_secrets)?;
        }
        ParamsCommand::Get { key, source } => {
            let settings = ParamsSettings::new(project, &source);
            let (set, _reading) = workflow::params::read_only(&settings, printer)?;
            let Some(p) = set.values.get(&key) else {
                bail!("parameter `{key}` is not defined (`kube-openstack params show` lists them)");
            };
            printer.data(&format!("{}\n", p.text()));
        }
        ParamsCommand::Refresh {
            source,
            wait,
            show_secrets,
            output,
        } => {
            let settings = ParamsSettings::new(project, &source).waiting(&wait);
            let refreshed = workflow::params::refresh(&settings, printer, show_secrets)?;
            if !super::structured(printer, output, &refreshed)? {
                for change in &refreshed.changes {
                    printer.data(&format!("{}\n", change.line()));
                }
            }
            printer.status(
                "Refreshed",
                format!(
                    "stack `{}`: {} of {} outputs changed",
                    refreshed.stack,
                    refreshed.changes.len(),
                    refreshed.outputs
                ),
            );
        }
        ParamsCommand::Regenerate { keys, source } => {
            let settings = ParamsSettings::new(project, &source);
            let rotated = workflow::params::regenerate(&settings, printer, &keys)?;
            printer.status(
                "Regenerated",
                format!("{} ({})", rotated.join(", "), keys.join(", ")),
            );
        }
    }
    Ok(0)
}

/// The parameters: a table, or key -> `value`, `secret`, `source` for `-o json|yaml`.
fn show(
    printer: &Printer,
    set: &ParamSet,
    masker: &Masker,
    format: Format,
    show_secrets: bool,
) -> anyhow::Result<()> {
    let shown = |p: &params::Param| -> Json {
        if p.secret && !show_secrets {
            Json::String(masker.mask(&p.text()))
        } else {
            p.value.clone()
        }
    };
    let map: serde_json::Map<String, Json> = set
        .values
        .iter()
        .map(|(k, p)| {
            let entry =
                serde_json::json!({"value": shown(p), "secret": p.secret, "source": p.origin});
            (k.clone(), entry)
        })
        .collect();
    if super::structured(printer, format, &map)? {
        return Ok(());
    }
    let width = set.values.keys().map(String::len).max().unwrap_or(4).max(4);
    let mut out = format!("{:width$}  {:8}  VALUE\n", "NAME", "SOURCE");
    for (k, entry) in &map {
        let value = match &entry["value"] {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        let source = entry["source"].as_str().unwrap_or("");
        out.push_str(&format!("{k:width$}  {source:8}  {value}\n"));
    }
    printer.data(&out);
    Ok(())
}
