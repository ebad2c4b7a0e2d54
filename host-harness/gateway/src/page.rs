//! The integration page: the seed's eight tabs, as three files compiled into
//! the binary (no CDN, no Node step for whoever installs this). It is
//! served to anyone; everything it shows comes from the gateway's own routes
//! in the session a tenant's key opens.

use axum::http::header;
use axum::response::IntoResponse;

use super::reply::Reply;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/app.css");

/// Only the gateway's own scripts, styles and routes: data from Bitbucket
/// can never become script, and no other site can frame the page.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub async fn index() -> Reply {
    asset("text/html; charset=utf-8", INDEX)
}

pub async fn script() -> Reply {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Reply {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Reply {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
