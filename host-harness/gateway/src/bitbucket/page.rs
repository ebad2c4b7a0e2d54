//! The integration page: the seed's eight tabs as an HTML file, a style
//! sheet and native JavaScript modules, compiled into the binary (no CDN, no
//! Node step for whoever installs this). It is served to anyone; everything
//! it shows comes from the gateway's own routes in the session a tenant's
//! key opens.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::GatewayError;

const INDEX: &str = include_str!("page/index.html");

/// `(name, content type, body)` of a file in `page/`, served as `/assets/{name}`.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        ($name, $content_type, include_str!(concat!("page/", $name)))
    };
}

const SCRIPT: &str = "text/javascript; charset=utf-8";

/// Everything under `/assets/`. The modules import each other by these
/// names (`./api.js` from `/assets/app.js`).
const ASSETS: &[(&str, &str, &str)] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", SCRIPT),
    asset!("api.js", SCRIPT),
    asset!("catalog.js", SCRIPT),
    asset!("dom.js", SCRIPT),
    asset!("events.js", SCRIPT),
    asset!("health.js", SCRIPT),
    asset!("nav.js", SCRIPT),
    asset!("session.js", SCRIPT),
    asset!("state.js", SCRIPT),
    asset!("overview.js", SCRIPT),
    asset!("insights.js", SCRIPT),
    asset!("measures.js", SCRIPT),
    asset!("workspaces.js", SCRIPT),
    asset!("repositories.js", SCRIPT),
    asset!("pull-requests.js", SCRIPT),
    asset!("review.js", SCRIPT),
    asset!("source.js", SCRIPT),
    asset!("pipelines.js", SCRIPT),
    asset!("issues.js", SCRIPT),
    asset!("code-search.js", SCRIPT),
    asset!("settings.js", SCRIPT),
];

/// Only the gateway's own scripts, styles and routes: data from Bitbucket
/// can never become script, and no other site can frame the page.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /assets/{name}`: one of [`ASSETS`], else 404.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(known, _, _)| *known == name) {
        Some((_, content_type, body)) => page(content_type, body),
        None => GatewayError::NotFound("no such asset".into()).into_response(),
    }
}

fn page(content_type: &'static str, body: &'static str) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A module imported but missing from the table would only fail in a
    /// browser; every `./name.js` an asset imports must be served.
    #[test]
    fn every_imported_module_is_served() {
        for (name, _, body) in ASSETS {
            for line in body
                .lines()
                .filter(|l| l.starts_with("import ") || l.starts_with("} from "))
            {
                let Some(start) = line.find("'./") else {
                    continue;
                };
                let target = &line[start + 3..];
                let target = &target[..target.find('\'').unwrap()];
                assert!(
                    ASSETS.iter().any(|(known, _, _)| *known == target),
                    "{name} imports {target}, which is not served"
                );
            }
        }
    }
}
