//! Checking the deployed cloud: the verify pod of the rendered tree run in the cluster,
//! its lines printed as they come (the service name first, secrets masked), every
//! broken service named in the error.

use super::deploy::{connect, masker, read_tree};
use crate::printer::Printer;
use crate::secrets::Masker;
use crate::settings::ClusterSettings;
use crate::verify::{self, Check, Line};
use serde_json::json;
use std::time::Duration;

/// How the checks are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `SERVICE | ok  CHECK: DETAIL`
    Text,
    /// The same lines on stderr: for `up`, whose stdout is its summary (`-o json` too).
    Notes,
    /// A JSON event per check, then a summary: one object a line.
    Json,
    /// The same events as YAML documents, each after its `---`.
    Yaml,
}

/// Runs the checks; the error names each broken service and why.
pub fn verify(
    cluster: &ClusterSettings,
    printer: &Printer,
    format: Format,
    timeout: Duration,
) -> anyhow::Result<Vec<Check>> {
    let manifests = read_tree(cluster)?;
    let masker = masker(&cluster.state, &manifests.iter().collect::<Vec<_>>())?;
    let pod = verify::pod(&manifests, &cluster.namespace, &cluster.namespace)?;
    printer.status(
        "Verifying",
        format!(
            "the cloud in namespace `{}` from pod `{}`",
            cluster.namespace,
            verify::POD
        ),
    );
    let sink = Sink {
        printer,
        masker: &masker,
        format,
    };
    let result = crate::rt::block_on(async {
        let ctx = connect(cluster).await?;
        let checks = verify::run(&ctx, &pod, timeout, &sink).await;
        Ok::<_, anyhow::Error>(checks.map_err(|e| e.masked(&masker))?)
    });
    let checks = match result {
        Ok(checks) => checks,
        Err(e) => {
            sink.summary(&[], Some(&crate::report::one_line(e.as_ref())));
            return Err(e);
        }
    };
    let outcome = verify::outcome(&checks).map_err(|e| e.masked(&masker));
    let error = outcome.as_ref().err().map(ToString::to_string);
    sink.summary(&checks, error.as_deref());
    outcome?;
    let services: std::collections::BTreeSet<&str> =
        checks.iter().map(|c| c.service.as_str()).collect();
    printer.status(
        "Verified",
        format!(
            "{} checks of {} services passed",
            checks.len(),
            services.len()
        ),
    );
    Ok(checks)
}

/// Prints the pod's lines, masked.
struct Sink<'a> {
    printer: &'a Printer,
    masker: &'a Masker,
    format: Format,
}

impl Sink<'_> {
    fn print(&self, text: &str) {
        let text = self.masker.mask(&format!("{text}\n"));
        if self.format == Format::Notes {
            self.printer.note(&text);
        } else {
            self.printer.data(&text);
        }
    }

    /// An event in the structured formats: a JSON line or a YAML document.
    fn event(&self, event: &serde_json::Value) -> String {
        match self.format {
            Format::Yaml => {
                let doc = serde_yaml::to_string(event).expect("a JSON value is valid YAML");
                format!("---\n{}", doc.trim_end())
            }
            _ => event.to_string(),
        }
    }

    /// Structured formats only: the last event, whether every check passed.
    fn summary(&self, checks: &[Check], error: Option<&str>) {
        if matches!(self.format, Format::Text | Format::Notes) {
            return;
        }
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
        let event = json!({
            "event": "summary",
            "ok": error.is_none(),
            "checks": checks.len(),
            "failed": failed,
            "error": error,
        });
        self.print(&self.event(&event));
    }
}

impl verify::Progress for Sink<'_> {
    fn line(&self, line: &Line) {
        let text = match (self.format, line) {
            (Format::Text | Format::Notes, Line::Check(c)) => {
                let verdict = if c.ok { "ok" } else { "FAILED" };
                format!("{} | {verdict:<6} {}: {}", c.service, c.check, c.detail)
            }
            (Format::Text | Format::Notes, Line::Other(text)) => {
                format!("{} | {text}", verify::POD)
            }
            (_, Line::Check(c)) => {
                let mut event = serde_json::to_value(c).expect("serializable");
                event["event"] = json!("check");
                self.event(&event)
            }
            (_, Line::Other(text)) => self.event(&json!({"event": "log", "line": text})),
        };
        self.print(&text);
    }
}
