//! OAuth 2.0 and credentials at rest, end to end: the login flow against the
//! fake's authorization server, refresh when Bitbucket rotates tokens, one
//! refresh for many racing calls, and an encrypted store that keeps tokens
//! out of its file and refuses a row moved to another tenant.

use std::sync::Arc;

use atom_runtime::contract::Error;
use atom_runtime::host_types::{CredentialSecret, OauthTokens};
use atom_runtime::{CredentialStore, Failure, OauthClient, Tenant};
use atom_store::{Keyring, SqliteCredentialStore};
use atom_test_support::{exec_in, raw_get, sandbox};
use fake_bitbucket::{FakeBitbucket, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET};
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn oauth_tenant(fake: &FakeBitbucket, id: &str, store: Arc<dyn CredentialStore>) -> Tenant {
    Tenant::new(id, store)
        .with_config("api-base-url", fake.api_base_url())
        .with_config("oauth-base-url", fake.base_url())
        .with_oauth_client(OauthClient {
            client_id: OAUTH_CLIENT_ID.into(),
            client_secret: OAUTH_CLIENT_SECRET.into(),
            redirect_uri: REDIRECT.into(),
        })
}

/// auth-start, the consent redirect, auth-complete: the status it answers.
async fn login(tenant: &Tenant) -> Value {
    let started = exec_in(sandbox(), tenant, "auth-start", json!({}))
        .await
        .expect("auth-start");
    let url = started["authorize_url"].as_str().unwrap();
    let (status, headers, _) = raw_get(url, None).await;
    assert_eq!(status, 302, "the consent screen redirects to the callback");
    let location = headers["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = location.split_once('?').unwrap().1;
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%2F", "/")))
        .collect();
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(get("state"), started["state"].as_str().unwrap());
    exec_in(
        sandbox(),
        tenant,
        "auth-complete",
        json!({ "code": get("code"), "state": get("state") }),
    )
    .await
    .expect("auth-complete")
}

fn stored_tokens(store: &dyn CredentialStore, tenant: &str) -> (OauthTokens, u64) {
    let credential = store.get(tenant).unwrap().expect("a credential is stored");
    match credential.secret {
        CredentialSecret::Oauth(tokens) => (tokens, credential.version),
        _ => panic!("expected OAuth tokens"),
    }
}

fn sqlite_store(dir: &tempfile::TempDir) -> Arc<SqliteCredentialStore> {
    let keys = Keyring::generate().unwrap();
    Arc::new(SqliteCredentialStore::open(&dir.path().join("credentials.sqlite3"), keys).unwrap())
}

#[tokio::test]
async fn the_full_login_flow_stores_tokens_that_work() {
    let fake = FakeBitbucket::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir);
    let tenant = oauth_tenant(&fake, "acme-corp", store.clone());

    let started = exec_in(sandbox(), &tenant, "auth-start", json!({}))
        .await
        .unwrap();
    let url = started["authorize_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/site/oauth2/authorize?", fake.base_url())),
        "{url}"
    );
    assert!(
        url.contains("response_type=code") && url.contains(&format!("client_id={OAUTH_CLIENT_ID}"))
    );
    assert!(
        !url.contains(OAUTH_CLIENT_SECRET),
        "the secret never leaves in the URL"
    );
    let state = started["state"].as_str().unwrap();
    assert!(state.len() >= 16, "an unguessable state: {state}");
    let again = exec_in(sandbox(), &tenant, "auth-start", json!({}))
        .await
        .unwrap();
    assert_ne!(again["state"], started["state"], "each login its own state");

    let status = login(&tenant).await;
    assert_eq!(status["kind"], "oauth2");
    assert!(
        status["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "pullrequest:write")
    );
    let (tokens, _) = stored_tokens(store.as_ref(), "acme-corp");
    assert!(tokens.refresh_token.is_some());
    assert!(tokens.expires_at.unwrap() > status["expires_at"].as_u64().unwrap() - 5);
    assert!(
        !status.to_string().contains(&tokens.access_token),
        "tokens are never answered"
    );

    let me = exec_in(sandbox(), &tenant, "get-current-user", json!({}))
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Ada Lovelace");
    let health = exec_in(sandbox(), &tenant, "health", json!({}))
        .await
        .unwrap();
    assert_eq!(health["credential_kind"], "oauth2");

    // At rest: no token, no client secret in the database file or its WAL.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in [
        tokens.access_token.as_str(),
        tokens.refresh_token.as_deref().unwrap(),
        OAUTH_CLIENT_SECRET,
    ] {
        assert!(!text.contains(secret), "a secret is stored in plain text");
    }
}

