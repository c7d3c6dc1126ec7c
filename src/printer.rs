//! All output goes through here: data on stdout, status and warnings on stderr.

use anstyle::{AnsiColor, Style};
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: bool,
    color_err: bool,
    color_out: bool,
}

const STATUS: Style = AnsiColor::Green.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const ERROR: Style = AnsiColor::Red.on_default().bold();
const ADDED: Style = AnsiColor::Green.on_default();
const REMOVED: Style = AnsiColor::Red.on_default();
const HUNK: Style = AnsiColor::Cyan.on_default();

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
        Printer {
            quiet,
            color_err: decide(std::io::stderr().is_terminal()),
            color_out: decide(std::io::stdout().is_terminal()),
        }
    }

    /// Whether `--quiet` was given (progress bars stay hidden then).
    pub fn is_quiet(&self) -> bool {
        self.quiet
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
            eprintln!(
                "{} {message}",
                Self::paint(self.color_err, STATUS, &format!("{verb:>12}"))
            );
        }
    }

    pub fn warn(&self, message: impl std::fmt::Display) {
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
