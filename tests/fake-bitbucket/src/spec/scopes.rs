//! OAuth scopes, enforced as Bitbucket does: a call made with an OAuth
//! access token whose consumer was not granted every scope the spec's
//! `security` names for the operation is refused with 403 and the scopes
//! required and granted. Access tokens of repositories, projects and
//! workspaces, and API tokens, are not held to OAuth scopes here.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use super::document::{Lookup, SPEC};
use crate::{Shared, errors, lock};

/// What each scope also grants (Bitbucket's scope documentation: a write
/// scope implies its read scope; `pullrequest` implies `repository`).
const IMPLIES: &[(&str, &[&str])] = &[
    ("repository:write", &["repository"]),
    ("repository:admin", &[]),
    ("pullrequest", &["repository"]),
    (
        "pullrequest:write",
        &["pullrequest", "repository", "repository:write"],
    ),
    ("pipeline:write", &["pipeline"]),
    ("pipeline:variable", &["pipeline", "pipeline:write"]),
    ("issue:write", &["issue"]),
    ("account:write", &["account"]),
    ("project:admin", &["project"]),
    ("snippet:write", &["snippet"]),
    ("wiki", &[]),
];

pub async fn enforce(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let granted = {
        let world = lock(&world);
        bearer(&request).and_then(|token| world.oauth.access_scopes.get(token).cloned())
    };
    let Some(granted) = granted else {
        return next.run(request).await;
    };
    let Lookup::Found(operation) = SPEC.lookup(request.method().as_str(), request.uri().path())
    else {
        return next.run(request).await;
    };
    let required = required(operation.definition);
    let covered = expand(&granted);
    if required
        .iter()
        .all(|scope| covered.iter().any(|c| c == scope))
    {
        return next.run(request).await;
    }
    errors::error_body(
        403,
        json!({
            "type": "error",
            "error": {
                "message": "Your credentials lack one or more required privilege scopes.",
                "detail": { "required": required, "granted": granted },
            },
        }),
    )
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The oauth2 scopes of the operation's `security`.
fn required(definition: &Value) -> Vec<String> {
    definition["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|requirement| requirement["oauth2"].as_array())
        .flatten()
        .filter_map(|scope| scope.as_str().map(str::to_owned))
        .collect()
}

/// The granted scopes and everything they imply.
fn expand(granted: &[String]) -> Vec<String> {
    let mut all: Vec<String> = granted.to_vec();
    for scope in granted {
        if let Some((_, implied)) = IMPLIES.iter().find(|(name, _)| name == scope) {
            all.extend(implied.iter().map(|s| (*s).to_owned()));
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_scopes_cover_their_reads_and_pull_requests_cover_repositories() {
        let covered = expand(&["pullrequest:write".to_owned()]);
        for scope in ["pullrequest", "repository", "repository:write"] {
            assert!(covered.iter().any(|c| c == scope), "{scope}");
        }
        let covered = expand(&["repository".to_owned()]);
        assert!(!covered.iter().any(|c| c == "pullrequest"));
    }

    #[test]
    fn project_admin_covers_reading_projects() {
        let covered = expand(&["project:admin".to_owned()]);
        assert!(covered.iter().any(|c| c == "project"));
        let covered = expand(&["repository:admin".to_owned()]);
        assert!(!covered.iter().any(|c| c == "project"));
    }
}
