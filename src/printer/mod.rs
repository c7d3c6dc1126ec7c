//! All output goes through here: data on stdout, status, warnings and progress on
//! stderr. The only module that writes to either, reads `NO_COLOR`, or draws a progress
//! bar: the stages report through their `progress` traits, implemented here
//! ([`DeployProgress`], [`ImagesProgress`]).

// The one module that writes to stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod busy;
mod deploy;
mod images;
mod net;

pub use busy::Busy;
pub use deploy::{DeployProgress, Mode};
pub use images::ImagesProgress;
pub use net::NetView;

use crate::secrets::Masker;
use anstyle::{AnsiColor, Style};
use std::io::{IsTerminal, Write};
use std::sync::Arc;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: bool,
    color_err: bool,
    color_out: bool,
    /// Progress bars may be drawn: stderr is a terminal, `NO_COLOR` is not set.
    bars: bool,
}

const STATUS: Style = AnsiColor::Green.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const ERROR: Style = AnsiColor::Red.on_default().bold();
const ADDED: Style = AnsiColor::Green.on_default();
const REMOVED: Style = AnsiColor::Red.on_default();
const HUNK: Style = AnsiColor::Cyan.on_default();
const DEBUG: Style = AnsiColor::Blue.on_default().bold();

/// Every progress display of the process (deploy's bar, the images' spinners, the
/// network spinner) is drawn in this one, so a line printed while they show (a retry,
/// the `--debug` trace) goes above them instead of through them.
fn screen() -> &'static indicatif::MultiProgress {
    static SCREEN: std::sync::OnceLock<indicatif::MultiProgress> = std::sync::OnceLock::new();
    SCREEN.get_or_init(|| {
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
    })
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    Always,
    Never,
}

impl Printer {
    pub fn new(quiet: bool, color: ColorWhen) -> Printer {
        use ColorWhen::*;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |tty: bool| match color {
            Always => true,
            Never => false,
            Auto => tty && !no_color,
        };
        let tty = std::io::stderr().is_terminal();
        Printer {
            quiet,
            color_err: decide(tty),
            color_out: decide(std::io::stdout().is_terminal()),
            bars: tty && !no_color,
        }
    }

    /// Whether `--quiet` was given (progress bars stay hidden then).
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Whether a progress bar may be drawn: on a terminal, not `--quiet`, not `NO_COLOR`,
    /// not `--no-progress`.
    fn bars(&self, no_progress: bool) -> bool {
        self.bars && !self.quiet && !no_progress
    }

    /// The progress of a deploy run over `total` objects, every message masked. `Text`
    /// says nothing with `--quiet`.
    pub fn deploy_progress(
        &self,
        mode: Mode,
        masker: Arc<Masker>,
        total: usize,
        no_progress: bool,
    ) -> DeployProgress {
        let mode = match mode {
            Mode::Text if self.quiet => Mode::Quiet,
            other => other,
        };
        DeployProgress::new(mode, masker, total, self.bars(no_progress), self.color_err)
    }

    /// What the network layer reports (retries, the `--debug` trace, a spinner while a
    /// request waits), for [`crate::net::observe`].
    pub fn net_view(&self, debug: bool) -> NetView {
        NetView::new(*self, debug)
    }

    /// The progress of a local step over `total` items (`what`: `Rendering`), shown only
    /// once it has run for a second, on a terminal.
    pub fn busy(&self, what: &str, total: usize) -> Busy {
        Busy::new(self.bars(false), what, total as u64)
    }

    /// The progress of an images run over the images `names`.
    pub fn images_progress(&self, names: &[String], no_progress: bool) -> ImagesProgress {
        ImagesProgress::new(*self, names, self.bars(no_progress))
    }

    fn paint(on: bool, style: Style, text: &str) -> String {
        if on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// A cargo-style status line: `   Rendering 42 templates`.
    pub fn status(&self, verb: &str, message: impl std::fmt::Display) {
        if !self.quiet {
            let message = crate::redact::urls(&message.to_string());
            eprintln!(
                "{} {message}",
                Self::paint(self.color_err, STATUS, &format!("{verb:>12}"))
            );
        }
    }

    /// A warning; like every line for people, without a URL's credentials or query
    /// (see [`crate::redact::urls`]).
    pub fn warn(&self, message: impl std::fmt::Display) {
        let message = crate::redact::urls(&message.to_string());
        eprintln!(
            "{}: {message}",
            Self::paint(self.color_err, WARNING, "warning")
        );
    }

    pub fn error_label(&self) -> String {
        Self::paint(self.color_err, ERROR, "error")
    }

    /// A whole error report, already formatted (see `errors`), for stderr.
    pub fn error(&self, text: &str) {
        eprint!("{text}");
    }

    /// Text for people on stderr (a table of results), unless `--quiet`.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprint!("{}", crate::redact::urls(text));
        }
    }

    /// Asks `question` on the terminal; `Ok(false)` unless the answer is yes. Refuses when
    /// stdin is no terminal (a script must say `--yes`).
    pub fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        use std::io::BufRead;
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "{question} refusing to delete without confirmation: stdin is not a terminal; pass `--yes`"
            );
        }
        eprint!("{question} [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
    }

    /// Whether stdout is a terminal (binary data must not go there).
    pub fn stdout_is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    /// Data for stdout.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Raw bytes for stdout (user data, archives).
    pub fn data_bytes(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }

    /// A unified diff for stdout, coloured by line when stdout is a terminal.
    pub fn diff(&self, text: &str) {
        if !self.color_out {
            return self.data(text);
        }
        let mut s = String::with_capacity(text.len() + 64);
        for line in text.split_inclusive('\n') {
            let style = if line.starts_with("+++") || line.starts_with("---") {
                Style::new().bold()
            } else if line.starts_with('+') {
                ADDED
            } else if line.starts_with('-') {
                REMOVED
            } else if line.starts_with("@@") {
                HUNK
            } else {
                Style::new()
            };
            s.push_str(&Self::paint(true, style, line.trim_end_matches('\n')));
            if line.ends_with('\n') {
                s.push('\n');
            }
        }
        self.data(&s)
    }
}

/// Aligns tab-separated columns (the tables of `deploy`, `status`, `up`, `db-sync`).
pub fn align(table: &str) -> String {
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split('\t').collect()).collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let last = r.len().saturating_sub(1);
        for (i, cell) in r.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}
