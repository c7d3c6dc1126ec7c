//! What the network layer tells the user ([`crate::net::Observer`]): a
//! `retrying (2/4) SERVER: REASON` line for every retry, a spinner naming the server
//! while a request has been waiting more than a second (on a terminal only), and with
//! `-v`/`--debug` one line per request: method, URL (no credentials), status, time.

use super::{Printer, screen};
use crate::net::{Exchange, Observer, Retrying};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a request waits before the spinner shows.
const QUIET_WAIT: Duration = Duration::from_secs(1);

/// Requests in flight: id -> (server, since when).
type InFlight = Arc<Mutex<BTreeMap<u64, (String, Instant)>>>;

pub struct NetView {
    printer: Printer,
    debug: bool,
    /// Requests in flight (server, since when), for the spinner; `None` off a terminal.
    waiting: Option<InFlight>,
}

impl NetView {
    pub(super) fn new(printer: Printer, debug: bool) -> NetView {
        let waiting = printer.bars(false).then(|| {
            let waiting = Arc::new(Mutex::new(BTreeMap::new()));
            spin(Arc::clone(&waiting));
            waiting
        });
        NetView {
            printer,
            debug,
            waiting,
        }
    }

    fn line(&self, text: String) {
        screen().suspend(|| eprintln!("{text}"));
    }
}

/// Shows, while any request has waited more than [`QUIET_WAIT`], which server it waits
/// for and how long; a thread of its own, so a blocked client cannot stop it.
fn spin(waiting: InFlight) {
    std::thread::spawn(move || {
        let mut spinner: Option<ProgressBar> = None;
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let oldest = {
                let waiting = waiting.lock().unwrap_or_else(|e| e.into_inner());
                waiting
                    .values()
                    .min_by_key(|(_, since)| *since)
                    .map(|(server, since)| (server.clone(), since.elapsed()))
            };
            match (oldest, &spinner) {
                (Some((server, waited)), _) if waited >= QUIET_WAIT => {
                    let bar = spinner.get_or_insert_with(|| {
                        let bar = screen().add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("{spinner} {msg}").expect("valid"),
                        );
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bar
                    });
                    bar.set_message(format!("waiting for {server} ({}s)", waited.as_secs()));
                }
                (_, Some(bar)) => {
                    bar.finish_and_clear();
                    screen().remove(bar);
                    spinner = None;
                }
                _ => {}
            }
        }
    });
}

impl Observer for NetView {
    fn started(&self, id: u64, server: &str) {
        if let Some(waiting) = &self.waiting {
            let mut waiting = waiting.lock().unwrap_or_else(|e| e.into_inner());
            waiting.insert(id, (server.to_string(), Instant::now()));
        }
    }

    fn finished(&self, id: u64, exchange: &Exchange) {
        if let Some(waiting) = &self.waiting {
            waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
        if self.debug {
            let outcome = match &exchange.outcome {
                Ok(code) => http::StatusCode::from_u16(*code)
                    .map_or_else(|_| code.to_string(), |c| c.to_string()),
                Err(why) => why.clone(),
            };
            let label = Printer::paint(self.printer.color_err, super::DEBUG, "debug");
            self.line(format!(
                "{label}: {} {} {outcome} in {} ms",
                exchange.method,
                exchange.url,
                exchange.elapsed.as_millis()
            ));
        }
    }

    fn retrying(&self, r: &Retrying) {
        let label = Printer::paint(self.printer.color_err, super::WARNING, "warning");
        self.line(format!(
            "{label}: retrying ({}/{}) {}: {} (in {:.1}s)",
            r.attempt,
            r.of,
            r.server,
            r.reason,
            r.pause.as_secs_f64()
        ));
    }
}
