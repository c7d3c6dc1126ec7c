//! A value during evaluation, with its taint: whether it derives from a
//! generated secret or a hidden parameter. Taint flows through every function
//! so an output built from a password is treated as a password.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Val {
    pub v: Value,
    pub secret: bool,
}

impl Val {
    pub(crate) fn plain(v: Value) -> Val {
        Val { v, secret: false }
    }

    pub(crate) fn secret(v: Value) -> Val {
        Val { v, secret: true }
    }

    /// A result computed from `inputs`: secret if any of them is.
    pub(crate) fn derived<'a>(v: Value, inputs: impl IntoIterator<Item = &'a Val>) -> Val {
        let secret = inputs.into_iter().any(|i| i.secret);
        Val { v, secret }
    }

    pub(crate) fn null() -> Val {
        Val::plain(Value::Null)
    }
}
