//! Versioned 256-bit keys that seal credentials; one of them is current.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize, Zeroizing};

use atom_runtime::StoreError;

/// The environment variable operators put the keyring in.
pub const KEYS_ENV: &str = "ATOM_CREDENTIAL_KEYS";

const KEY_LEN: usize = 32;

/// One AES-256 key. Boxed so moving the keyring around never leaves copies
/// of the key bytes behind in memory that is not wiped.
#[derive(Clone)]
struct Key(Box<[u8; KEY_LEN]>);

impl Key {
    fn random() -> Result<Self, StoreError> {
        let mut key = Self(Box::new([0; KEY_LEN]));
        getrandom::fill(&mut key.0[..]).map_err(|error| {
            StoreError::Unavailable(format!(
                "credential keys: the system random generator failed: {error}"
            ))
        })?;
        Ok(key)
    }

    fn from_base64(text: &str) -> Option<Self> {
        // Sized up front so decoding a well-formed key never reallocates and
        // strands an unwiped copy of it.
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + 4));
        STANDARD.decode_vec(text, &mut bytes).ok()?;
        let bytes: &[u8; KEY_LEN] = bytes.as_slice().try_into().ok()?;
        let mut key = Self(Box::new([0; KEY_LEN]));
        key.0.copy_from_slice(bytes);
        Some(key)
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The keys credentials are sealed with, by version. New credentials are
/// sealed with the current key; the others stay for reading rows not yet
/// re-sealed (see `SqliteCredentialStore::rotate`).
///
/// Text form (the `ATOM_CREDENTIAL_KEYS` value and the key file):
/// `<version>:<base64 key>[,<version>:<base64 key>...]`, the current key
/// first; versions are 1 to 4294967295, keys 32 bytes in standard base64.
#[derive(Clone)]
pub struct Keyring {
    current: u32,
    keys: BTreeMap<u32, Key>,
    /// The key file it was read from: `keys rotate` may add keys to it
    /// under a running process, which [`Keyring::reload`] then picks up.
    source: Option<PathBuf>,
}

impl Keyring {
    /// A keyring of one fresh random key, version 1.
    pub fn generate() -> Result<Self, StoreError> {
        Ok(Self {
            current: 1,
            keys: BTreeMap::from([(1, Key::random()?)]),
            source: None,
        })
    }

