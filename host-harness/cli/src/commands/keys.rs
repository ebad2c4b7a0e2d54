//! `keys`: the keys that seal the credential store.

use std::process::ExitCode;

use anyhow::bail;
use atom_store::{KEYS_ENV, Keyring, SealedCredentials as _, SqliteCredentialStore};
use clap::Subcommand;

use crate::setup::{StoreArgs, keyring};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create the key file with a fresh key, if it does not exist yet.
    Init,
    /// Add a new current key and re-seal every stored credential with it.
    Rotate,
}

pub fn run_keys(store: &StoreArgs, command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Init => {
            if store.key_file.exists() {
                bail!(
                    "{} exists already; `keys rotate` adds a key",
                    store.key_file.display()
                );
            }
            Keyring::generate()?.save_file(&store.key_file)?;
            println!(
                "created {} (keep it out of backups of the store)",
                store.key_file.display()
            );
        }
        KeysCommand::Rotate => {
            let rotated = keyring(store)?.with_new_current_key()?;
            let rotation = SqliteCredentialStore::open(&store.store, rotated.clone())?
                .rotate(rotated.clone())?;
            let resealed = rotation.resealed;
            if std::env::var_os(KEYS_ENV).is_some() {
                println!(
                    "re-sealed {resealed} credentials with key version {}.",
                    rotated.current_version()
                );
                println!(
                    "Put the new keyring in {KEYS_ENV} everywhere (it is printed once, below):"
                );
                println!("{}", rotated.to_env_value().as_str());
            } else {
                rotated.save_file(&store.key_file)?;
                println!(
                    "re-sealed {resealed} credentials with key version {} ({} updated)",
                    rotated.current_version(),
                    store.key_file.display()
                );
            }
            // The new keyring is saved first: the re-sealed rows need it.
            for row in &rotation.unreadable {
                eprintln!(
                    "not re-sealed: tenant '{}' (connection '{}') is sealed with key version {}, which this keyring lacks; its credential stays as it was",
                    row.tenant, row.connection, row.key_version
                );
            }
            if !rotation.unreadable.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
