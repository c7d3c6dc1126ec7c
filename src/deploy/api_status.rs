//! The API server's `Status` error body: message, reason and field causes.

use serde::Deserialize;
use std::fmt;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiStatus {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub details: Option<StatusDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatusDetails {
    #[serde(default)]
    pub causes: Vec<StatusCause>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatusCause {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub reason: String,
}

impl ApiStatus {
    /// Parses a `Status` body; a body that is not one (a proxy's HTML page) keeps its text.
    pub fn from_body(code: u16, body: &[u8]) -> ApiStatus {
        match serde_json::from_slice::<ApiStatus>(body) {
            Ok(mut s) if !s.message.is_empty() || !s.reason.is_empty() => {
                s.code = code;
                s
            }
            _ => {
                let text = String::from_utf8_lossy(body);
                let message = text.trim().chars().take(300).collect::<String>();
                ApiStatus {
                    code,
                    message,
                    ..ApiStatus::default()
                }
            }
        }
    }

    pub fn causes(&self) -> &[StatusCause] {
        self.details.as_ref().map_or(&[], |d| &d.causes)
    }

    /// Whether the server refused to change an immutable field in place.
    pub fn is_immutable(&self) -> bool {
        self.code == 422
            && (self.message.contains("immutable")
                || self.message.contains("may not change fields")
                || self.causes().iter().any(|c| {
                    c.message.contains("immutable") || c.message.contains("may not change")
                }))
    }
}

impl fmt::Display for ApiStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if !self.reason.is_empty() {
            write!(f, " {}", self.reason)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        for c in self.causes() {
            write!(f, "\n  field `{}`: {}", c.field, c.message)?;
        }
        Ok(())
    }
}
