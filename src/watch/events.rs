//! File events for the watched directory: inotify through `notify`, or polling where
//! inotify is not available (some network and container file systems).

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

/// How often the polling fallback looks at the directory.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

pub struct Events {
    // Kept alive for as long as events are wanted.
    _watcher: Box<dyn Watcher + Send>,
    receiver: Receiver<notify::Result<Event>>,
    pub polling: bool,
}

impl Events {
    /// Watches `dir` (not its `applied/` and `failed/` folders) with inotify, or by
    /// polling when `poll` is set or inotify cannot be used.
    pub fn watch(dir: &Path, poll: bool) -> notify::Result<Events> {
        let (sender, receiver) = channel();
        if !poll {
            let native = RecommendedWatcher::new(sender.clone(), notify::Config::default())
                .and_then(|mut w| w.watch(dir, RecursiveMode::NonRecursive).map(|()| w));
            if let Ok(watcher) = native {
                return Ok(Events {
                    _watcher: Box::new(watcher),
                    receiver,
                    polling: false,
                });
            }
        }
        let config = notify::Config::default().with_poll_interval(POLL_INTERVAL);
        let mut watcher = PollWatcher::new(sender, config)?;
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
        Ok(Events {
            _watcher: Box::new(watcher),
            receiver,
            polling: true,
        })
    }

    /// Waits up to `timeout` for activity; returns the files that an event showed to be
    /// complete (closed after writing, or renamed into the directory). An empty list
    /// with `true` means something changed that needs a fresh look (polling events,
    /// creations); `false` means the timeout passed quietly.
    pub fn wait(&self, timeout: Duration) -> (Vec<PathBuf>, bool) {
        let mut closed = Vec::new();
        let mut activity = false;
        let first = match self.receiver.recv_timeout(timeout) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => return (closed, false),
            // The watcher thread ended: fall back to looking again after the timeout.
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(timeout);
                return (closed, true);
            }
        };
        // Take everything already queued too, so a burst becomes one batch.
        for event in std::iter::once(first).chain(self.receiver.try_iter()) {
            let Ok(event) = event else { continue };
            activity = true;
            if is_complete(&event.kind) {
                closed.extend(event.paths);
            }
        }
        (closed, activity)
    }
}

fn is_complete(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
    )
}
