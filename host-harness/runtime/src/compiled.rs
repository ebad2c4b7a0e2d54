//! Compiled components kept on disk, so a process that loads a component
//! it compiled before starts in milliseconds instead of recompiling it for
//! a second or more. An entry is named after the component's SHA-256 and
//! the engine's compatibility hash; Wasmtime checks the engine again when it
//! loads one, and anything it refuses is compiled afresh and replaced.
//!
//! The cache is a directory only this user can write: `ATOM_COMPILE_CACHE`,
//! else `$XDG_CACHE_HOME/atom-harness` or `~/.cache/atom-harness`;
//! `ATOM_COMPILE_CACHE=off` turns it off. Loading compiled code trusts its
//! bytes, which is why a directory others could write to is not used.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a loaded component came from.
#[derive(Debug, PartialEq, Eq)]
pub enum Origin {
    Cache,
    Compiled,
}

/// The component at `path`, through the user's compile cache.
pub fn load(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    let bytes = std::fs::read(path)?;
    Ok(load_with(engine, &bytes, cache_dir().as_deref())?.0)
}

pub fn load_with(
    engine: &Engine,
    bytes: &[u8],
    cache: Option<&Path>,
) -> anyhow::Result<(Component, Origin)> {
    let Some(cache) = cache else {
        return Ok((Component::new(engine, bytes)?, Origin::Compiled));
    };
    let entry = cache.join(entry_name(engine, bytes));
    if let Ok(compiled) = std::fs::read(&entry) {
        // SAFETY: `compiled` is what `Component::serialize` wrote into a
        // directory only this user can write (see `private_dir`), under the
        // name of these exact component bytes and this engine's settings;
        // Wasmtime verifies the engine compatibility header before use.
        #[allow(unsafe_code)]
        match unsafe { Component::deserialize(engine, &compiled) } {
            Ok(component) => return Ok((component, Origin::Cache)),
            Err(error) => {
                tracing::warn!(%error, entry = %entry.display(), "recompiling a cached component")
            }
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Err(error) = store(&entry, &component.serialize()?) {
        tracing::warn!(%error, "the compiled component could not be cached");
    }
    Ok((component, Origin::Compiled))
}

fn entry_name(engine: &Engine, bytes: &[u8]) -> String {
    let mut settings = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}.cwasm", settings.finish())
}

/// Written beside the entry and renamed into place: a reader never sees a
/// half-written file, and two processes caching at once both succeed.
fn store(entry: &Path, compiled: &[u8]) -> std::io::Result<()> {
    // Unique per process and per load: threads of one process may cache at once.
    static LOADS: AtomicU64 = AtomicU64::new(0);
    let load = LOADS.fetch_add(1, Ordering::Relaxed);
    let partial = entry.with_extension(format!("partial-{}-{load}", std::process::id()));
    let mut file = private_file(&partial)?;
    file.write_all(compiled)?;
    file.sync_all()?;
    std::fs::rename(&partial, entry)
}

fn cache_dir() -> Option<PathBuf> {
    let configured = std::env::var_os("ATOM_COMPILE_CACHE");
    let dir = match configured {
        Some(value) if value == "off" || value.is_empty() => return None,
        Some(value) => PathBuf::from(value),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?
            .join("atom-harness"),
    };
    private_dir(&dir).ok().map(|()| dir)
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let metadata = std::fs::metadata(dir)?;
    // Linux says who we are in /proc/self; elsewhere the mode check stands alone.
    let ours = std::fs::metadata("/proc/self").map_or(true, |me| me.uid() == metadata.uid());
    if !ours || metadata.permissions().mode() & 0o022 != 0 {
        return Err(std::io::Error::other(
            "the compile cache is not this user's alone",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: the header alone (magic, version 13, layer 1).
    const EMPTY_COMPONENT: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    #[test]
    fn a_second_load_comes_from_the_cache_and_a_damaged_entry_is_replaced() {
        let engine = Engine::default();
        let bytes = EMPTY_COMPONENT;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        private_dir(&cache).unwrap();

        assert_eq!(
            load_with(&engine, &bytes, Some(&cache)).unwrap().1,
            Origin::Compiled
        );
        assert_eq!(
            load_with(&engine, &bytes, Some(&cache)).unwrap().1,
            Origin::Cache
        );

        let entry = cache.join(entry_name(&engine, &bytes));
        std::fs::write(&entry, b"not compiled code").unwrap();
        assert_eq!(
            load_with(&engine, &bytes, Some(&cache)).unwrap().1,
            Origin::Compiled
        );
        assert_eq!(
            load_with(&engine, &bytes, Some(&cache)).unwrap().1,
            Origin::Cache
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_can_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(private_dir(&shared).is_err());
    }
}
