//! How a call can fail: the component's own typed error, or the sandbox
//! stopping it. Both render as the JSON the CLI and gateway answer with.

use serde::Serialize;
use serde_json::{Value, json};

use crate::contract::Error as IntegrationError;

/// A sandbox limit a call ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Memory,
    Deadline,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Memory => "memory",
            Limit::Deadline => "deadline",
        }
    }
}

/// A client's whole account of a trap or a host failure: their text names
/// the host's internals, and the request id finds it in the server log.
const INTERNALS_WITHHELD: &str =
    "the component failed; the server log has the details under this request's id";

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
    /// The credential store or the shared state did not answer during the
    /// call: nothing of it was stored, and trying again shortly may work.
    ServiceDown(String),
}

/// What a host function fails with when the store does not answer, so the
/// call's failure says `service_down` and not `internal`.
#[derive(Debug)]
pub struct StoreDown(pub String);

impl std::fmt::Display for StoreDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the store did not answer: {}", self.0)
    }
}

impl std::error::Error for StoreDown {}

/// A client's whole account of a store that did not answer.
const STORE_DOWN: &str = "the credential store or the shared state is unavailable; nothing was \
     done, try again shortly";

impl Failure {
    /// The error code in the wire format (`not_found`), one per variant of
    /// the contract's error, `timeout` or `internal` for the sandbox's own.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Integration(error) => integration(error).0,
            Failure::LimitExceeded {
                limit: Limit::Deadline,
                ..
            } => "timeout",
            Failure::LimitExceeded {
                limit: Limit::Memory,
                ..
            } => "internal",
            Failure::Trap(_) | Failure::Host(_) => "internal",
            Failure::ServiceDown(_) => "service_down",
        }
    }

    /// Why the sandbox stopped the call, when it did: `deadline`, `memory`
    /// or `trap`.
    pub fn sandbox_stop(&self) -> Option<&'static str> {
        match self {
            Failure::LimitExceeded { limit, .. } => Some(limit.name()),
            Failure::Trap(_) => Some("trap"),
            Failure::Integration(_) | Failure::Host(_) | Failure::ServiceDown(_) => None,
        }
    }

    /// The host's own account of a trap or a host failure (WebAssembly
    /// frames, store paths): for the server log, never for a client.
    pub fn internals(&self) -> Option<&str> {
        match self {
            Failure::Trap(text) | Failure::Host(text) | Failure::ServiceDown(text) => Some(text),
            Failure::Integration(_) | Failure::LimitExceeded { .. } => None,
        }
    }

    /// What a client may read; see [`Failure::internals`] for the rest.
    pub fn message(&self) -> String {
        self.to_json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn retryable(&self) -> bool {
        self.to_json()["retryable"].as_bool().unwrap_or(false)
    }

    /// `{"code": …, "message": …, "retryable": …, …details}`
    pub fn to_json(&self) -> Value {
        let mut body = match self {
            Failure::Integration(error) => integration(error).1,
            Failure::LimitExceeded { limit, message } => {
                // The same call hits the same memory cap again; a deadline may
                // well pass next time (a slow upstream, a busy host).
                let retryable = *limit == Limit::Deadline;
                json!({ "message": message, "retryable": retryable, "limit": limit.name() })
            }
            Failure::Trap(_) | Failure::Host(_) => {
                json!({ "message": INTERNALS_WITHHELD, "retryable": false })
            }
            Failure::ServiceDown(_) => json!({ "message": STORE_DOWN, "retryable": true }),
        };
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

/// The code and the variant's record as JSON: the one place that looks
/// inside the contract's error.
fn integration(error: &IntegrationError) -> (&'static str, Value) {
    fn record(value: &impl Serialize) -> Value {
        serde_json::to_value(value).unwrap_or_else(|_| json!({}))
    }
    match error {
        IntegrationError::AuthExpired(e) => ("auth_expired", record(e)),
        IntegrationError::AuthInvalid(e) => ("auth_invalid", record(e)),
        IntegrationError::PermissionDenied(e) => ("permission_denied", record(e)),
        IntegrationError::NotFound(e) => ("not_found", record(e)),
        IntegrationError::Validation(e) => ("validation", record(e)),
        IntegrationError::Conflict(e) => ("conflict", record(e)),
        IntegrationError::RateLimited(e) => ("rate_limited", record(e)),
        IntegrationError::UpstreamUnavailable(e) => ("upstream_unavailable", record(e)),
        IntegrationError::Timeout(e) => ("timeout", record(e)),
        IntegrationError::RetiredUpstream(e) => ("retired_upstream", record(e)),
        IntegrationError::Internal(e) => ("internal", record(e)),
        IntegrationError::OutcomeUnknown(e) => ("outcome_unknown", record(e)),
    }
}
