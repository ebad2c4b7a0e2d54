//! `health`: is Bitbucket reachable with this connection's credential, and
//! what can that credential do.
//!
//! The credential's scopes come from Bitbucket's `X-OAuth-Scopes` header on
//! the answer to `GET /user` (OAuth and access tokens get it), else from
//! the scopes the OAuth token exchange granted. Each operation's scopes
//! (the catalogue's rows) are then matched against them, with Bitbucket's
//! implications applied ([`implied_by`]): an operation is usable when every
//! scope it needs is granted or implied, else blocked with the ones
//! missing. When the scopes are unknown (an API token answers no header),
//! `usable_operations` is absent and nothing is listed as blocked.

use std::collections::BTreeSet;

use crate::catalog::operation_scopes;
use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::host;
use crate::model::ApiAccount;
use crate::path::ApiPath;
use crate::types::{AuthKind, BlockedOperation, CredentialSecret, HealthReport, HealthStatus};
use crate::wire::NoParams;

/// Bitbucket's classic OAuth 2.0 scopes, as it spells them (what the
/// catalogue's rows may name).
#[cfg(test)]
pub const KNOWN_SCOPES: &[&str] = &[
    "account",
    "account:write",
    "email",
    "repository",
    "repository:write",
    "repository:admin",
    "repository:delete",
    "pullrequest",
    "pullrequest:write",
    "pipeline",
    "pipeline:write",
    "pipeline:variable",
    "issue",
    "issue:write",
    "webhook",
    "project",
    "project:admin",
    "team",
    "team:write",
    "snippet",
    "snippet:write",
    "wiki",
    "runner",
    "runner:write",
];

/// The scopes `scope` grants besides itself, as Bitbucket's scope docs
/// describe them: a `:write` scope its read scope, `pullrequest` the
/// repository's read and `pullrequest:write` its write, `pipeline:variable`
/// `pipeline:write`, `project:admin` `project`. `repository:admin` and
/// `repository:delete` imply nothing (Bitbucket: admin "does not implicitly
/// grant the repository or repository:write scopes"). Granular scopes
/// (`read:repository:bitbucket`, from API tokens and OAuth 3LO) are read as
/// the classic scope of the same reach.
pub fn implied_by(scope: &str) -> &'static [&'static str] {
    match scope {
        "account:write" | "write:user:bitbucket" => &["account:write", "account"],
        "read:user:bitbucket" | "read:workspace:bitbucket" => &["account"],
        "repository:write" | "write:repository:bitbucket" => &["repository:write", "repository"],
        "read:repository:bitbucket" => &["repository"],
        "admin:repository:bitbucket" => &["repository:admin"],
        "delete:repository:bitbucket" => &["repository:delete"],
        "pullrequest" | "read:pullrequest:bitbucket" => &["pullrequest", "repository"],
        "pullrequest:write" | "write:pullrequest:bitbucket" => &[
            "pullrequest:write",
            "pullrequest",
            "repository:write",
            "repository",
        ],
        "pipeline:write" | "write:pipeline:bitbucket" => &["pipeline:write", "pipeline"],
        "pipeline:variable" | "admin:pipeline:bitbucket" => {
            &["pipeline:variable", "pipeline:write", "pipeline"]
        }
        "read:pipeline:bitbucket" => &["pipeline"],
        "issue:write" | "write:issue:bitbucket" => &["issue:write", "issue"],
        "read:issue:bitbucket" => &["issue"],
        "read:webhook:bitbucket" | "write:webhook:bitbucket" | "delete:webhook:bitbucket" => {
            &["webhook"]
        }
        "project:admin" | "admin:project:bitbucket" => &["project:admin", "project"],
        "read:project:bitbucket" => &["project"],
        "team:write" => &["team:write", "team"],
        "snippet:write" | "write:snippet:bitbucket" => &["snippet:write", "snippet"],
        "read:snippet:bitbucket" => &["snippet"],
        "runner:write" | "write:runner:bitbucket" => &["runner:write", "runner"],
        "read:runner:bitbucket" => &["runner"],
        _ => &[],
    }
}

/// Every scope `granted` gives, implications applied.
fn effective(granted: &[String]) -> BTreeSet<String> {
    let mut all: BTreeSet<String> = BTreeSet::new();
    for scope in granted {
        all.insert(scope.clone());
        all.extend(implied_by(scope).iter().map(|s| (*s).to_owned()));
    }
    all
}

/// The operations `granted` covers, and those it does not with what each lacks.
pub fn usable(granted: &[String]) -> (Vec<String>, Vec<BlockedOperation>) {
    let have = effective(granted);
    let (mut usable, mut blocked) = (Vec::new(), Vec::new());
    for (name, needs) in operation_scopes() {
        let missing: Vec<String> = needs
            .iter()
            .filter(|scope| !have.contains(**scope))
            .map(|scope| (*scope).to_owned())
            .collect();
        if missing.is_empty() {
            usable.push(name);
        } else {
            blocked.push(BlockedOperation {
                name,
                missing_scopes: missing,
            });
        }
    }
    (usable, blocked)
}

