//! The middleware that plays a decided fault on one request.

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{Connection, FaultKind, Faults};
use crate::errors;

/// Largest answer the layer reads back to bend it.
const MAX_BODY: usize = 64 << 20;

const HTML_ERROR_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Bitbucket | Something went wrong</title></head>\n<body><h1>Something went wrong</h1><p>Bitbucket had a problem and could not answer. Try again in a few minutes.</p></body></html>\n";

pub(crate) async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let connection = request
        .extensions()
        .get::<ConnectInfo<Connection>>()
        .map(|info| info.0.clone());
    let method = request.method().clone();
    let page = page_number(request.uri().query());
    let decision = faults.decide(
        method.as_str(),
        request.uri().path(),
        request.uri().query(),
        |kind| match kind {
            FaultKind::Reset
            | FaultKind::Truncated
            | FaultKind::ActThenReset
            | FaultKind::ActThenTruncate => connection.is_some(),
            FaultKind::RepeatedPage => method == Method::GET && page.is_some_and(|p| p >= 2),
            _ => true,
        },
    );
    let Some(decision) = decision else {
        return next.run(request).await;
    };
    faults.count(&decision.kind);
    let safe = method == Method::GET || method == Method::HEAD;
    let bits = decision.bits;
    match decision.kind {
        FaultKind::ServerError => {
            let status = [500, 502, 503][(bits % 3) as usize];
            errors::error(status, "Something went wrong. Please try again later.")
        }
        FaultKind::EdgeTimeout => errors::timed_out(),
        FaultKind::RateLimited => errors::raw(
            429,
            "text/plain; charset=utf-8",
            "Rate limit for this resource has been exceeded".to_owned(),
            None,
        ),
        FaultKind::NotJson => {
            let status = if bits % 2 == 0 { 200 } else { 502 };
            errors::raw(
                status,
                "text/html; charset=utf-8",
                HTML_ERROR_PAGE.to_owned(),
                None,
            )
        }
        FaultKind::Stall(hold) => {
            tokio::time::sleep(hold).await;
            next.run(request).await
        }
        FaultKind::Reset => {
            if let Some(connection) = connection {
                connection.reset();
            }
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        FaultKind::ActThenReset => {
            let _acted = next.run(request).await;
            if let Some(connection) = connection {
                connection.reset();
            }
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        FaultKind::ActThen502 => {
            let _acted = next.run(request).await;
            errors::error(502, "Something went wrong. Please try again later.")
        }
        FaultKind::ActThen555 => {
            let _acted = next.run(request).await;
            errors::timed_out()
        }
        FaultKind::Truncated | FaultKind::ActThenTruncate => {
            let acts = safe || decision.kind == FaultKind::ActThenTruncate;
            let answer = if acts {
                next.run(request).await
            } else {
                stand_in()
            };
            let (parts, body) = buffered(answer).await;
            let body = if body.is_empty() {
                stand_in_body()
            } else {
                body
            };
            if let Some(connection) = connection {
                connection.truncate_after(body.len() / 2);
            }
            let mut response = Response::from_parts(parts, Body::from(body.clone()));
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            response
        }
        FaultKind::Oversized(limit) => {
            let answer = if safe {
                next.run(request).await
            } else {
                stand_in()
            };
            let (parts, mut body) = buffered(answer).await;
            // Trailing whitespace keeps a JSON answer valid: only its size is wrong.
            body.resize(body.len().max(limit + 1), b' ');
            let mut response = Response::from_parts(parts, Body::from(body));
            response.headers_mut().remove(header::CONTENT_LENGTH);
            response
        }
        FaultKind::RepeatedPage => repeated_page(request, next, page.unwrap_or(2)).await,
    }
}

/// Page `page`'s envelope around page `page - 1`'s values.
async fn repeated_page(request: Request, next: Next, page: usize) -> Response {
    let previous_uri = with_page(request.uri(), page - 1);
    let mut previous = Request::builder()
        .method(request.method().clone())
        .uri(previous_uri);
    for (name, value) in request.headers() {
        previous = previous.header(name, value);
    }
    let Ok(mut previous) = previous.body(Body::empty()) else {
        return next.run(request).await;
    };
    // The route was matched already: its path parameters ride in here.
    *previous.extensions_mut() = request.extensions().clone();
    let (_, previous) = buffered(next.clone().run(previous).await).await;
    let (parts, current) = buffered(next.run(request).await).await;
    let (Ok(previous), Ok(mut current)) = (
        serde_json::from_slice::<Value>(&previous),
        serde_json::from_slice::<Value>(&current),
    ) else {
        return Response::from_parts(parts, Body::from(current));
    };
    current["values"] = previous["values"].clone();
    let mut response = Response::from_parts(parts, Body::from(current.to_string()));
    response.headers_mut().remove(header::CONTENT_LENGTH);
    response
}

fn page_number(query: Option<&str>) -> Option<usize> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == "page")
        .and_then(|(_, value)| value.parse().ok())
}

fn with_page(uri: &axum::http::Uri, page: usize) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        if key != "page" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("page", &page.to_string());
    format!("{}?{}", uri.path(), query.finish())
}

/// What a bent write answers instead of running its route.
fn stand_in() -> Response {
    errors::error(500, "Something went wrong. Please try again later.")
}

fn stand_in_body() -> Vec<u8> {
    br#"{"type":"error","error":{"message":"Something went wrong."}}"#.to_vec()
}

async fn buffered(response: Response) -> (axum::http::response::Parts, Vec<u8>) {
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    (parts, bytes.to_vec())
}
