//! The contract's error variant: constructors, and the mapping from
//! Bitbucket's answers (JSON error bodies, bare statuses, transport failures).

use serde::Deserialize;
use serde_json::Value;

pub use crate::types::Error;
use crate::types::{ErrorInfo, PermissionError, RateLimitError, RetiredError, ValidationError};

/// Longest upstream text copied into a message.
const MAX_UPSTREAM_TEXT: usize = 300;

impl Error {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Error::Validation(ValidationError {
            field: field.to_owned(),
            message: message.into(),
            retryable: false,
        })
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(info(message, false, None))
    }

    pub fn config(key: &str, problem: &str) -> Self {
        Self::internal(format!("connection setting '{key}' {problem}"))
    }

    pub fn auth_invalid(message: impl Into<String>) -> Self {
        Error::AuthInvalid(info(message, false, None))
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Error::Timeout(info(message, true, None))
    }

    pub fn unavailable(message: impl Into<String>, status: Option<u16>) -> Self {
        Error::UpstreamUnavailable(info(message, true, status))
    }

    /// Unavailable in a way the same call will meet again.
    pub fn unavailable_for_good(message: impl Into<String>, status: Option<u16>) -> Self {
        Error::UpstreamUnavailable(info(message, false, status))
    }

    /// A write whose answer was lost after it may have reached Bitbucket.
    /// Never retryable: a second attempt could do the same thing twice.
    pub fn outcome_unknown(cause: &str) -> Self {
        Error::OutcomeUnknown(info(
            format!(
                "the write was sent and its answer was lost ({cause}): it may or may not have happened; check Bitbucket before trying again"
            ),
            false,
            None,
        ))
    }

    /// A write Bitbucket answered with a 5xx (555, its edge timeout,
    /// included): it may have acted before failing. Never retryable.
    pub fn outcome_unknown_answered(status: u16, message: &str) -> Self {
        Error::OutcomeUnknown(info(
            format!(
                "the write was sent and Bitbucket answered HTTP {status} ({message}): it may or may not have happened; check Bitbucket before trying again"
            ),
            false,
            Some(status),
        ))
    }

    pub fn sandbox_denied(target: &str) -> Self {
        Error::PermissionDenied(PermissionError {
            message: format!(
                "the host sandbox refused the outbound request to {target}: it is not in the allowlist"
            ),
            required_scopes: Vec::new(),
            granted_scopes: Vec::new(),
            retryable: false,
        })
    }

    /// The same error with `context` before its message ("published 2 of 5
    /// comments; then: …"), code, retry flag and status unchanged.
    pub fn with_context(self, context: &str) -> Self {
        let join = |message: String| format!("{context}; then: {message}");
        match self {
            Error::AuthExpired(e) => Error::AuthExpired(ErrorInfo {
                message: join(e.message),
                ..e
            }),
            Error::AuthInvalid(e) => Error::AuthInvalid(ErrorInfo {
                message: join(e.message),
                ..e
            }),
            Error::NotFound(e) => Error::NotFound(ErrorInfo {
                message: join(e.message),
                ..e
            }),
            Error::Conflict(e) => Error::Conflict(ErrorInfo {
                message: join(e.message),
                ..e
            }),
            Error::UpstreamUnavailable(e) => Error::UpstreamUnavailable(ErrorInfo {
                message: join(e.message),
                ..e
            }),
            Error::Timeout(e) => Error::Timeout(ErrorInfo {
                message: join(e.message),
                ..e
            }),
            Error::OutcomeUnknown(e) => Error::OutcomeUnknown(ErrorInfo {
                message: join(e.message),
                ..e
            }),
            Error::Internal(e) => Error::Internal(ErrorInfo {
                message: join(e.message),
                ..e
            }),
            Error::PermissionDenied(e) => Error::PermissionDenied(PermissionError {
                message: join(e.message),
                ..e
            }),
            Error::Validation(e) => Error::Validation(ValidationError {
                message: join(e.message),
                ..e
            }),
            Error::RateLimited(e) => Error::RateLimited(RateLimitError {
                message: join(e.message),
                ..e
            }),
            Error::RetiredUpstream(e) => Error::RetiredUpstream(RetiredError {
                message: join(e.message),
                ..e
            }),
        }
    }

    /// The code, message, retry flag and upstream status every variant
    /// carries: the one place that looks inside the variant.
    fn parts(&self) -> (&'static str, &str, bool, Option<u16>) {
        match self {
            Error::AuthExpired(e) => ("auth_expired", &e.message, e.retryable, e.status),
            Error::AuthInvalid(e) => ("auth_invalid", &e.message, e.retryable, e.status),
            Error::NotFound(e) => ("not_found", &e.message, e.retryable, e.status),
            Error::Conflict(e) => ("conflict", &e.message, e.retryable, e.status),
            Error::UpstreamUnavailable(e) => {
                ("upstream_unavailable", &e.message, e.retryable, e.status)
            }
            Error::Timeout(e) => ("timeout", &e.message, e.retryable, e.status),
            Error::OutcomeUnknown(e) => ("outcome_unknown", &e.message, e.retryable, e.status),
            Error::Internal(e) => ("internal", &e.message, e.retryable, e.status),
            Error::PermissionDenied(e) => ("permission_denied", &e.message, e.retryable, None),
            Error::Validation(e) => ("validation", &e.message, e.retryable, None),
            Error::RateLimited(e) => ("rate_limited", &e.message, e.retryable, None),
            Error::RetiredUpstream(e) => ("retired_upstream", &e.message, e.retryable, None),
        }
    }

    /// The variant's name in the wire format (`not_found`).
    pub fn code(&self) -> &'static str {
        self.parts().0
    }

    /// The human message, safe to show a user.
    pub fn message(&self) -> &str {
        self.parts().1
    }

    pub fn retryable(&self) -> bool {
        self.parts().2
    }

    /// The upstream's HTTP status, when an answer was mapped into this error.
    pub fn upstream_status(&self) -> Option<u16> {
        self.parts().3
    }

    /// Maps a non-success upstream answer. `retry_after` is the parsed
    /// `Retry-After` header, when there was one.
    pub fn from_upstream(status: u16, body: &[u8], retry_after: Option<u32>) -> Self {
        let parsed = serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .and_then(|b| b.error);
        let message = describe(status, parsed.as_ref(), body);
        let status_some = Some(status);
        match status {
            400 | 422 => Error::Validation(ValidationError {
                field: parsed
                    .as_ref()
                    .and_then(ApiError::first_field)
                    .unwrap_or_else(|| "request".to_owned()),
                message,
                retryable: false,
            }),
            401 => Error::AuthInvalid(info(message, false, status_some)),
            403 => {
                let (required, granted) = parsed.as_ref().map(ApiError::scopes).unwrap_or_default();
                Error::PermissionDenied(PermissionError {
                    message,
                    required_scopes: required,
                    granted_scopes: granted,
                    retryable: false,
                })
            }
            404 => Error::NotFound(info(message, false, status_some)),
            409 => Error::Conflict(info(message, false, status_some)),
            416 => Error::validation(
                "range",
                format!("the requested range is outside the resource: {message}"),
            ),
            410 => Error::RetiredUpstream(RetiredError {
                announcement_url: parsed.as_ref().and_then(ApiError::announcement_url),
                message,
                retryable: false,
            }),
            429 => Error::RateLimited(RateLimitError {
                message,
                retry_after_seconds: retry_after,
                retryable: true,
            }),
            // Bitbucket's "timed out, try again later" for merge and decline.
            555 | 504 | 408 => Error::Timeout(info(message, true, status_some)),
            500..=599 => Error::UpstreamUnavailable(info(message, true, status_some)),
            _ => Error::Internal(info(message, false, status_some)),
        }
    }
}

