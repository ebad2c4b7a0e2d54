//! The middleware: reads the whole request and the whole answer, checks
//! both against the operation and files what it finds in the world before
//! the caller sees the answer, so a test's last request is always counted.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::Response;

use super::Violation;
use super::check::{self, Finding};
use super::document::{Lookup, SPEC};
use crate::routes::query_pairs;
use crate::{Shared, lock};

/// Marks an answer a test injected (`Fault::Status`): the test's script,
/// deliberately off-spec at times (garbage bodies, odd statuses), so it is
/// not held to the spec. The request still is.
#[derive(Clone, Copy, Debug)]
pub struct Injected;

/// Marks an answer whose body is a file's raw bytes (`GET R/src/{commit}/{path}`
/// on a file): not held to the JSON schema the spec gives the operation,
/// where `overrides::RAW_CONTENT` lists it.
#[derive(Clone, Copy, Debug)]
pub struct RawContent;

pub async fn validate(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = query_pairs(request.uri().query());
    let content_type = header(request.headers().get(CONTENT_TYPE));
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return crate::errors::error(400, "The request body could not be read.");
    };

    let lookup = SPEC.lookup(&method, &path);
    let mut request_findings: Vec<Finding> = match &lookup {
        Lookup::Found(op) => check::request(op, &query, content_type.as_deref(), &body),
        Lookup::Unspecified => Vec::new(),
        Lookup::NoPath => vec![("path".into(), "no operation in the spec".into())],
        Lookup::NoMethod { path } => vec![(
            "method".into(),
            format!("the spec's {path} has no {method} operation"),
        )],
    };

    if let Lookup::Found(op) = &lookup
        && check::takes_form(op)
        && !body.is_empty()
    {
        let fields = crate::form::parse(content_type.as_deref(), body.clone()).await;
        request_findings.extend(check::form(op, fields));
    }

    let response = next.run(Request::from_parts(parts, Body::from(body))).await;

    let check_answer =
        response.extensions().get::<Injected>().is_none() && lock(&world).check_answers;
    let (response, response_findings) = match &lookup {
        Lookup::Found(op) if check_answer => {
            let (parts, body) = response.into_parts();
            let Ok(body) = to_bytes(body, usize::MAX).await else {
                return crate::errors::error(500, "The fake's answer could not be read.");
            };
            let raw = parts.extensions.get::<RawContent>().is_some();
            let findings = check::response(
                op,
                parts.status.as_u16(),
                header(parts.headers.get(CONTENT_TYPE)).as_deref(),
                &body,
                raw,
            );
            (Response::from_parts(parts, Body::from(body)), findings)
        }
        _ => (response, Vec::new()),
    };

    if !request_findings.is_empty() || !response_findings.is_empty() {
        let file = |side: &'static str, (at, what): Finding| Violation {
            method: method.clone(),
            path: path.clone(),
            side,
            at,
            what,
        };
        let mut world = lock(&world);
        for finding in request_findings {
            tracing::warn!(%method, %path, at = %finding.0, what = %finding.1, "request breaks the spec");
            world.violations.push(file("request", finding));
        }
        for finding in response_findings {
            tracing::warn!(%method, %path, at = %finding.0, what = %finding.1, "answer breaks the spec");
            world.violations.push(file("response", finding));
        }
    }
    response
}

fn header(value: Option<&axum::http::HeaderValue>) -> Option<String> {
    value.and_then(|v| v.to_str().ok()).map(str::to_owned)
}