#[tokio::test]
async fn a_wrong_or_reused_state_is_refused_before_the_code_is_spent() {
    let fake = FakeBitbucket::start().await.unwrap();
    let tenant = oauth_tenant(
        &fake,
        "t",
        Arc::new(atom_runtime::MemoryCredentialStore::default()),
    );
    exec_in(sandbox(), &tenant, "auth-start", json!({}))
        .await
        .unwrap();
    let failure = exec_in(
        sandbox(),
        &tenant,
        "auth-complete",
        json!({ "code": "stolen-code", "state": "forged-state" }),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&failure, Failure::Integration(Error::Validation(v)) if v.field == "state"),
        "{failure}"
    );
    assert!(
        fake.control().oauth.token_requests.is_empty(),
        "the code was never exchanged"
    );

    login(&tenant).await;
    let started = exec_in(sandbox(), &tenant, "auth-start", json!({}))
        .await
        .unwrap();
    let state = started["state"].as_str().unwrap();
    let first = exec_in(
        sandbox(),
        &tenant,
        "auth-complete",
        json!({ "code": "x", "state": state }),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(first, Failure::Integration(Error::AuthExpired(_))),
        "an unknown code is invalid_grant: {first}"
    );
    let again = exec_in(
        sandbox(),
        &tenant,
        "auth-complete",
        json!({ "code": "x", "state": state }),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&again, Failure::Integration(Error::Validation(v)) if v.field == "state"),
        "a state is single use: {again}"
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_during_a_listing_and_the_rotated_token_is_stored() {
    let fake = FakeBitbucket::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir);
    let tenant = oauth_tenant(&fake, "t", store.clone());
    login(&tenant).await;
    let (before, version) = stored_tokens(store.as_ref(), "t");

    // Bitbucket expires the token early: the component only learns it from a 401.
    fake.control().oauth.expire_access_tokens();
    let page = exec_in(
        sandbox(),
        &tenant,
        "list-repositories",
        json!({ "workspace": "atom-labs" }),
    )
    .await
    .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 12);

    let (after, new_version) = stored_tokens(store.as_ref(), "t");
    assert_eq!(new_version, version + 1);
    assert_ne!(after.access_token, before.access_token);
    let control = fake.control();
    assert_eq!(control.oauth.refresh_requests(), 1);
    assert!(
        !control
            .oauth
            .refresh_token_is_live(before.refresh_token.as_deref().unwrap()),
        "the old one rotated away"
    );
    assert!(
        control
            .oauth
            .refresh_token_is_live(after.refresh_token.as_deref().unwrap()),
        "the store holds the live one"
    );
    let statuses: Vec<_> = control
        .requests_to("/2.0/repositories/atom-labs")
        .iter()
        .map(|r| r.auth_scheme.clone())
        .collect();
    assert_eq!(
        statuses.len(),
        2,
        "the listing was sent again once, after the refresh"
    );
}

#[tokio::test]
async fn fifty_calls_racing_an_expiry_cause_one_refresh() {
    let fake = FakeBitbucket::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir);
    let tenant = oauth_tenant(&fake, "busy", store.clone());
    login(&tenant).await;
    let (mut tokens, version) = stored_tokens(store.as_ref(), "busy");
    // Expired on both sides: every call sees it before sending anything.
    tokens.expires_at = Some(1);
    store
        .replace("busy", version, CredentialSecret::Oauth(tokens))
        .unwrap();
    fake.control().oauth.expire_access_tokens();

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let tenant = tenant.clone();
        calls
            .spawn(async move { exec_in(sandbox(), &tenant, "get-current-user", json!({})).await });
    }
    let mut ok = 0;
    while let Some(outcome) = calls.join_next().await {
        let me = outcome
            .unwrap()
            .unwrap_or_else(|f| panic!("a racing call failed: {f}"));
        assert_eq!(me["display_name"], "Ada Lovelace");
        ok += 1;
    }
    assert_eq!(ok, 50);
    assert_eq!(
        fake.control().oauth.refresh_requests(),
        1,
        "one refresh upstream"
    );
    assert_eq!(
        stored_tokens(store.as_ref(), "busy").1,
        version + 2,
        "one new credential stored"
    );
}