fn info(message: impl Into<String>, retryable: bool, status: Option<u16>) -> ErrorInfo {
    ErrorInfo {
        message: message.into(),
        retryable,
        status,
    }
}

/// `{"type":"error","error":{"message":…,"detail":…,"data":…,"fields":…}}`
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    message: Option<String>,
    /// A string, or `{"required":[…],"granted":[…]}` on scope errors.
    detail: Option<Value>,
    data: Option<Value>,
    fields: Option<Value>,
}

impl ApiError {
    fn first_field(&self) -> Option<String> {
        match self.fields.as_ref()? {
            Value::Object(map) => map.keys().next().cloned(),
            Value::Array(list) => list.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        }
    }

    fn scopes(&self) -> (Vec<String>, Vec<String>) {
        let list = |key: &str| -> Vec<String> {
            self.detail
                .as_ref()
                .and_then(|d| d.get(key))
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        (list("required"), list("granted"))
    }

    fn announcement_url(&self) -> Option<String> {
        self.data
            .as_ref()?
            .get("announcement_url")?
            .as_str()
            .map(str::to_owned)
    }
}

fn describe(status: u16, parsed: Option<&ApiError>, body: &[u8]) -> String {
    let mut text = match parsed.and_then(|e| e.message.clone()) {
        Some(message) => message,
        None => {
            // 429 is text/plain, gateways answer HTML: keep a short plain snippet.
            let raw = String::from_utf8_lossy(body);
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('<') {
                format!("Bitbucket answered HTTP {status}")
            } else {
                raw.to_owned()
            }
        }
    };
    if let Some(Value::String(detail)) = parsed.and_then(|e| e.detail.as_ref())
        && !detail.is_empty()
    {
        text = format!("{text}: {detail}");
    }
    truncate(text, MAX_UPSTREAM_TEXT)
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_endpoint_keeps_the_announcement() {
        let body = br#"{"type":"error","error":{"message":"CHANGE-2770 - Functionality has been deprecated","detail":"Please read the changelog entry for more details.","data":{"announcement_url":"https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770"}}}"#;
        let Error::RetiredUpstream(e) = Error::from_upstream(410, body, None) else {
            panic!("410 must be retired-upstream");
        };
        assert_eq!(
            e.announcement_url.as_deref(),
            Some("https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770")
        );
        assert!(e.message.starts_with("CHANGE-2770"));
    }

    #[test]
    fn scope_errors_carry_required_and_granted() {
        let body = br#"{"type":"error","error":{"message":"Your credentials lack one or more required privilege scopes.","detail":{"required":["pullrequest:write"],"granted":["pullrequest"]}}}"#;
        let Error::PermissionDenied(e) = Error::from_upstream(403, body, None) else {
            panic!("403 must be permission-denied");
        };
        assert_eq!(e.required_scopes, ["pullrequest:write"]);
        assert_eq!(e.granted_scopes, ["pullrequest"]);
    }

    #[test]
    fn plain_text_rate_limit_is_rate_limited_and_retryable() {
        let e = Error::from_upstream(
            429,
            b"Rate limit for this resource has been exceeded",
            Some(7),
        );
        let Error::RateLimited(r) = &e else {
            panic!("429 must be rate-limited");
        };
        assert_eq!(r.retry_after_seconds, Some(7));
        assert_eq!(r.message, "Rate limit for this resource has been exceeded");
        assert!(e.retryable());
    }

    #[test]
    fn merge_timeout_555_is_a_retryable_timeout() {
        let e = Error::from_upstream(555, b"", None);
        assert!(matches!(e, Error::Timeout(_)) && e.retryable());
    }
}
