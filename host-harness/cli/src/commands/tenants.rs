//! `atom-harness tenants …`: who may call the gateway. A key is printed
//! once, when it is made, and stored only as a hash.

use std::process::ExitCode;

use atom_gateway::webhook_secret_id;
use atom_runtime::host_types::CredentialSecret;
use atom_store::NewApiKey;
use clap::Subcommand;

use crate::output::{self, Output};
use crate::setup::{StoreArgs, open_registry, open_store};

#[derive(Subcommand)]
pub enum TenantsCommand {
    /// Register a tenant and print its first API key (once).
    Add { name: String },
    /// Every tenant: created, revoked, how many keys work.
    List {
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Revoke a tenant and every key it has; its name is never reused.
    Revoke { name: String },
    /// Give a tenant a new key (printed once); its older keys stop working.
    RotateKey { name: String },
    /// Make (or replace) the secret a tenant's Bitbucket webhooks sign with,
    /// sealed in the store and printed once: put it in the webhook's
    /// settings, with the URL https://<gateway>/bitbucket/webhooks/<name>.
    WebhookSecret { name: String },
}

pub fn run_tenants(store: &StoreArgs, command: TenantsCommand) -> anyhow::Result<ExitCode> {
    let registry = open_registry(store)?;
    match command {
        TenantsCommand::Add { name } => print_new_key("registered", &registry.add(&name)?),
        TenantsCommand::RotateKey { name } => {
            print_new_key("has a new key", &registry.rotate_key(&name)?)
        }
        TenantsCommand::WebhookSecret { name } => {
            if !registry.is_active(&name)? {
                anyhow::bail!("no active tenant '{name}': `tenants add {name}` first");
            }
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let store = open_store(store)?;
            let id = webhook_secret_id(&name);
            let version = store.get(&id)?.map_or(0, |c| c.version);
            store.replace(&id, version, CredentialSecret::AccessToken(secret.clone()))?;
            eprintln!("tenant '{name}': webhook secret stored sealed; shown this once:");
            println!("{secret}");
        }
        TenantsCommand::Revoke { name } => {
            registry.revoke(&name)?;
            println!("tenant '{name}' revoked: its keys no longer open the gateway");
        }
        TenantsCommand::List { output } => {
            let tenants: Vec<_> = registry
                .list()?
                .into_iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.name,
                        "created_at": t.created_at,
                        "revoked_at": t.revoked_at,
                        "active_keys": t.active_keys,
                    })
                })
                .collect();
            output::print(&serde_json::Value::Array(tenants), output);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_new_key(what: &str, new: &NewApiKey) {
    eprintln!(
        "tenant '{}' {what}. Its API key, shown this once (the store keeps only a hash):",
        new.tenant
    );
    println!("{}", new.key.as_str());
}
