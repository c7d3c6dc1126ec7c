//! Progress of a run: one line per object as it moves through pending / applying /
//! waiting / ready on stderr (above a bar when stderr is a terminal), or JSON events on
//! stdout for scripts. Every message passes through the secret masker.

use crate::deploy::progress::Progress;
use crate::secrets::Masker;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::Write;
use std::sync::Arc;

/// What a deploy run shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lines on stderr (nothing with `--quiet`), above a bar on a terminal.
    Text,
    /// JSON events on stdout, for scripts.
    Json,
    /// Nothing (`up` shows a line per step instead, unless `--verbose`).
    Quiet,
}

#[derive(Clone)]
pub struct DeployProgress {
    mode: Mode,
    masker: Arc<Masker>,
    bar: Option<ProgressBar>,
    color: bool,
}

impl DeployProgress {
    /// `total`: the number of objects, for the bar; `bar`: whether one may be shown (see
    /// [`super::Printer::bars`]).
    pub(super) fn new(
        mode: Mode,
        masker: Arc<Masker>,
        total: usize,
        bar: bool,
        color: bool,
    ) -> DeployProgress {
        let bar = (mode == Mode::Text && bar && total > 0).then(|| {
            let bar = super::screen().add(ProgressBar::new(total as u64));
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} ready {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        DeployProgress {
            mode,
            masker,
            bar,
            color,
        }
    }

    /// A line of data for stdout (the JSON summary).
    pub fn data_line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn paint_verb(&self, verb: &str) -> String {
        let padded = format!("{verb:>12}");
        if !self.color {
            return padded;
        }
        let style = match verb {
            "Failed" | "Skipped" => anstyle::AnsiColor::Red.on_default().bold(),
            "Waiting" | "Pending" => anstyle::AnsiColor::Yellow.on_default().bold(),
            _ => anstyle::AnsiColor::Green.on_default().bold(),
        };
        format!("{style}{padded}{style:#}")
    }
}

impl Progress for DeployProgress {
    fn masker(&self) -> &Masker {
        &self.masker
    }

    fn object(&self, verb: &str, object: &str, detail: &str) {
        let detail = self.masker.mask(detail);
        let object = self.masker.mask(object);
        let object = object.as_str();
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => {
                let event =
                    json!({"event": verb.to_lowercase(), "object": object, "detail": detail});
                self.data_line(&event.to_string());
            }
            Mode::Text => {
                let sep = if detail.is_empty() { "" } else { ": " };
                let line = format!("{} {object}{sep}{detail}", self.paint_verb(verb));
                self.line(&line);
            }
        }
    }

    fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn status(&self, verb: &str, message: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => self.data_line(
                &json!({"event": verb.to_lowercase(), "detail": self.masker.mask(message)})
                    .to_string(),
            ),
            Mode::Text => self.line(&format!(
                "{} {}",
                self.paint_verb(verb),
                self.masker.mask(message)
            )),
        }
    }

    /// Text for stderr, above the bar when there is one.
    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
