//! Stopping builds on SIGINT, SIGTERM or SIGHUP with a word about each: without this, a
//! signal ends the process between two status lines, the builders run on without a
//! parent, and the run's output stops at `Building NAME` with no error at all.
//!
//! [`listen`] turns the signals into an [`Interrupt`] that builder calls watch: a running
//! builder is asked to stop (SIGTERM, then SIGKILL), its failure names the signal and
//! shows the log, images not started yet are not started, and the run ends with its
//! usual summary.

use tokio::sync::watch;

/// Which signal asked the run to stop, once one has.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<Option<&'static str>>);

impl Interrupt {
    /// Never fires (tests, and callers that handle signals themselves).
    pub fn never() -> Interrupt {
        let (tx, rx) = watch::channel(None);
        // The receiver keeps answering `None` after the sender is gone.
        drop(tx);
        Interrupt(rx)
    }

    /// The signal's name, when one arrived.
    pub fn signal(&self) -> Option<&'static str> {
        *self.0.borrow()
    }

    /// Resolves with the signal's name when one arrives (never, for [`Interrupt::never`]).
    pub async fn wait(&self) -> &'static str {
        let mut rx = self.0.clone();
        loop {
            if let Some(signal) = *rx.borrow_and_update() {
                return signal;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Signal handling for the duration of one run; dropping it gives SIGTERM and SIGHUP
/// back their previous disposition (SIGINT stays with Tokio, which other commands that
/// watch Ctrl-C share).
pub struct Listener {
    previous: Vec<(libc::c_int, libc::sigaction)>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts listening on the current Tokio runtime.
pub fn listen() -> std::io::Result<(Interrupt, Listener)> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut previous = Vec::new();
    for sig in [libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: reading the current action into a zeroed struct; no action is changed.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } == 0 {
            previous.push((sig, old));
        }
    }
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (tx, rx) = watch::channel(None);
    let task = tokio::spawn(async move {
        let name = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
        };
        let _ = tx.send(Some(name));
    });
    Ok((Interrupt(rx), Listener { previous, task }))
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
        for (sig, old) in &self.previous {
            // SAFETY: restores an action read from the kernel by `listen`.
            unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        }
    }
}

/// A signal's usual name, and what commonly sends it, for a builder that died of one.
pub fn describe(signal: i32) -> String {
    match signal {
        libc::SIGKILL => {
            "SIGKILL (sent by the kernel's out-of-memory killer, see `dmesg`, or by a timeout)"
                .into()
        }
        libc::SIGTERM => "SIGTERM (asked to stop: a timeout, a service manager, `kill`)".into(),
        libc::SIGINT => "SIGINT (Ctrl-C)".into(),
        libc::SIGHUP => "SIGHUP (its terminal went away)".into(),
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGABRT => {
            format!("signal {signal} (the builder crashed)")
        }
        libc::SIGXFSZ => "SIGXFSZ (a file grew past the file-size limit, `ulimit -f`)".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_never_fires() {
        crate::rt::block_on(async {
            let i = Interrupt::never();
            assert_eq!(i.signal(), None);
            let waited = tokio::time::timeout(std::time::Duration::from_millis(20), i.wait()).await;
            assert!(waited.is_err());
        });
    }

    #[test]
    fn a_fired_interrupt_names_its_signal() {
        crate::rt::block_on(async {
            let (tx, rx) = watch::channel(None);
            let i = Interrupt(rx);
            tx.send(Some("SIGTERM")).unwrap();
            assert_eq!(i.wait().await, "SIGTERM");
            assert_eq!(i.signal(), Some("SIGTERM"));
        });
    }

    #[test]
    fn signals_are_named_with_their_usual_sender() {
        assert!(describe(libc::SIGKILL).contains("out-of-memory"));
        assert!(describe(libc::SIGSEGV).contains("crashed"));
    }
}
