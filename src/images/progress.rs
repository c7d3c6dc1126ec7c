//! Per-image progress on stderr: a spinner line per image on a terminal, otherwise one
//! status line per change of state (which is what logs and CI keep).

use crate::printer::Printer;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::time::Duration;

pub struct Progress {
    printer: Printer,
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
}

impl Progress {
    /// Bars when `interactive` (stderr is a terminal, not quiet, `NO_COLOR` unset).
    pub fn new(printer: Printer, names: &[String], interactive: bool) -> Progress {
        if !interactive {
            return Progress {
                printer,
                bars: None,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let width = names.iter().map(String::len).max().unwrap_or(0);
        let style = ProgressStyle::with_template(&format!(
            "{{spinner}} {{prefix:<{width}}} {{elapsed:>4}} {{msg}}"
        ))
        .expect("a valid template");
        let bars = names
            .iter()
            .map(|n| {
                let bar = multi.add(
                    ProgressBar::new_spinner()
                        .with_style(style.clone())
                        .with_prefix(n.clone()),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                bar.set_message("waiting");
                (n.clone(), bar)
            })
            .collect();
        Progress {
            printer,
            bars: Some((multi, bars)),
        }
    }

    /// `name` moved to a new state (`verb` in cargo's style: `Building`, `Pushed`, ...).
    pub fn update(&self, name: &str, verb: &str, detail: &str) {
        match &self.bars {
            Some((_, bars)) => {
                if let Some(bar) = bars.get(name) {
                    bar.set_message(format!("{verb} {detail}"));
                }
            }
            None => self
                .printer
                .status(verb, format!("{name} {detail}").trim_end()),
        }
    }

    /// A line about the whole run (`Storage overlay driver (...)`).
    pub fn note(&self, verb: &str, text: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(format!("{verb:>12} {text}"));
            }
            None => self.printer.status(verb, text),
        }
    }

    /// `name` reached its final state.
    pub fn finish(&self, name: &str, verb: &str, detail: &str) {
        match &self.bars {
            Some((_, bars)) => {
                if let Some(bar) = bars.get(name) {
                    bar.finish_with_message(format!("{verb} {detail}"));
                }
            }
            None => self
                .printer
                .status(verb, format!("{name} {detail}").trim_end()),
        }
    }
}
