//! Parameters: where the values substituted into the templates come from.

pub mod local;
