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
    /// A JSON event per check, then a summary.
    Json,
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
        Ok::<_, anyhow::Error>(verify::run(&ctx, &pod, timeout, &sink).await?)
    });
    let checks = match result {
        Ok(checks) => checks,
        Err(e) => {
            sink.summary(&[], Some(&crate::report::one_line(e.as_ref())));
            return Err(e);
        }
    };
    let outcome = verify::outcome(&checks);
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
        self.printer.data(&self.masker.mask(&format!("{text}\n")));
    }

    /// JSON only: the last event, whether every check passed.
    fn summary(&self, checks: &[Check], error: Option<&str>) {
        if self.format != Format::Json {
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
        self.print(&event.to_string());
    }
}

impl verify::Progress for Sink<'_> {
    fn line(&self, line: &Line) {
        let text = match (self.format, line) {
            (Format::Json, Line::Check(c)) => {
                let mut event = serde_json::to_value(c).expect("serializable");
                event["event"] = json!("check");
                event.to_string()
            }
            (Format::Json, Line::Other(text)) => json!({"event": "log", "line": text}).to_string(),
            (Format::Text, Line::Check(c)) => {
                let verdict = if c.ok { "ok" } else { "FAILED" };
                format!("{} | {verdict:<6} {}: {}", c.service, c.check, c.detail)
            }
            (Format::Text, Line::Other(text)) => format!("{} | {text}", verify::POD),
        };
        self.print(&text);
    }
}
