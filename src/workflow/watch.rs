//! `watch DIR`: the loop around the inbox, the file events and the deploy engine; each
//! batch of settled files is applied together and every file moved to `applied/` or
//! `failed/`, or kept for a retry with backoff.

use super::deploy::{connect, masker};
use crate::printer::{Mode, Printer};
use crate::settings::ClusterSettings;
use crate::watch::backoff;
use crate::watch::batch::{self, Fate};
use crate::watch::events::Events;
use crate::watch::inbox::{Inbox, SETTLE};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the loop sleeps when nothing is pending (events wake it earlier).
const IDLE: Duration = Duration::from_secs(30);

/// How often a file waiting for a dependency outside its batch looks again.
const DEFER_POLL: Duration = Duration::from_secs(1);

/// What to watch and how.
pub struct Watch {
    pub dir: PathBuf,
    /// Apply what is there now, then return.
    pub once: bool,
    /// Poll instead of inotify.
    pub poll: bool,
    /// How long to wait for an object others depend on to be ready.
    pub timeout: Option<Duration>,
}

/// What one round did to its files.
#[derive(Default)]
struct Round {
    /// A file moved to `applied/` or `failed/`.
    progressed: bool,
    retry: bool,
    deferred: bool,
}

/// Watches until stopped (or, with `once`, until nothing moves); an error names the
/// files that failed and those left for the next run.
pub fn run(cluster: &ClusterSettings, printer: &Printer, watch: &Watch) -> anyhow::Result<()> {
    let dir = &watch.dir;
    let mut inbox = Inbox::open(dir).with_context(|| format!("cannot use `{}`", dir.display()))?;
    let events = events(cluster, printer, watch)?;
    let mut closed: Vec<PathBuf> = Vec::new();
    let mut failures = 0u32;
    let mut retry_at: Option<Instant> = None;
    let mut failed_files = Vec::new();
    let mut round = Round {
        progressed: true,
        ..Round::default()
    };
    loop {
        let ready = if watch.once {
            settled_all(&mut inbox)?
        } else {
            inbox.complete(&closed)?
        };
        let due = retry_at.is_none_or(|t| Instant::now() >= t);
        if !ready.is_empty() && due {
            let fates = process_isolated(cluster, printer, &ready, watch.timeout)?;
            round = settle(&mut inbox, printer, fates, &mut failed_files)?;
            (retry_at, failures) = if round.retry {
                (Some(Instant::now() + backoff(failures)), failures + 1)
            } else if round.deferred {
                // Its dependency may become ready without any file event: look again soon.
                (Some(Instant::now() + DEFER_POLL), 0)
            } else {
                (None, 0)
            };
        }
        // `--once` goes on only while rounds get somewhere (a file waiting for one that
        // was applied in this round); what cannot proceed is left for the next run.
        if watch.once && (ready.is_empty() || retry_at.is_none() || !round.progressed) {
            break;
        }
        let wait = match retry_at {
            Some(t) => t.saturating_duration_since(Instant::now()),
            None if inbox.has_unsettled() => SETTLE,
            None => IDLE,
        };
        closed = match &events {
            Some(events) => events.wait(wait).0,
            None => {
                std::thread::sleep(wait);
                Vec::new()
            }
        };
    }
    let left = inbox.waiting()?.len();
    outcome(dir, &failed_files, left)
}

/// The file events (none with `once`), once the watch is announced.
fn events(
    cluster: &ClusterSettings,
    printer: &Printer,
    watch: &Watch,
) -> anyhow::Result<Option<Events>> {
    let dir = &watch.dir;
    let events = match watch.once {
        true => None,
        false => Some(
            Events::watch(dir, watch.poll)
                .with_context(|| format!("cannot watch `{}`", dir.display()))?,
        ),
    };
    let how = match &events {
        Some(e) if e.polling => "polling every second",
        Some(_) => "inotify",
        None => "once",
    };
    printer.status(
        "Watching",
        format!(
            "`{}` ({how}) for namespace `{}`",
            dir.display(),
            cluster.namespace
        ),
    );
    Ok(events)
}