    /// Parses the text form; entries may also be separated by newlines.
    /// Errors name the entry, never its content.
    pub fn from_env_value(text: &str) -> Result<Self, StoreError> {
        let mut current = None;
        let mut keys = BTreeMap::new();
        let entries = text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (index, entry) in entries.enumerate() {
            let number = index + 1;
            let Some((version, key)) = entry.split_once(':') else {
                return Err(invalid(format!(
                    "entry {number} is not of the form <version>:<base64 key>"
                )));
            };
            let version = version
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|version| *version > 0)
                .ok_or_else(|| {
                    invalid(format!(
                        "entry {number}: the key version must be a whole number from 1 to {}",
                        u32::MAX
                    ))
                })?;
            let key = Key::from_base64(key.trim()).ok_or_else(|| {
                invalid(format!(
                    "entry {number} (key version {version}): the key must be {KEY_LEN} bytes in standard base64"
                ))
            })?;
            if keys.insert(version, key).is_some() {
                return Err(invalid(format!(
                    "entry {number}: key version {version} appears twice"
                )));
            }
            current.get_or_insert(version);
        }
        let current = current.ok_or_else(|| invalid("no key given".to_owned()))?;
        Ok(Self {
            current,
            keys,
            source: None,
        })
    }

    /// Reads the keyring from `ATOM_CREDENTIAL_KEYS`.
    pub fn from_env() -> Result<Self, StoreError> {
        let value = Zeroizing::new(std::env::var(KEYS_ENV).map_err(|error| {
            StoreError::Unavailable(format!("credential keys: {KEYS_ENV}: {error}"))
        })?);
        Self::from_env_value(&value)
    }

    /// Reads a key file: the text form, with `#` comment lines allowed. On
    /// unix a file that its group or others may access is refused, as ssh
    /// does with private keys.
    pub fn load_file(path: &Path) -> Result<Self, StoreError> {
        let file_error = |error: std::io::Error| {
            StoreError::Unavailable(format!("credential key file {}: {error}", path.display()))
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(path).map_err(file_error)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(StoreError::Unavailable(format!(
                    "credential key file {} is accessible to other users (mode {:o}); run chmod 600 on it",
                    path.display(),
                    mode & 0o777
                )));
            }
        }
        let text = Zeroizing::new(fs::read_to_string(path).map_err(file_error)?);
        let keys = Zeroizing::new(
            text.lines()
                .filter(|line| !line.trim_start().starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let mut keyring = Self::from_env_value(&keys).map_err(|error| match error {
            StoreError::Unavailable(message) => {
                StoreError::Unavailable(format!("{message} (in {})", path.display()))
            }
            other => other,
        })?;
        keyring.source = Some(path.to_owned());
        Ok(keyring)
    }

    /// The keyring read again from its key file; `None` for one that has no
    /// file (from the environment, whose value a process cannot see change).
    pub fn reload(&self) -> Option<Result<Self, StoreError>> {
        self.source.as_deref().map(Self::load_file)
    }

    /// Writes the keyring to `path` readable by its owner only. The file is
    /// replaced atomically: a crash mid-write must not lose the keys every
    /// credential depends on.
    pub fn save_file(&self, path: &Path) -> Result<(), StoreError> {
        let file_error = |error: std::io::Error| {
            StoreError::Unavailable(format!("credential key file {}: {error}", path.display()))
        };
        let name = path.file_name().ok_or_else(|| {
            StoreError::Unavailable(format!(
                "credential key file {}: not a file name",
                path.display()
            ))
        })?;
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|error| {
            StoreError::Unavailable(format!(
                "credential keys: the system random generator failed: {error}"
            ))
        })?;
        let mut temporary_name = name.to_os_string();
        temporary_name.push(format!(".tmp-{:016x}", u64::from_le_bytes(suffix)));
        let temporary = dir.join(temporary_name);

        const HEADER: &str =
            "# atom-harness credential keys: <version>:<base64 key>, the current key first.\n";
        let keys = self.to_env_value();
        // Sized up front: growing would strand an unwiped copy of the keys.
        let mut text = Zeroizing::new(String::with_capacity(HEADER.len() + keys.len() + 1));
        text.push_str(HEADER);
        text.push_str(&keys);
        text.push('\n');

        let written =
            write_private(&temporary, text.as_bytes()).and_then(|()| fs::rename(&temporary, path));
        if let Err(error) = written {
            // Best effort: the temporary file is ours and holds the keys.
            let _ = fs::remove_file(&temporary);
            return Err(file_error(error));
        }
        // Makes the rename itself durable.
        #[cfg(unix)]
        fs::File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(file_error)?;
        Ok(())
    }

    /// The text form, current key first. Holds key material: keep it out of
    /// logs.
    pub fn to_env_value(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(self.keys.len() * 60));
        let others = self.keys.keys().rev().filter(|v| **v != self.current);
        for version in std::iter::once(&self.current).chain(others) {
            if let Some(key) = self.keys.get(version) {
                if !text.is_empty() {
                    text.push(',');
                }
                text.push_str(&version.to_string());
                text.push(':');
                STANDARD.encode_string(&key.0[..], &mut text);
            }
        }
        text
    }

    /// This keyring plus a fresh key at the highest version + 1, made
    /// current; the older keys stay for reading.
    pub fn with_new_current_key(&self) -> Result<Self, StoreError> {
        let highest = self.keys.keys().next_back().copied().unwrap_or(0);
        let version = highest
            .checked_add(1)
            .ok_or_else(|| invalid(format!("no key version after {highest} is left")))?;
        let mut keys = self.keys.clone();
        keys.insert(version, Key::random()?);
        Ok(Self {
            current: version,
            keys,
            source: self.source.clone(),
        })
    }

    /// The current key alone: what is left once every row is re-sealed.
    pub fn only_current(&self) -> Self {
        Self {
            current: self.current,
            keys: self
                .keys
                .iter()
                .filter(|(version, _)| **version == self.current)
                .map(|(version, key)| (*version, key.clone()))
                .collect(),
            source: self.source.clone(),
        }
    }

    pub fn current_version(&self) -> u32 {
        self.current
    }

    /// The versions held, ascending.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    pub fn contains(&self, version: u32) -> bool {
        self.keys.contains_key(&version)
    }

    /// The cipher for key `version`, if this keyring holds it.
    pub(super) fn cipher(&self, version: u32) -> Option<Aes256Gcm> {
        let key = self.keys.get(&version)?;
        Some(Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(
            &key.0[..],
        )))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("versions", &self.versions())
            .finish_non_exhaustive()
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::Unavailable(format!("credential keys: {message}"))
}

/// Creates `path` (it must not exist) readable by its owner only and writes
/// `bytes` durably.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
