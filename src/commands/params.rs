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
            let set = workflow::params::load(&settings, printer)?;
            let masker = Masker::build(&settings.state, set.secret_values(), show_secrets)?;
            printer.data(&show(&set, &masker, output, show_secrets));
        }
        ParamsCommand::Get { key, source } => {
            let set = workflow::params::load(&ParamsSettings::new(project, &source), printer)?;
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
            let settings = ParamsSettings::new(project, &source).waiting(&wait);
            let refreshed = workflow::params::refresh(&settings, printer, show_secrets)?;
            printer.data(&refreshed.report);
            printer.status(
                "Refreshed",
                format!(
                    "stack `{}`: {} of {} outputs changed",
                    refreshed.stack, refreshed.changed, refreshed.outputs
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