/// Eight harness processes share one store file: each has its own SQLite
/// connection and its own in-process lock, so only the store's lease can
/// keep them from refreshing the same rotating token eight times.
#[tokio::test]
async fn eight_processes_sharing_a_store_refresh_an_expired_token_once() {
    let fake = FakeBitbucket::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.sqlite3");
    let keys = Keyring::generate().unwrap();
    let first = Arc::new(SqliteCredentialStore::open(&path, keys.clone()).unwrap());
    let tenant = oauth_tenant(&fake, "shared", first.clone());
    login(&tenant).await;
    let (mut tokens, version) = stored_tokens(first.as_ref(), "shared");
    tokens.expires_at = Some(1);
    first
        .replace("shared", version, CredentialSecret::Oauth(tokens))
        .unwrap();
    fake.control().oauth.expire_access_tokens();

    let processes: Vec<Tenant> = (0..8)
        .map(|_| {
            let own_handle: Arc<dyn CredentialStore> =
                Arc::new(SqliteCredentialStore::open(&path, keys.clone()).unwrap());
            oauth_tenant(&fake, "shared", own_handle)
        })
        .collect();
    let mut calls = tokio::task::JoinSet::new();
    for process in processes {
        calls.spawn(
            async move { exec_in(sandbox(), &process, "get-current-user", json!({})).await },
        );
    }
    while let Some(outcome) = calls.join_next().await {
        let me = outcome
            .unwrap()
            .unwrap_or_else(|f| panic!("a process's call failed: {f}"));
        assert_eq!(me["display_name"], "Ada Lovelace");
    }
    assert_eq!(
        fake.control().oauth.refresh_requests(),
        1,
        "one refresh upstream for eight processes"
    );
    assert_eq!(stored_tokens(first.as_ref(), "shared").1, version + 2);
}

/// A process that refreshed without the lease (an older harness) rotated the
/// token this call was about to use: Bitbucket answers `invalid_grant`, the
/// store has newer tokens, and the call uses them instead of asking for a
/// reconnect.
#[tokio::test]
async fn a_refused_grant_is_checked_against_the_store_before_reconnect_is_asked() {
    let fake = FakeBitbucket::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir);
    let tenant = oauth_tenant(&fake, "raced", store.clone());
    login(&tenant).await;
    let (mut stale, version) = stored_tokens(store.as_ref(), "raced");
    stale.expires_at = Some(1);
    store
        .replace("raced", version, CredentialSecret::Oauth(stale.clone()))
        .unwrap();
    fake.control().oauth.expire_access_tokens();
    // The other process: refreshes first, stores the rotated pair.
    exec_in(sandbox(), &tenant, "get-current-user", json!({}))
        .await
        .expect("the first refresh works");
    let (fresh, fresh_version) = stored_tokens(store.as_ref(), "raced");
    assert_ne!(fresh.refresh_token, stale.refresh_token);

    // This process read the stale pair and wrote nothing since: simulated by
    // a store that answers the stale pair until the grant is refused.
    let lagging: Arc<dyn CredentialStore> = Arc::new(LaggingStore {
        inner: store.clone(),
        stale: atom_runtime::host_types::Credential {
            secret: CredentialSecret::Oauth(stale),
            version: fresh_version - 1,
        },
        reads: Default::default(),
    });
    let behind = oauth_tenant(&fake, "raced", lagging);
    let me = exec_in(sandbox(), &behind, "get-current-user", json!({}))
        .await
        .unwrap_or_else(|f| panic!("the newer stored token should have been used: {f}"));
    assert_eq!(me["display_name"], "Ada Lovelace");
    assert_eq!(fake.control().oauth.refresh_requests(), 2, "one refused");
    assert_eq!(stored_tokens(store.as_ref(), "raced").1, fresh_version);
}

/// Answers a stale credential for the first two reads (the session's open
/// and the read under the lock), the real store after that.
struct LaggingStore {
    inner: Arc<SqliteCredentialStore>,
    stale: atom_runtime::host_types::Credential,
    reads: std::sync::atomic::AtomicUsize,
}

impl atom_runtime::RefreshLeases for LaggingStore {}

impl CredentialStore for LaggingStore {
    fn get(
        &self,
        tenant: &str,
    ) -> Result<Option<atom_runtime::host_types::Credential>, atom_runtime::StoreError> {
        let read = self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if read < 2 {
            return Ok(Some(self.stale.clone()));
        }
        self.inner.get(tenant)
    }

    fn replace(
        &self,
        tenant: &str,
        expected_version: u64,
        secret: CredentialSecret,
    ) -> Result<u64, atom_runtime::StoreError> {
        self.inner.replace(tenant, expected_version, secret)
    }

    fn remove(&self, tenant: &str) -> Result<(), atom_runtime::StoreError> {
        self.inner.remove(tenant)
    }
}

