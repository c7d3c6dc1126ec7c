//! Progress of a run: one line per object as it moves through pending / applying /
//! waiting / ready on stderr (above a bar when stderr is a terminal), or JSON events on
//! stdout for scripts. Every message passes through the secret masker.

use crate::secrets::Masker;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Text,
    Json,
    Quiet,
}

impl Mode {
    /// Lines on stderr, or nothing with `--quiet`.
    pub fn text_unless(quiet: bool) -> Mode {
        if quiet { Mode::Quiet } else { Mode::Text }
    }
}

#[derive(Clone)]
pub struct Progress {
    mode: Mode,
    masker: Arc<Masker>,
    bar: Option<ProgressBar>,
    color: bool,
}

impl Progress {
    /// `total`: the number of objects, for the bar (shown only on a terminal, in text mode).
    pub fn new(mode: Mode, masker: Arc<Masker>, total: usize, no_progress: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let bar = (mode == Mode::Text && tty && !no_progress && total > 0).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} ready {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Progress {
            mode,
            masker,
            bar,
            color: tty && !no_color,
        }
    }

    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// An object changed state: `verb` is the state (`Applying`, `Waiting`, `Ready`, ...),
    /// `detail` what is known (outcome, what it waits for, an error).
    pub fn object(&self, verb: &str, object: &str, detail: &str) {
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

    /// A count step for the bar.
    pub fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// A free-form status line (`    Interrupt finishing 3 requests in flight`).
    pub fn status(&self, verb: &str, message: &str) {
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
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    pub fn data_line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
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
