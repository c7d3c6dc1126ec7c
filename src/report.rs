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

    /// Lines printed under the error, one per problem (every problem of a render).
    fn details(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Finds one error type among the causes of a failure: the error printer is handed one
/// per type that implements [`Hint`] (see `lib.rs`), so it names none of them.
pub type HintLookup = for<'a> fn(&'a (dyn std::error::Error + 'static)) -> Option<&'a dyn Hint>;

/// The [`HintLookup`] of the error type `E`.
pub fn hint_of<'a, E: Hint + 'static>(
    cause: &'a (dyn std::error::Error + 'static),
) -> Option<&'a dyn Hint> {
    cause.downcast_ref::<E>().map(|e| e as &dyn Hint)
}

/// An error and its causes on one line.
pub fn one_line(e: &dyn std::error::Error) -> String {
    crate::redact::urls(&joined(e))
}

fn joined(e: &dyn std::error::Error) -> String {
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
        assert!(hint_of::<Inner>(&e).is_none());
        let inner = hint_of::<Inner>(std::error::Error::source(&e).unwrap()).unwrap();
        assert_eq!(inner.hint(), Some("do this".into()));
    }
}
