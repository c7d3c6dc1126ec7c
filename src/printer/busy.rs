//! Progress of a local step that may take a while (a render of thousands of templates):
//! nothing for the first second, then a bar, on a terminal only.

use super::screen;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a step runs before its bar shows.
const QUIET_TIME: Duration = Duration::from_secs(1);

struct Counts {
    done: AtomicU64,
    finished: AtomicBool,
}

/// A step's progress: [`Busy::tick`] for each item done; the bar goes when it drops.
pub struct Busy {
    counts: Arc<Counts>,
    drawer: Option<JoinHandle<()>>,
}

impl Busy {
    /// `show`: whether a bar may be drawn (a terminal, not `--quiet`).
    pub(super) fn new(show: bool, what: &str, total: u64) -> Busy {
        let counts = Arc::new(Counts {
            done: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        });
        let drawer = show.then(|| {
            let counts = Arc::clone(&counts);
            let what = what.to_string();
            std::thread::spawn(move || draw(&counts, &what, total))
        });
        Busy { counts, drawer }
    }

    pub fn tick(&self) {
        self.counts.done.fetch_add(1, Ordering::Relaxed);
    }
}

fn draw(counts: &Counts, what: &str, total: u64) {
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while !counts.finished.load(Ordering::Relaxed) {
        std::thread::park_timeout(Duration::from_millis(100));
        if bar.is_none() && started.elapsed() >= QUIET_TIME {
            let b = screen().add(ProgressBar::new(total));
            b.set_style(
                ProgressStyle::with_template(&format!(
                    "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} {{elapsed}}"
                ))
                .expect("a valid template")
                .progress_chars("=> "),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(counts.done.load(Ordering::Relaxed));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
        screen().remove(&b);
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.counts.finished.store(true, Ordering::Relaxed);
        if let Some(drawer) = self.drawer.take() {
            drawer.thread().unpark();
            let _ = drawer.join();
        }
    }
}
