//! How a problem is told: on one line (for a table cell, a log, a file moved to
//! `failed/`), and with the hint its error type carries (for the error printer).

/// An error that knows what the user can do about it.
///
/// Every stage error with a next step implements it; the error printer asks each cause
/// of a failure in turn and prints the first hint it gets, so the outermost error that
/// knows the way out (the one closest to what the user ran) has the last word.
pub trait Hint: std::error::Error {
    /// One sentence: what to run or change, in the words of the command line.
    fn hint(&self) -> Option<String>;
}

/// Finds the hint of one error type among the causes of a failure.
pub type HintLookup = fn(&(dyn std::error::Error + 'static)) -> Option<String>;

/// The [`HintLookup`] of the error type `E`.
pub fn hint_of<E: Hint + 'static>(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    cause.downcast_ref::<E>().and_then(Hint::hint)
}

/// An error and its causes on one line.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    impl Hint for Inner {
        fn hint(&self) -> Option<String> {
            Some("do this".into())
        }
    }

    #[test]
    fn one_line_joins_the_causes_once() {
        assert_eq!(one_line(&Outer(Inner)), "outer: inner");
    }

    #[test]
    fn a_lookup_finds_only_its_own_type() {
        let e = Outer(Inner);
        assert_eq!(hint_of::<Inner>(&e), None);
        assert_eq!(
            hint_of::<Inner>(std::error::Error::source(&e).unwrap()),
            Some("do this".into())
        );
    }
}