#[tokio::test]
async fn a_dead_refresh_token_asks_for_a_reconnect() {
    let fake = FakeBitbucket::start().await.unwrap();
    let store: Arc<dyn CredentialStore> = Arc::new(atom_runtime::MemoryCredentialStore::default());
    let tenant = oauth_tenant(&fake, "t", store.clone());
    tenant
        .set_credential(CredentialSecret::Oauth(OauthTokens {
            access_token: "long-gone-access".into(),
            refresh_token: Some("revoked-refresh-token".into()),
            expires_at: Some(1),
            scopes: vec![],
        }))
        .unwrap();
    let failure = exec_in(sandbox(), &tenant, "list-workspaces", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(failure, Failure::Integration(Error::AuthExpired(_))),
        "{failure}"
    );
    assert!(
        failure.message().contains("reconnect required"),
        "{failure}"
    );
    assert!(
        !failure
            .to_json()
            .to_string()
            .contains("revoked-refresh-token")
    );
}

#[tokio::test]
async fn a_row_moved_to_another_tenant_does_not_open() {
    let fake = FakeBitbucket::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir);
    let victim = oauth_tenant(&fake, "victim", store.clone());
    login(&victim).await;

    let db = rusqlite::Connection::open(dir.path().join("credentials.sqlite3")).unwrap();
    let copied = db
        .execute(
            "INSERT INTO credentials (tenant, connection, version, key_version, nonce, ciphertext, updated_at)
             SELECT 'attacker', connection, version, key_version, nonce, ciphertext, updated_at FROM credentials WHERE tenant = 'victim'",
            [],
        )
        .unwrap();
    assert_eq!(copied, 1);

    let error = store.get("attacker").unwrap_err().to_string();
    assert!(
        error.contains("does not decrypt") && error.contains("attacker"),
        "{error}"
    );
    let attacker = oauth_tenant(&fake, "attacker", store.clone());
    let failure = exec_in(sandbox(), &attacker, "get-current-user", json!({}))
        .await
        .unwrap_err();
    // The operator's log says why; a client is told only that it failed.
    assert!(
        failure
            .internals()
            .is_some_and(|text| text.contains("does not decrypt")),
        "the failure keeps why: {failure:?}"
    );
    assert!(!failure.message().contains("does not decrypt"));
    assert!(
        fake.control().requests_to("/2.0/user").is_empty(),
        "nothing was sent with the moved token"
    );
}

#[tokio::test]
async fn health_names_what_a_narrow_consent_cannot_do() {
    let fake = FakeBitbucket::start().await.unwrap();
    // A consumer granted reading only: the user consents to what it asks.
    fake.control().oauth.consumers[0].scopes = "account repository pullrequest".into();
    let dir = tempfile::tempdir().unwrap();
    let tenant = oauth_tenant(&fake, "acme-corp", sqlite_store(&dir));
    login(&tenant).await;

    let health = exec_in(sandbox(), &tenant, "health", json!({}))
        .await
        .unwrap();
    let usable: Vec<&str> = health["usable_operations"]
        .as_array()
        .expect("the scopes are known, so is what they cover")
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    for reading in [
        "get-pull-request-diff",
        "get-file",
        "get-review-bundle",
        "list-pull-requests",
    ] {
        assert!(usable.contains(&reading), "{reading} in {usable:?}");
    }
    let blocked = health["blocked_operations"].as_array().unwrap();
    let missing = |name: &str| -> Vec<String> {
        blocked
            .iter()
            .find(|b| b["name"] == name)
            .unwrap_or_else(|| panic!("{name} is blocked: {blocked:?}"))["missing_scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(missing("merge-pull-request"), ["pullrequest:write"]);
    assert_eq!(missing("trigger-pipeline"), ["pipeline:write"]);
    assert!(!usable.contains(&"merge-pull-request"));
    assert!(
        blocked
            .iter()
            .all(|b| !usable.contains(&b["name"].as_str().unwrap())),
        "an operation is usable or blocked, never both"
    );

    // What health says is what Bitbucket then does: refused, with the
    // scopes it needed and those it had.
    assert_eq!(missing("approve-pull-request"), ["pullrequest:write"]);
    let refused = exec_in(
        sandbox(),
        &tenant,
        "approve-pull-request",
        json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": 4 }),
    )
    .await
    .unwrap_err();
    match &refused {
        Failure::Integration(Error::PermissionDenied(denied)) => {
            assert_eq!(denied.required_scopes, ["pullrequest:write"]);
            assert!(denied.granted_scopes.iter().any(|s| s == "pullrequest"));
        }
        other => panic!("expected permission_denied, got {other}"),
    }
    // A read the consent covers still works.
    exec_in(
        sandbox(),
        &tenant,
        "get-pull-request-diffstat",
        json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": 4 }),
    )
    .await
    .unwrap();
}
