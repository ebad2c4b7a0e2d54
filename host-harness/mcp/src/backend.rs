//! The seam between the MCP server and whatever runs the operations: the CLI
//! over a sandbox and one tenant, the gateway over a tenant's API key. Plain
//! types only, so this crate needs none of the host crates.

use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One operation of the generic contract, as the host describes it to MCP.
///
/// The host builds these from `operations()`: `input_schema` is the
/// operation's `parameters_schema`, `output_schema` its `result_schema`, and
/// the four flags and `scopes` are its facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The operation's name (`list-repositories`), used as the tool's name.
    pub name: String,
    pub title: String,
    pub description: String,
    /// The JSON Schema of the params; MCP asks for an object at its root.
    pub input_schema: Value,
    /// The JSON Schema of the result.
    pub output_schema: Value,
    /// Changes nothing upstream.
    pub read_only: bool,
    /// Discards what the upstream cannot give back (delete, decline, merge…).
    pub destructive: bool,
    /// Repeating it leaves the upstream as one call did.
    pub idempotent: bool,
    /// Talks to a world outside the host (always so for an upstream API).
    pub open_world: bool,
    /// The OAuth scopes a call needs.
    pub scopes: Vec<String>,
}

/// A call that did not succeed, in the contract's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallError {
    /// The contract's error code: `validation`, `not_found`, `rate_limited`,
    /// `permission_denied`, `outcome_unknown`, … and this crate's own
    /// `cancelled` and `read_only`.
    pub code: String,
    pub message: String,
    pub retryable: bool,
    pub retry_after_seconds: Option<u32>,
    /// The parameter at fault (`page.size`), for `validation`.
    pub field: Option<String>,
    /// Whatever else the error carries (required and granted scopes, …);
    /// `null` when nothing.
    #[serde(default)]
    pub details: Value,
}

impl CallError {
    /// An error that is not retryable and names no field.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            retryable: false,
            retry_after_seconds: None,
            field: None,
            details: Value::Null,
        }
    }

    /// An `internal` error, for a failure of the host itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("internal", message)
    }

    /// From a host's error as JSON, `{code, message, retryable,
    /// retry_after_seconds?, field?, …}` (what ATOM's hosts already write),
    /// the whole of it kept as `details`.
    pub fn from_details(details: Value) -> Self {
        let text = |key: &str| details[key].as_str().map(str::to_owned);
        Self {
            code: text("code").unwrap_or_else(|| "internal".into()),
            message: text("message").unwrap_or_default(),
            retryable: details["retryable"].as_bool().unwrap_or(false),
            retry_after_seconds: details["retry_after_seconds"]
                .as_u64()
                .and_then(|s| u32::try_from(s).ok()),
            field: text("field"),
            details,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        if self.retryable {
            match self.retry_after_seconds {
                Some(seconds) => write!(f, "; retry after {seconds} s")?,
                None => write!(f, "; retryable")?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for CallError {}

/// What the MCP server needs of a host: the operations, which of them the
/// credential can use, and a way to run one.
///
/// `tools` and `usable` are asked on every `tools/list` and `tools/call`:
/// answer them from a cache (the operations do not change while a component
/// is loaded; the usable set is what `health` last said).
pub trait Backend: Send + Sync + 'static {
    /// Every operation, whatever the credential.
    fn tools(&self) -> impl Future<Output = Result<Vec<ToolSpec>, CallError>> + Send;

    /// The names of the operations the credential's scopes cover, or `None`
    /// when the upstream did not say which scopes it granted.
    fn usable(&self) -> impl Future<Output = Result<Option<Vec<String>>, CallError>> + Send;

    /// Run one operation with its params as JSON; the answer is the result
    /// as JSON.
    fn call(
        &self,
        name: &str,
        params_json: String,
    ) -> impl Future<Output = Result<String, CallError>> + Send;
}
