//! `keys`: the keys that seal the credential store.

use std::process::ExitCode;

use anyhow::bail;
use atom_store::{KEYS_ENV, Keyring, Rotation};
use clap::Subcommand;

use crate::setup::{StoreArgs, keyring, open_store_with};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create the key file with a fresh key, if it does not exist yet.
    Init,
    /// Add a new current key and re-seal every stored credential with it:
    /// `add` then `reseal`, for a store only this process uses.
    Rotate,
    /// Across replicas, step 1: add a new current key, keeping the old ones
    /// (saved to the key file, or printed for ATOM_CREDENTIAL_KEYS). Give it
    /// to every replica before step 2.
    Add,
    /// Step 2: re-seal every credential still under an older key with the
    /// keyring's current key.
    Reseal,
    /// Step 3: drop every key but the current one, once nothing is sealed
    /// with them (refused until then).
    Retire,
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
            let rotation = open_store_with(store, rotated.clone())?.rotate(rotated.clone())?;
            // The new keyring is saved first: the re-sealed rows need it.
            publish(store, &rotated, "")?;
            return Ok(report(&rotation, &rotated));
        }
        KeysCommand::Add => {
            let added = keyring(store)?.with_new_current_key()?;
            publish(
                store,
                &added,
                "nothing was re-sealed: give every replica this keyring, then run `keys reseal`",
            )?;
        }
        KeysCommand::Reseal => {
            let keys = keyring(store)?;
            let rotation = open_store_with(store, keys.clone())?.rotate(keys.clone())?;
            return Ok(report(&rotation, &keys));
        }
        KeysCommand::Retire => {
            let keys = keyring(store)?;
            let current = keys.current_version();
            let older: Vec<_> = open_store_with(store, keys.clone())?
                .list()?
                .into_iter()
                .filter(|(_, _, key_version)| *key_version != current)
                .collect();
            if !older.is_empty() {
                bail!(
                    "{} credentials are still sealed with older keys (tenant '{}' first): `keys reseal` first",
                    older.len(),
                    older[0].0
                );
            }
            publish(
                store,
                &keys.only_current(),
                "older keys dropped: give every replica this keyring",
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Saves `keys` to the key file, or prints them for the environment when
/// that is where the keys come from.
fn publish(store: &StoreArgs, keys: &Keyring, next: &str) -> anyhow::Result<()> {
    if std::env::var_os(KEYS_ENV).is_some() {
        println!(
            "key version {} is current. Put this keyring in {KEYS_ENV} everywhere (printed once):",
            keys.current_version()
        );
        println!("{}", keys.to_env_value().as_str());
    } else {
        keys.save_file(&store.key_file)?;
        println!(
            "key version {} is current ({} updated)",
            keys.current_version(),
            store.key_file.display()
        );
    }
    if !next.is_empty() {
        eprintln!("{next}");
    }
    Ok(())
}

/// What a re-sealing did; exit status 1 when a row no key opens was left.
fn report(rotation: &Rotation, keys: &Keyring) -> ExitCode {
    println!(
        "re-sealed {} credentials with key version {}",
        rotation.resealed,
        keys.current_version()
    );
    for row in &rotation.unreadable {
        eprintln!(
            "not re-sealed: tenant '{}' (connection '{}') is sealed with key version {}, which this keyring lacks; its credential stays as it was",
            row.tenant, row.connection, row.key_version
        );
    }
    if rotation.unreadable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
