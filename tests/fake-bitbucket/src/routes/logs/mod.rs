//! Step logs: `R/pipelines/{uuid}/steps/{step}/log` serves a running step's
//! log itself and redirects (307) a finished one to pre-signed "long-term
//! storage" under `/log-storage/`, which needs no credential. Both honour
//! `Range: bytes=a-b`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

mod text;

pub use text::log_text;

use super::pipelines::{find, find_step};
use super::{open_repository, param, query_pairs};
use crate::world::{StepPhase, StepResult};
use crate::{Shared, errors, lock};

pub async fn step_log(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid, step)): Path<(String, String, String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &repository, &uuid)?;
    let run = &world.pipelines[at];
    let index = find_step(run, &step)?;
    match run.step_phase(index) {
        StepPhase::Pending | StepPhase::Completed(StepResult::NotRun) => Err(errors::error(
            404,
            "The log file does not exist for the given step.",
        )),
        StepPhase::Running => Ok(serve(
            log_text(&world, run, index).into_bytes(),
            &headers,
            "application/octet-stream",
        )),
        StepPhase::Completed(_) => {
            let step_uuid = run.steps[index].uuid.clone();
            let run_uuid = run.uuid.clone();
            let signature = random_hex();
            let id = step_uuid.trim_matches(['{', '}']).to_owned();
            let location = format!(
                "{}/log-storage/{id}?signature={signature}&expires=3600",
                world.base_url
            );
            world.log_links.insert(signature, (run_uuid, step_uuid));
            let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            Ok(response)
        }
    }
}

pub async fn storage(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let world = lock(&world);
    let query = query_pairs(query.as_deref());
    let denied = || {
        errors::raw(
            403,
            "text/plain",
            "Request has expired or the signature does not match.".into(),
            None,
        )
    };
    let Some((run_uuid, step_uuid)) = param(&query, "signature")
        .and_then(|s| world.log_links.get(s))
        .cloned()
    else {
        return denied();
    };
    if step_uuid.trim_matches(['{', '}']) != id {
        return denied();
    }
    let Some(run) = world.pipeline(&run_uuid) else {
        return errors::raw(404, "text/plain", "No such log.".into(), None);
    };
    let Some(index) = run.steps.iter().position(|s| s.uuid == step_uuid) else {
        return errors::raw(404, "text/plain", "No such log.".into(), None);
    };
    serve(
        log_text(&world, run, index).into_bytes(),
        &headers,
        "text/plain; charset=utf-8",
    )
}

/// What a `Range` header asks of a body of `total` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Range {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range (`a-b`, `a-`, `-n`); anything else is ignored, as
/// RFC 9110 allows, and the whole body is sent.
pub fn parse_range(header: Option<&str>, total: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return match last.parse::<u64>() {
            Ok(0) => Range::Unsatisfiable,
            Ok(_) if total == 0 => Range::Unsatisfiable,
            Ok(n) => Range::Part(total.saturating_sub(n), total - 1),
            Err(_) => Range::Whole,
        };
    }
    let Ok(first) = first.parse::<u64>() else {
        return Range::Whole;
    };
    let last = match last {
        "" => None,
        last => match last.parse::<u64>() {
            Ok(last) if last >= first => Some(last),
            _ => return Range::Whole,
        },
    };
    if first >= total {
        return Range::Unsatisfiable;
    }
    Range::Part(first, last.unwrap_or(u64::MAX).min(total - 1))
}

/// The body, whole (200) or the requested part (206), or 416; with an ETag
/// honoured by `If-None-Match`.
pub fn serve(body: Vec<u8>, headers: &HeaderMap, content_type: &str) -> Response {
    let total = body.len() as u64;
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..16]);
    let header_text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if header_text(header::IF_NONE_MATCH).is_some_and(|v| v == etag || v == "*") {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        insert(&mut response, header::ETAG, &etag);
        return response;
    }
    let mut response = match parse_range(header_text(header::RANGE), total) {
        Range::Whole => (StatusCode::OK, body).into_response(),
        Range::Part(first, last) => {
            let part = body[first as usize..=last as usize].to_vec();
            let mut response = (StatusCode::PARTIAL_CONTENT, part).into_response();
            insert(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes {first}-{last}/{total}"),
            );
            response
        }
        Range::Unsatisfiable => {
            let mut response = errors::error_body(
                416,
                json!({ "type": "error", "error": {
                    "message": "Requested range not satisfiable",
                    "detail": format!("The log has {total} bytes.")
                } }),
            );
            insert(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes */{total}"),
            );
            return response;
        }
    };
    insert(&mut response, header::CONTENT_TYPE, content_type);
    insert(&mut response, header::ACCEPT_RANGES, "bytes");
    insert(&mut response, header::ETAG, &etag);
    response
}

fn insert(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// 128 random bits as hex: the pre-signed URL's signature.
fn random_hex() -> String {
    let half = || {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(0x5157_0a7e);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_like_rfc_9110() {
        assert_eq!(parse_range(None, 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Range::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Range::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=90-500"), 100), Range::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Range::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-500"), 100), Range::Part(0, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Range::Unsatisfiable);
        assert_eq!(
            parse_range(Some("bytes=150-200"), 100),
            Range::Unsatisfiable
        );
        assert_eq!(parse_range(Some("bytes=-0"), 100), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), Range::Unsatisfiable);
        // Malformed or multi-part: ignored, the whole body goes.
        assert_eq!(parse_range(Some("bytes=9-1"), 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=a-b"), 100), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Range::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 100), Range::Whole);
    }

    #[test]
    fn serving_a_part_says_which() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_static("bytes=2-5"));
        let response = serve(b"0123456789".to_vec(), &headers, "text/plain");
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes 2-5/10");
        headers.insert(header::RANGE, HeaderValue::from_static("bytes=10-"));
        let response = serve(b"0123456789".to_vec(), &headers, "text/plain");
        assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes */10");
    }

    #[test]
    fn signatures_are_fresh() {
        assert_ne!(random_hex(), random_hex());
        assert_eq!(random_hex().len(), 32);
    }
}
