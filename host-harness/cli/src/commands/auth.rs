//! `atom-harness auth …` and `atom-harness keys …`: credentials at rest.
//! Secrets are read from the environment or standard input, never from
//! arguments (which land in shell history and process lists), and never
//! printed.

use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use atom_runtime::host_types::{ApiToken, CredentialSecret};
use atom_runtime::{Sandbox, Tenant};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use clap::{Subcommand, ValueEnum};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::setup::{SandboxArgs, StoreArgs, configured_tenant, oauth_client_from_env, open_store};

#[derive(Subcommand)]
pub enum AuthCommand {
    /// OAuth 2.0 login: prints the authorize URL, waits on 127.0.0.1 for
    /// Bitbucket's callback, stores the tokens. Needs ATOM_OAUTH_CLIENT_ID and
    /// ATOM_OAUTH_CLIENT_SECRET; the consumer's callback URL must be
    /// http://127.0.0.1:<port>/callback.
    Login {
        #[arg(long, default_value_t = 8976)]
        port: u16,
        /// How long to wait for the callback, in seconds.
        #[arg(long, default_value_t = 300)]
        wait_secs: u64,
    },
    /// Store an access token or an Atlassian API token, read from standard
    /// input (or BITBUCKET_ACCESS_TOKEN / BITBUCKET_API_TOKEN).
    AddToken {
        #[arg(long, value_enum)]
        kind: TokenKind,
        /// The Atlassian account e-mail an API token belongs to.
        #[arg(long, required_if_eq("kind", "api-token"))]
        email: Option<String>,
    },
    /// What is stored for the tenant: kind, scopes, expiry — never the secret.
    Status,
    /// Forget the tenant's credential.
    Logout,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TokenKind {
    /// A workspace, project or repository access token (Bearer).
    AccessToken,
    /// An Atlassian API token with Bitbucket scopes (Basic, with the e-mail).
    ApiToken,
}

pub async fn run_auth(
    sandbox: &Sandbox,
    args: &SandboxArgs,
    store: &StoreArgs,
    command: AuthCommand,
) -> anyhow::Result<ExitCode> {
    let credentials = open_store(store)?;
    let tenant = configured_tenant(args, credentials.clone())?;
    match command {
        AuthCommand::Login { port, wait_secs } => {
            login(sandbox, tenant, port, Duration::from_secs(wait_secs)).await
        }
        AuthCommand::AddToken { kind, email } => {
            let secret = match kind {
                TokenKind::AccessToken => {
                    CredentialSecret::AccessToken(read_secret("BITBUCKET_ACCESS_TOKEN")?)
                }
                TokenKind::ApiToken => CredentialSecret::ApiToken(ApiToken {
                    email: email.context("--email is required for an API token")?,
                    token: read_secret("BITBUCKET_API_TOKEN")?,
                }),
            };
            let version = tenant.set_credential(secret)?;
            println!("stored for tenant '{}' (version {version})", tenant.id);
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Status => {
            match credentials.get(&tenant.id)? {
                None => println!("tenant '{}': no credential stored", tenant.id),
                Some(credential) => println!(
                    "tenant '{}': {}",
                    tenant.id,
                    describe(&credential.secret, credential.version)
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuthCommand::Logout => {
            credentials.remove(&tenant.id)?;
            println!("tenant '{}': credential removed", tenant.id);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_secret(env: &str) -> anyhow::Result<String> {
    if let Some(value) = std::env::var(env).ok().filter(|v| !v.trim().is_empty()) {
        return Ok(value.trim().to_owned());
    }
    eprintln!("paste the token and press Ctrl-D (it is not echoed anywhere):");
    let mut value = String::new();
    std::io::stdin().read_to_string(&mut value)?;
    let value = value.trim().to_owned();
    if value.is_empty() {
        bail!("no token on standard input or in {env}");
    }
    Ok(value)
}

fn describe(secret: &CredentialSecret, version: u64) -> String {
    match secret {
        CredentialSecret::Oauth(tokens) => format!(
            "OAuth 2.0, scopes [{}], access token expires at {} (unix), refresh token {}, version {version}",
            tokens.scopes.join(" "),
            tokens
                .expires_at
                .map_or_else(|| "unknown".to_owned(), |t| t.to_string()),
            if tokens.refresh_token.is_some() {
                "stored"
            } else {
                "absent"
            },
        ),
        CredentialSecret::AccessToken(_) => format!("access token (Bearer), version {version}"),
        CredentialSecret::ApiToken(api) => {
            format!("Atlassian API token for {}, version {version}", api.email)
        }
    }
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn login(
    sandbox: &Sandbox,
    tenant: Tenant,
    port: u16,
    wait: Duration,
) -> anyhow::Result<ExitCode> {
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let client = oauth_client_from_env(Some(redirect_uri.clone())).context(
        "set ATOM_OAUTH_CLIENT_ID and ATOM_OAUTH_CLIENT_SECRET (the Bitbucket OAuth consumer)",
    )?;
    let tenant = tenant.with_oauth_client(client);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port} for the callback"))?;

    let started = sandbox.execute(&tenant, "auth-start", "{}").await?;
    let started: serde_json::Value = serde_json::from_str(&started)?;
    println!(
        "Open this URL in a browser and grant access:\n\n  {}\n",
        started["authorize_url"].as_str().unwrap_or_default()
    );
    println!("Waiting for Bitbucket to call back on {redirect_uri} …");

    let (sender, mut received) = mpsc::channel::<Callback>(1);
    let app = Router::new()
        .route("/callback", get(callback))
        .with_state(sender);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let callback = tokio::time::timeout(wait, received.recv()).await;
    server.abort();
    let callback = callback
        .context("no callback arrived in time")?
        .context("the callback server stopped")?;
    if let Some(error) = callback.error {
        bail!(
            "Bitbucket refused: {error} {}",
            callback.error_description.unwrap_or_default()
        );
    }
    let params = serde_json::json!({
        "code": callback.code.unwrap_or_default(),
        "state": callback.state.unwrap_or_default(),
    });
    let status = sandbox
        .execute(&tenant, "auth-complete", &params.to_string())
        .await?;
    let status: serde_json::Value = serde_json::from_str(&status)?;
    println!(
        "Logged in: tenant '{}', scopes {}, expires at {}",
        tenant.id, status["scopes"], status["expires_at"]
    );
    Ok(ExitCode::SUCCESS)
}

async fn callback(
    State(sender): State<mpsc::Sender<Callback>>,
    Query(callback): Query<Callback>,
) -> Html<&'static str> {
    let ok = callback.error.is_none();
    let _ = sender.send(callback).await;
    Html(if ok {
        "<p>ATOM received Bitbucket's answer. You can close this window.</p>"
    } else {
        "<p>Bitbucket did not grant access. You can close this window.</p>"
    })
}