/// `X-OAuth-Scopes: repository, pullrequest:write` as a list.
fn header_scopes(value: &str) -> Vec<String> {
    value
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn check(upstream: &dyn Upstream, _: NoParams) -> Result<HealthReport, Error> {
    let mut health = HealthReport {
        status: HealthStatus::Unauthenticated,
        message: "no credential is stored for this connection".to_owned(),
        credential_kind: None,
        account: None,
        scopes: Vec::new(),
        can: Vec::new(),
        expires_at: None,
        api_base_url: upstream.config().api_base_url.clone(),
        usable_operations: None,
        blocked_operations: Vec::new(),
    };
    let Some(credential) = host::credential() else {
        return Ok(health);
    };
    let (kind, can) = describe(&credential.secret);
    health.credential_kind = Some(kind);
    health.can = can.iter().map(|s| (*s).to_owned()).collect();
    let mut scopes_known = false;
    if let CredentialSecret::Oauth(tokens) = &credential.secret {
        health.scopes = tokens.scopes.clone();
        health.expires_at = tokens.expires_at;
        scopes_known = !tokens.scopes.is_empty();
    }
    let answer = upstream
        .send(&Endpoint::get(ApiPath::new("user")))
        .and_then(|response| {
            if let Some(granted) = response.header("x-oauth-scopes") {
                health.scopes = header_scopes(granted);
                scopes_known = true;
            }
            response.json::<ApiAccount>().map(ApiAccount::into_account)
        });
    if scopes_known {
        let (usable, blocked) = usable(&health.scopes);
        health.usable_operations = Some(usable);
        health.blocked_operations = blocked;
    }
    match answer {
        Ok(account) => {
            health.status = HealthStatus::Ok;
            health.message = format!("connected as {}", account.display_name);
            health.account = Some(crate::types::AccountRef {
                uuid: Some(account.uuid),
                account_id: account.account_id,
                display_name: account.display_name,
                nickname: account.nickname,
            });
        }
        Err(Error::AuthInvalid(e) | Error::AuthExpired(e)) => {
            health.status = HealthStatus::CredentialRejected;
            health.message = e.message;
        }
        Err(Error::PermissionDenied(e)) => {
            // Reachable and authenticated, but this credential may not read the user.
            health.status = HealthStatus::Ok;
            health.message = e.message;
        }
        Err(other) => {
            health.status = HealthStatus::Unreachable;
            health.message = other.message().to_owned();
        }
    }
    Ok(health)
}

fn describe(secret: &CredentialSecret) -> (AuthKind, &'static [&'static str]) {
    match secret {
        CredentialSecret::Oauth(_) => (
            AuthKind::Oauth2,
            &[
                "acts as the user who authorized the OAuth consumer, within the consumer's scopes",
                "lists the user's workspaces and repositories across workspaces",
                "refreshes itself; the refresh token rotates on every use",
            ],
        ),
        CredentialSecret::AccessToken(_) => (
            AuthKind::AccessToken,
            &[
                "acts as a bot user of one repository, project or workspace",
                "cannot call cross-workspace endpoints such as the user's workspace list",
                "has its own rate-limit allowance",
            ],
        ),
        CredentialSecret::ApiToken(_) => (
            AuthKind::ApiToken,
            &[
                "acts as the Atlassian account within the token's scopes",
                "expires on the date chosen when it was created",
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn write_scopes_imply_their_reads_and_pull_requests_the_repository() {
        let (usable, blocked) = usable(&names(&["pullrequest:write", "account"]));
        for name in [
            "get-repository",
            "list-pull-requests",
            "merge-pull-request",
            "get-file",
            "publish-pending-comments",
            "health",
        ] {
            assert!(usable.iter().any(|u| u == name), "{name}");
        }
        let pipelines = blocked.iter().find(|b| b.name == "list-pipelines").unwrap();
        assert_eq!(pipelines.missing_scopes, ["pipeline"]);
        let summary = blocked
            .iter()
            .find(|b| b.name == "analytics-summary")
            .unwrap();
        assert_eq!(summary.missing_scopes, ["pipeline", "issue"]);
    }

    #[test]
    fn admin_implies_no_read_and_granular_names_are_understood() {
        let (_, blocked) = usable(&names(&["repository:admin"]));
        assert!(blocked.iter().any(|b| b.name == "get-repository"));
        let (usable, _) = usable(&names(&[
            "read:repository:bitbucket",
            "read:pullrequest:bitbucket",
        ]));
        assert!(usable.iter().any(|u| u == "get-review-bundle"));
        assert!(!usable.iter().any(|u| u == "merge-pull-request"));
    }

    #[test]
    fn the_scope_header_is_split_on_commas_and_spaces() {
        assert_eq!(
            header_scopes("repository, pullrequest:write  webhook"),
            ["repository", "pullrequest:write", "webhook"]
        );
    }
}
