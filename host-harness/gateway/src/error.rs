//! Every way a request can fail, the gateway's own refusals and the
//! component's failures alike, and the one place that decides each one's
//! HTTP status, headers and wire JSON: `{"error": {"code", "message",
//! "retryable", …}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use atom_runtime::Failure;
use atom_runtime::contract::Error as IntegrationError;

#[derive(Debug)]
pub enum GatewayError {
    /// No caller, or a key that is not valid: 401 with `WWW-Authenticate:
    /// Bearer`, so the client knows which credential to send.
    Unauthenticated(String),
    /// A request that proves itself by signature, and the signature failed:
    /// 401 without a bearer challenge, since no key would help.
    BadSignature(String),
    /// The caller is known but may not do this: 403.
    Forbidden(String),
    /// A `Host` the gateway does not answer to: 421.
    Misdirected(String),
    /// A malformed request, naming the field when there is one: 400.
    Validation {
        field: Option<String>,
        message: String,
    },
    /// A state-changing request that is not JSON: 415.
    UnsupportedMediaType(String),
    /// An operation the component does not publish: 404.
    OperationNotFound {
        operation: String,
    },
    NotFound(String),
    /// The request repeats one that was already accepted: 409.
    Conflict(String),
    /// The tenant must wait: its budget or its call slots are spent (429).
    RateLimited {
        message: String,
        retry_after_seconds: u64,
    },
    /// The gateway as a whole has no room for the call: 503.
    Overloaded {
        message: String,
        retry_after_seconds: u64,
    },
    /// Something the gateway depends on (randomness, a task) failed: 503,
    /// code `internal`.
    Unavailable(String),
    /// The store or the shared state (PostgreSQL, SQLite, Redis) does not
    /// answer: 503, code `service_down`, retryable, and nothing was done.
    ServiceDown(String),
    /// The component's own failure, or the sandbox stopping the call.
    Component(Failure),
}

impl From<Failure> for GatewayError {
    fn from(failure: Failure) -> Self {
        GatewayError::Component(failure)
    }
}

impl GatewayError {
    pub fn validation(message: impl Into<String>) -> Self {
        GatewayError::Validation {
            field: None,
            message: message.into(),
        }
    }

