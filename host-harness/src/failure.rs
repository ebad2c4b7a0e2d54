//! How a call can fail: the component's own typed error, or the sandbox
//! stopping it. Both render as the JSON the CLI and gateway answer with.

use serde_json::{Value, json};

use crate::contract::Error as IntegrationError;

/// A sandbox limit a call ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Memory,
    Deadline,
}

#[derive(Debug)]
pub enum Failure {
    /// The component answered with the contract's error variant.
    Integration(IntegrationError),
    /// The call was stopped at a sandbox limit; the next call starts afresh.
    LimitExceeded { limit: Limit, message: String },
    /// The component trapped (a panic or a fault) outside any limit.
    Trap(String),
    /// The host could not run the call (instantiation, a broken store...).
    Host(String),
}

impl Failure {
    /// ATOM's error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Integration(error) => integration_code(error),
            Failure::LimitExceeded {
                limit: Limit::Deadline,
                ..
            } => "timeout",
            Failure::LimitExceeded {
                limit: Limit::Memory,
                ..
            } => "internal",
            Failure::Trap(_) | Failure::Host(_) => "internal",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::Integration(error) => details(error)
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            Failure::LimitExceeded { message, .. }
            | Failure::Trap(message)
            | Failure::Host(message) => message.clone(),
        }
    }

    pub fn retryable(&self) -> bool {
        match self {
            Failure::Integration(error) => details(error)
                .get("retryable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            Failure::LimitExceeded { .. } => true,
            Failure::Trap(_) | Failure::Host(_) => false,
        }
    }

    /// `{"code": …, "message": …, "retryable": …, …details}`
    pub fn to_json(&self) -> Value {
        let mut body = match self {
            Failure::Integration(error) => details(error),
            _ => json!({ "message": self.message(), "retryable": self.retryable() }),
        };
        if let Failure::LimitExceeded { limit, .. } = self {
            body["limit"] = json!(match limit {
                Limit::Memory => "memory",
                Limit::Deadline => "deadline",
            });
        }
        body["code"] = json!(self.code());
        body
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for Failure {}

fn integration_code(error: &IntegrationError) -> &'static str {
    match error {
        IntegrationError::AuthExpired(_) => "auth-expired",
        IntegrationError::AuthInvalid(_) => "auth-invalid",
        IntegrationError::PermissionDenied(_) => "permission-denied",
        IntegrationError::NotFound(_) => "not-found",
        IntegrationError::Validation(_) => "validation",
        IntegrationError::Conflict(_) => "conflict",
        IntegrationError::RateLimited(_) => "rate-limited",
        IntegrationError::UpstreamUnavailable(_) => "upstream-unavailable",
        IntegrationError::Timeout(_) => "timeout",
        IntegrationError::RetiredUpstream(_) => "retired-upstream",
        IntegrationError::Internal(_) => "internal",
    }
}

/// The variant's record as JSON (`{"message":…, "retryable":…, …}`).
fn details(error: &IntegrationError) -> Value {
    match serde_json::to_value(error) {
        // Externally tagged: {"NotFound": {...}}
        Ok(Value::Object(map)) => map
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}
