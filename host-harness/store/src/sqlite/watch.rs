//! Whether anything was committed to the store's file since a given mark.
//!
//! - A commit by a handle of this process moves the mark at once: the
//!   handle calls [`DataVersion::changed_here`] after it commits, and every
//!   handle of this process on the same file shares one mark.
//! - A commit by another process (`tenants revoke`, `auth add-token`)
//!   moves it within [`POLL_EVERY`]: `PRAGMA data_version`, on a connection
//!   that itself never writes, is asked at most that often, when a mark is
//!   wanted. PostgreSQL's marks move when their notification arrives.
//!
//! Asked on every request, the pragma took a read transaction (file locks
//! on the write-ahead log's index) behind one mutex: an eighth of the
//! gateway's CPU on a cached read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use atom_runtime::StoreError;

/// How long another process's commit may go unseen.
const POLL_EVERY: Duration = Duration::from_millis(1);

pub(crate) struct DataVersion {
    file: Arc<FileWatch>,
}

/// One per store file and process, shared by its handles.
struct FileWatch {
    /// The connection the pragma is asked on, and the version it said last.
    watch: Mutex<(Connection, Option<i64>)>,
    /// Moves on every commit seen or made here: the mark.
    generation: AtomicU64,
    /// When the pragma was last asked, in nanoseconds since `started`.
    polled_at: AtomicU64,
    started: Instant,
    /// Whether the last ask answered; while not, there is no mark.
    answering: AtomicBool,
}

impl DataVersion {
    pub(crate) fn open(path: &Path, what: &str) -> Result<Self, StoreError> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let mut files = open_files()
            .lock()
            .map_err(|_| StoreError::Unavailable(format!("{what}: watch registry poisoned")))?;
        files.retain(|_, file| file.strong_count() > 0);
        if let Some(file) = files.get(&key).and_then(Weak::upgrade) {
            return Ok(Self { file });
        }
        let file = Arc::new(FileWatch::open(path, what)?);
        files.insert(key, Arc::downgrade(&file));
        Ok(Self { file })
    }

    /// Differs from any earlier mark once a connection committed (another
    /// process's commit within [`POLL_EVERY`]); `None` if SQLite cannot say
    /// (nothing may be remembered then).
    pub(crate) fn mark(&self) -> Option<u64> {
        self.file.mark()
    }

    /// A commit this process made: the mark moves for every handle on the
    /// file, without waiting for the next poll.
    pub(crate) fn changed_here(&self) {
        self.file.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl FileWatch {
    fn open(path: &Path, what: &str) -> Result<Self, StoreError> {
        let file = Self {
            watch: Mutex::new((super::open_database(path, what)?, None)),
            generation: AtomicU64::new(0),
            polled_at: AtomicU64::new(0),
            started: Instant::now(),
            answering: AtomicBool::new(false),
        };
        file.poll();
        Ok(file)
    }

    fn mark(&self) -> Option<u64> {
        let now = self.nanos_since_start();
        let due = now.saturating_sub(self.polled_at.load(Ordering::Acquire));
        if due >= POLL_EVERY.as_nanos() as u64 {
            self.poll();
        }
        // `answering` first: a failed poll clears it before it moves anything.
        let answering = self.answering.load(Ordering::SeqCst);
        answering.then(|| self.generation.load(Ordering::SeqCst))
    }

    /// Asks the pragma unless another thread is asking it: that thread's
    /// answer is as fresh as this one's would be.
    fn poll(&self) {
        let mut watch = match self.watch.try_lock() {
            Ok(watch) => watch,
            Err(std::sync::TryLockError::WouldBlock) => return,
            Err(std::sync::TryLockError::Poisoned(_)) => {
                self.answering.store(false, Ordering::SeqCst);
                return;
            }
        };
        self.polled_at
            .store(self.nanos_since_start(), Ordering::Release);
        let (connection, last) = &mut *watch;
        let version = connection
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get::<_, i64>(0)));
        match version {
            Ok(version) => {
                let recovered = !self.answering.load(Ordering::SeqCst);
                if *last != Some(version) || recovered {
                    *last = Some(version);
                    self.generation.fetch_add(1, Ordering::SeqCst);
                }
                self.answering.store(true, Ordering::SeqCst);
            }
            Err(error) => {
                if self.answering.swap(false, Ordering::SeqCst) {
                    tracing::warn!(%error, "cannot tell whether the store changed: nothing is remembered");
                }
            }
        }
    }

    fn nanos_since_start(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The files this process watches, so its handles on one file share a mark.
fn open_files() -> &'static Mutex<HashMap<PathBuf, Weak<FileWatch>>> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Weak<FileWatch>>>> = OnceLock::new();
    FILES.get_or_init(Mutex::default)
}
