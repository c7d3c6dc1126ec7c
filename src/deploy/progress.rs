//! How a deploy run tells what happens: the printer implements it (lines on stderr, a
//! bar on a terminal, JSON events for scripts); tests and quiet runs may say nothing.

use crate::secrets::Masker;

/// What a run reports as it goes. Everything shown passes through [`Progress::masker`].
pub trait Progress: Sync {
    /// An object changed state: `verb` is the state (`Applying`, `Waiting`, `Ready`, ...),
    /// `detail` what is known (outcome, what it waits for, an error).
    fn object(&self, verb: &str, object: &str, detail: &str);

    /// One more object is done (for a bar).
    fn tick(&self);

    /// A free-form status line (`    Interrupt finishing 3 requests in flight`).
    fn status(&self, verb: &str, message: &str);

    /// A line of text (a failed pod's log), as it is.
    fn line(&self, text: &str);

    /// The run is over (a bar goes away).
    fn finish(&self);

    /// The secrets of the run: messages kept for later (a result's detail) are masked
    /// with it too.
    fn masker(&self) -> &Masker;
}