    /// The wire format's code.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::Unauthenticated(_) | GatewayError::BadSignature(_) => "auth_invalid",
            GatewayError::Forbidden(_) | GatewayError::Misdirected(_) => "permission_denied",
            GatewayError::Validation { .. } | GatewayError::UnsupportedMediaType(_) => "validation",
            GatewayError::OperationNotFound { .. } => "operation_not_found",
            GatewayError::NotFound(_) => "not_found",
            GatewayError::Conflict(_) => "conflict",
            GatewayError::RateLimited { .. } => "rate_limited",
            GatewayError::Overloaded { .. } => "overloaded",
            GatewayError::Unavailable(_) => "internal",
            GatewayError::ServiceDown(_) => "service_down",
            GatewayError::Component(failure) => failure.code(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::Unauthenticated(_) | GatewayError::BadSignature(_) => {
                StatusCode::UNAUTHORIZED
            }
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::Misdirected(_) => StatusCode::MISDIRECTED_REQUEST,
            GatewayError::Validation { .. } => StatusCode::BAD_REQUEST,
            GatewayError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            GatewayError::OperationNotFound { .. } | GatewayError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            GatewayError::Conflict(_) => StatusCode::CONFLICT,
            GatewayError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::Overloaded { .. }
            | GatewayError::Unavailable(_)
            | GatewayError::ServiceDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Component(failure) => status_of_component(failure.code()),
        }
    }

    pub fn message(&self) -> String {
        match self {
            GatewayError::Unauthenticated(message)
            | GatewayError::BadSignature(message)
            | GatewayError::Forbidden(message)
            | GatewayError::Misdirected(message)
            | GatewayError::Validation { message, .. }
            | GatewayError::UnsupportedMediaType(message)
            | GatewayError::NotFound(message)
            | GatewayError::Conflict(message)
            | GatewayError::RateLimited { message, .. }
            | GatewayError::Overloaded { message, .. }
            | GatewayError::Unavailable(message)
            | GatewayError::ServiceDown(message) => message.clone(),
            GatewayError::OperationNotFound { operation } => {
                format!("unknown operation '{operation}'")
            }
            GatewayError::Component(failure) => failure.message(),
        }
    }

    pub fn retryable(&self) -> bool {
        match self {
            GatewayError::RateLimited { .. }
            | GatewayError::Overloaded { .. }
            | GatewayError::ServiceDown(_) => true,
            GatewayError::Component(failure) => failure.retryable(),
            _ => false,
        }
    }

    /// Seconds to wait before trying again, when that is known.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            GatewayError::RateLimited {
                retry_after_seconds,
                ..
            }
            | GatewayError::Overloaded {
                retry_after_seconds,
                ..
            } => Some(*retry_after_seconds),
            GatewayError::ServiceDown(_) | GatewayError::Component(Failure::ServiceDown(_)) => {
                Some(SERVICE_DOWN_RETRY_AFTER)
            }
            GatewayError::Component(Failure::Integration(IntegrationError::RateLimited(
                limited,
            ))) => limited.retry_after_seconds.map(u64::from),
            _ => None,
        }
    }

    /// The wire format's `{"code", "message", "retryable", …}`.
    pub fn details(&self) -> Value {
        if let GatewayError::Component(failure) = self {
            return failure.to_json();
        }
        let mut details = json!({
            "code": self.code(),
            "message": self.message(),
            "retryable": self.retryable(),
        });
        if let Some(seconds) = self.retry_after_seconds() {
            details["retry_after_seconds"] = json!(seconds);
        }
        if let GatewayError::Validation {
            field: Some(field), ..
        } = self
        {
            details["field"] = json!(field);
        }
        details
    }

    /// `body` with this error's status and headers, for route families
    /// whose error bodies are shaped differently from `{"error": …}`.
    pub fn respond(&self, body: Value) -> Response {
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after_seconds() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let GatewayError::Unauthenticated(_) = self {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Seconds a client waits before trying a call whose store or shared state
/// was down: a restart or failover takes about this long.
const SERVICE_DOWN_RETRY_AFTER: u64 = 2;

/// The HTTP status of a component failure's code.
fn status_of_component(code: &str) -> StatusCode {
    match code {
        "validation" => StatusCode::BAD_REQUEST,
        "auth_expired" | "auth_invalid" => StatusCode::UNAUTHORIZED,
        "permission_denied" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "conflict" => StatusCode::CONFLICT,
        "retired_upstream" => StatusCode::GONE,
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "upstream_unavailable" => StatusCode::BAD_GATEWAY,
        "timeout" => StatusCode::GATEWAY_TIMEOUT,
        "service_down" => StatusCode::SERVICE_UNAVAILABLE,
        // Not 502/504: HTTP clients and proxies retry those by themselves,
        // and a second try of a write whose answer was lost may duplicate it.
        "outcome_unknown" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        self.respond(json!({ "error": self.details() }))
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    use atom_runtime::Limit;
    use atom_runtime::contract::{ErrorInfo, RateLimitError};

    use super::*;

    fn info(status: Option<u16>) -> ErrorInfo {
        ErrorInfo {
            message: "m".into(),
            retryable: true,
            status,
        }
    }

    #[test]
    fn statuses_follow_the_code_and_waits_become_retry_after() {
        let cases = [
            (
                GatewayError::Unauthenticated("m".into()),
                StatusCode::UNAUTHORIZED,
            ),
            (
                GatewayError::Misdirected("m".into()),
                StatusCode::MISDIRECTED_REQUEST,
            ),
            (
                GatewayError::Unavailable("m".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                GatewayError::ServiceDown("m".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                GatewayError::Component(Failure::ServiceDown("m".into())),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                IntegrationError::RetiredUpstream(atom_runtime::contract::RetiredError {
                    message: "m".into(),
                    announcement_url: None,
                    retryable: false,
                })
                .into_gateway(),
                StatusCode::GONE,
            ),
            (
                IntegrationError::UpstreamUnavailable(info(Some(503))).into_gateway(),
                StatusCode::BAD_GATEWAY,
            ),
            (
                IntegrationError::OutcomeUnknown(info(None)).into_gateway(),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                GatewayError::Component(Failure::LimitExceeded {
                    limit: Limit::Deadline,
                    message: "m".into(),
                }),
                StatusCode::GATEWAY_TIMEOUT,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error}");
        }
        let limited = IntegrationError::RateLimited(RateLimitError {
            message: "m".into(),
            retry_after_seconds: Some(7),
            retryable: true,
        })
        .into_gateway()
        .into_response();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.headers()[header::RETRY_AFTER], "7");
        let refused = GatewayError::Unauthenticated("m".into()).into_response();
        assert_eq!(refused.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    trait IntoGateway {
        fn into_gateway(self) -> GatewayError;
    }

    impl IntoGateway for IntegrationError {
        fn into_gateway(self) -> GatewayError {
            GatewayError::Component(Failure::Integration(self))
        }
    }
}
