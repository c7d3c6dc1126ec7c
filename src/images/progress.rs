//! How an images run tells what happens to each image: the printer implements it (a
//! spinner line per image on a terminal, else a status line per change of state).

/// What an images run reports as it goes.
pub trait Progress: Send + Sync {
    /// `name` moved to a new state (`verb` in cargo's style: `Building`, `Pushed`, ...).
    fn update(&self, name: &str, verb: &str, detail: &str);

    /// A line about the whole run (`Storage overlay driver (...)`).
    fn note(&self, verb: &str, text: &str);

    /// `name` reached its final state.
    fn finish(&self, name: &str, verb: &str, detail: &str);
}
