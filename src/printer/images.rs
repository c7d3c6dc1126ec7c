//! Per-image progress on stderr: a spinner line per image on a terminal, otherwise one
//! status line per change of state (which is what logs and CI keep).

use super::Printer;
use crate::images::progress::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::time::Duration;

pub struct ImagesProgress {
    printer: Printer,
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
}

impl ImagesProgress {
    /// Bars when `bars` (see [`Printer::bars`]), else status lines.
    pub(super) fn new(printer: Printer, names: &[String], bars: bool) -> ImagesProgress {
        if !bars {
            return ImagesProgress {
                printer,
                bars: None,
            };
        }
        let multi = super::screen().clone();
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
        ImagesProgress {
            printer,
            bars: Some((multi, bars)),
        }
    }
}

impl Progress for ImagesProgress {
    fn update(&self, name: &str, verb: &str, detail: &str) {
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

    fn note(&self, verb: &str, text: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(format!("{verb:>12} {text}"));
            }
            None => self.printer.status(verb, text),
        }
    }

    fn finish(&self, name: &str, verb: &str, detail: &str) {
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