/// An error naming the files that failed and how many are left, if any.
fn outcome(dir: &std::path::Path, failed_files: &[String], left: usize) -> anyhow::Result<()> {
    if failed_files.is_empty() && left == 0 {
        return Ok(());
    }
    anyhow::bail!(
        "{} failed{}",
        if failed_files.is_empty() {
            "nothing".to_string()
        } else {
            failed_files.join(", ")
        },
        if left > 0 {
            format!(
                "; {left} files left in `{}` for the next run",
                dir.display()
            )
        } else {
            String::new()
        }
    )
}

/// Moves each file as its fate says, and says so.
fn settle(
    inbox: &mut Inbox,
    printer: &Printer,
    fates: BTreeMap<PathBuf, Fate>,
    failed_files: &mut Vec<String>,
) -> anyhow::Result<Round> {
    let mut round = Round::default();
    for (file, fate) in fates {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        match fate {
            Fate::Applied(n) => {
                inbox
                    .applied(&file)
                    .with_context(|| format!("cannot move `{name}` to applied/"))?;
                round.progressed = true;
                printer.status("Applied", format!("{name} ({n} objects)"));
            }
            Fate::Failed(why) => {
                inbox
                    .failed(&file, &why)
                    .with_context(|| format!("cannot move `{name}` to failed/"))?;
                round.progressed = true;
                printer.warn(format!(
                    "{name} failed, moved to failed/: {}",
                    why.lines().next().unwrap_or("")
                ));
                failed_files.push(name);
            }
            Fate::Retry(why) => {
                round.retry = true;
                printer.warn(format!("{name} kept for a retry: {why}"));
            }
            Fate::Defer(why) => {
                round.deferred = true;
                printer.status("Waiting", format!("{name} {why}"));
            }
        }
    }
    Ok(round)
}

/// `--once`: every waiting file, once each has stopped changing (a writer that is still
/// busy gets [`SETTLE`] to finish).
fn settled_all(inbox: &mut Inbox) -> anyhow::Result<Vec<PathBuf>> {
    let deadline = Instant::now() + SETTLE * 10;
    loop {
        let ready = inbox.complete(&[])?;
        if ready.len() == inbox.waiting()?.len() || Instant::now() > deadline {
            return Ok(ready);
        }
        std::thread::sleep(SETTLE / 4);
    }
}

/// [`process`], with a panic confined to the file that caused it: the batch is tried
/// again one file at a time, and a file that still panics is moved to `failed/` like any
/// other bad file, so a restarted watcher does not stumble on it again.
fn process_isolated(
    cluster: &ClusterSettings,
    printer: &Printer,
    files: &[PathBuf],
    timeout: Option<Duration>,
) -> anyhow::Result<BTreeMap<PathBuf, Fate>> {
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        process(cluster, printer, files, timeout)
    }));
    match (attempt, files) {
        (Ok(fates), _) => fates,
        (Err(_), [one]) => Ok(BTreeMap::from([(
            one.clone(),
            Fate::Failed(
                "kube-openstack stopped on an internal error while applying this file; it is set aside so the watcher goes on (please report it)".into(),
            ),
        )])),
        (Err(_), _) => {
            let mut fates = BTreeMap::new();
            for file in files {
                let one = std::slice::from_ref(file);
                fates.extend(process_isolated(cluster, printer, one, timeout)?);
            }
            Ok(fates)
        }
    }
}

fn process(
    cluster: &ClusterSettings,
    printer: &Printer,
    files: &[PathBuf],
    timeout: Option<Duration>,
) -> anyhow::Result<BTreeMap<PathBuf, Fate>> {
    let mut fates = BTreeMap::new();
    let parsed = batch::parse(files, &mut fates);
    if parsed.is_empty() {
        return Ok(fates);
    }
    let manifests: Vec<_> = parsed.iter().flat_map(|(_, ms)| ms.iter()).collect();
    let masker = Arc::new(masker(&cluster.state, &manifests)?);
    let total = manifests.len();
    let progress = printer.deploy_progress(Mode::Text, masker, total, true);
    crate::rt::block_on(async {
        match connect(cluster).await {
            Ok(ctx) => batch::apply(&ctx, parsed, &progress, timeout, &mut fates).await,
            Err(e) => {
                let why = crate::report::one_line(e.as_ref());
                for (file, _) in parsed {
                    fates.insert(file, Fate::Retry(why.clone()));
                }
            }
        }
    });
    Ok(fates)
}
