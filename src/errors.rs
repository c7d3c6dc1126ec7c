//! Printing an error: `error:` with what we were doing, `Caused by:` for each cause (with
//! the lines a cause details, such as every problem of a render), and one `hint:`: that of
//! the outermost cause that has one. Which errors carry a hint is the errors' own business
//! ([`crate::report::Hint`]); this module names none of them.

use crate::printer::Printer;
use crate::report::HintLookup;

/// Exit codes: 0 success, 1 differences found (`diff`), 2 error.
pub const EXIT_ERROR: u8 = 2;
pub const EXIT_DIFFERENCES: u8 = 1;

/// Prints `err`; `hinted` finds the causes that implement [`crate::report::Hint`].
pub fn report(printer: &Printer, err: &anyhow::Error, hinted: &[HintLookup]) {
    printer.error(&render(&printer.error_label(), err, hinted));
}

/// The report of `err`. Any URL in it loses its user info, query and fragment, whichever
/// stage wrote it: a URL a user gave (`OS_AUTH_URL`, a template source, a kubeconfig's
/// server) may carry a password or a token there, and an error is no place to show it.
fn render(label: &str, err: &anyhow::Error, hinted: &[HintLookup]) -> String {
    crate::redact::urls(&report_text(label, err, hinted))
}

fn report_text(label: &str, err: &anyhow::Error, hinted: &[HintLookup]) -> String {
    let mut text = format!("{label}: {err}\n");
    let mut hint = None;
    for (i, cause) in err.chain().enumerate() {
        if i > 0 {
            text.push_str(&format!("\nCaused by:\n  {cause}\n"));
        }
        let Some(h) = hinted.iter().find_map(|lookup| lookup(cause)) else {
            continue;
        };
        for line in h.details() {
            text.push_str(&format!("  {line}\n"));
        }
        hint = hint.or_else(|| h.hint());
    }
    if let Some(hint) = hint {
        text.push_str(&format!("\nhint: {hint}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Hint, hint_of};

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    impl Hint for Outer {
        fn hint(&self) -> Option<String> {
            Some("the outer way out".into())
        }
    }

    impl Hint for Inner {
        fn hint(&self) -> Option<String> {
            Some("the inner way out".into())
        }
        fn details(&self) -> Vec<String> {
            vec!["a.yaml:1: one".into(), "b.yaml:2: two".into()]
        }
    }

    #[test]
    fn one_hint_the_outermost_and_every_detail_under_its_cause() {
        let err = anyhow::Error::new(Outer(Inner)).context("failed to do it");
        let text = render("error", &err, &[hint_of::<Outer>, hint_of::<Inner>]);
        assert_eq!(
            text,
            "error: failed to do it\n\nCaused by:\n  outer\n\nCaused by:\n  inner\n  a.yaml:1: one\n  b.yaml:2: two\n\nhint: the outer way out\n"
        );
        let inner_only = render("error", &err, &[hint_of::<Inner>]);
        assert!(
            inner_only.ends_with("hint: the inner way out\n"),
            "{inner_only}"
        );
        assert_eq!(inner_only.matches("hint:").count(), 1);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot connect to `{0}`: refused")]
    struct Leaky(String);

    #[test]
    fn urls_in_any_cause_lose_their_credentials() {
        let err = anyhow::Error::new(Leaky(
            "http://admin:S3CRET@keystone:5000/v3?token=T0K#f/auth/tokens".into(),
        ))
        .context("reading from https://u:p@h/x?sig=abc");
        let text = render("error", &err, &[]);
        for secret in ["S3CRET", "admin", "T0K", "u:p", "sig=abc"] {
            assert!(!text.contains(secret), "{secret}: {text}");
        }
        assert!(text.contains("http://keystone:5000/v3"), "{text}");
        assert!(text.contains("https://h/x"), "{text}");
    }
}
