//! `kube-openstack watch DIR`: the loop around the inbox, the file events and the
//! deploy engine.

use crate::cli::{ClusterArgs, WatchArgs};
use crate::deploy::progress::{Mode, Progress};
use crate::printer::Printer;
use crate::settings::Project;
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

pub fn run(project: &Project, printer: &Printer, args: &WatchArgs) -> anyhow::Result<u8> {
    let mut inbox =
        Inbox::open(&args.dir).with_context(|| format!("cannot use `{}`", args.dir.display()))?;
    let events = match args.once {
        true => None,
        false => Some(
            Events::watch(&args.dir, args.poll)
                .with_context(|| format!("cannot watch `{}`", args.dir.display()))?,
        ),
    };
    let namespace = project.namespace(&args.cluster.namespace);
    let how = match &events {
        Some(e) if e.polling => "polling every second",
        Some(_) => "inotify",
        None => "once",
    };
    printer.status(
        "Watching",
        format!(
            "`{}` ({how}) for namespace `{namespace}`",
            args.dir.display()
        ),
    );

    let mut closed: Vec<PathBuf> = Vec::new();
    let mut failures = 0u32;
    let mut retry_at: Option<Instant> = None;
    let mut failed_files = Vec::new();
    let mut progressed = true;
    loop {
        let ready = if args.once {
            settled_all(&mut inbox)?
        } else {
            inbox.complete(&closed)?
        };
        let due = retry_at.is_none_or(|t| Instant::now() >= t);
        if !ready.is_empty() && due {
            let fates = process_isolated(
                project,
                printer,
                &args.cluster,
                &namespace,
                &ready,
                args.timeout,
            )?;
            let mut retry = false;
            let mut deferred = false;
            progressed = false;
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
                        progressed = true;
                        printer.status("Applied", format!("{name} ({n} objects)"));
                    }
                    Fate::Failed(why) => {
                        inbox
                            .failed(&file, &why)
                            .with_context(|| format!("cannot move `{name}` to failed/"))?;
                        progressed = true;
                        printer.warn(format!(
                            "{name} failed, moved to failed/: {}",
                            why.lines().next().unwrap_or("")
                        ));
                        failed_files.push(name);
                    }
                    Fate::Retry(why) => {
                        retry = true;
                        printer.warn(format!("{name} kept for a retry: {why}"));
                    }
                    Fate::Defer(why) => {
                        deferred = true;
                        printer.status("Waiting", format!("{name} {why}"));
                    }
                }
            }
            if retry {
                retry_at = Some(Instant::now() + backoff(failures));
                failures += 1;
            } else if deferred {
                // Its dependency may become ready without any file event: look again soon.
                retry_at = Some(Instant::now() + DEFER_POLL);
                failures = 0;
            } else {
                retry_at = None;
                failures = 0;
            }
        }
        // `--once` goes on only while rounds get somewhere (a file waiting for one that
        // was applied in this round); what cannot proceed is left for the next run.
        if args.once && (ready.is_empty() || retry_at.is_none() || !progressed) {
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
    if failed_files.is_empty() && inbox.waiting()?.is_empty() {
        return Ok(0);
    }
    let left = inbox.waiting()?.len();
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
                args.dir.display()
            )
        } else {
            String::new()
        }
    )
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
    project: &Project,
    printer: &Printer,
    cluster: &ClusterArgs,
    namespace: &str,
    files: &[PathBuf],
    timeout: Option<Duration>,
) -> anyhow::Result<BTreeMap<PathBuf, Fate>> {
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        process(project, printer, cluster, namespace, files, timeout)
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
                fates.extend(process_isolated(
                    project, printer, cluster, namespace, one, timeout,
                )?);
            }
            Ok(fates)
        }
    }
}

fn process(
    project: &Project,
    printer: &Printer,
    cluster: &ClusterArgs,
    namespace: &str,
    files: &[PathBuf],
    timeout: Option<Duration>,
) -> anyhow::Result<BTreeMap<PathBuf, Fate>> {
    let mut fates = BTreeMap::new();
    let parsed = batch::parse(files, &mut fates);
    if parsed.is_empty() {
        return Ok(fates);
    }
    let manifests: Vec<_> = parsed.iter().flat_map(|(_, ms)| ms.iter()).collect();
    let state = crate::state::StateDir::new(project.state_dir(&Default::default()));
    let masker = Arc::new(super::deploy::masker(&state, &manifests)?);
    let total = manifests.len();
    let mode = Mode::text_unless(printer.is_quiet());
    let progress = Progress::new(mode, masker, total, true);
    crate::rt::block_on(async {
        match super::deploy::connect(cluster, namespace.to_string()).await {
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
