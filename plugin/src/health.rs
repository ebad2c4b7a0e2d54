//! `health`: is Bitbucket reachable with this connection's credential, and
//! what can that credential do.

use crate::endpoint::Upstream;
use crate::error::Error;
use crate::host;
use crate::types::{AuthKind, CredentialSecret, HealthReport, HealthStatus};
use crate::users;
use crate::wire::NoParams;

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
    };
    let Some(credential) = host::credential() else {
        return Ok(health);
    };
    let (kind, can) = describe(&credential.secret);
    health.credential_kind = Some(kind);
    health.can = can.iter().map(|s| (*s).to_owned()).collect();
    if let CredentialSecret::Oauth(tokens) = &credential.secret {
        health.scopes = tokens.scopes.clone();
        health.expires_at = tokens.expires_at;
    }
    match users::current(upstream, NoParams {}) {
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
