//! What this process has heard of changes to credentials, tenants and keys,
//! whichever replica or command made them: a trigger on each of those
//! tables NOTIFYs (schema version 5), and a thread LISTENs on a connection
//! of its own. A verified key or a read credential may be remembered while
//! nothing was heard since; while the listener is not connected, nothing
//! may be remembered at all.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once, Weak};
use std::thread;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator as _;
use postgres::{Config, NoTls};

/// Database-wide, not per schema: tests sharing a database with schemas of
/// their own hear each other's changes, which only costs a re-check.
const CHANNEL: &str = "atom_store_changes";

/// How often the listener wakes with nothing heard, to end once the
/// registry is gone and to check that its connection still answers.
const WAKE: Duration = Duration::from_secs(1);
const PING_EVERY: Duration = Duration::from_secs(5);
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

pub(crate) struct StoreWatch {
    heard: Arc<Heard>,
    config: Arc<Config>,
    started: Once,
}

#[derive(Default)]
struct Heard {
    /// Moves on every change heard and every connect or disconnect.
    changes: AtomicU64,
    listening: AtomicBool,
}

impl StoreWatch {
    pub(crate) fn new(config: Arc<Config>) -> Self {
        Self {
            heard: Arc::default(),
            config,
            started: Once::new(),
        }
    }

    /// A change this process made and committed: what it remembered stops
    /// standing at once, without waiting to hear its own notification.
    pub(crate) fn changed_here(&self) {
        self.heard.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// The changes heard so far, or `None` while not listening. The
    /// listener starts on the first call, so a command that only writes
    /// (`tenants revoke`) never opens its connection; until it listens,
    /// nothing is remembered.
    pub(crate) fn mark(&self) -> Option<u64> {
        self.started.call_once(|| {
            let (config, heard) = (Arc::clone(&self.config), Arc::downgrade(&self.heard));
            let spawned = thread::Builder::new()
                .name("atom-store-pg-listen".into())
                .spawn(move || listen(&config, &heard));
            if let Err(error) = spawned {
                tracing::warn!(%error, "no listener for store changes: nothing is remembered");
            }
        });
        // `listening` first: a disconnect moves `changes` after clearing it.
        let listening = self.heard.listening.load(Ordering::SeqCst);
        listening.then(|| self.heard.changes.load(Ordering::SeqCst))
    }
}

impl std::fmt::Debug for StoreWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWatch")
            .field("listening", &self.heard.listening.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Listens until the registry is dropped, reconnecting after failures.
fn listen(config: &Config, heard: &Weak<Heard>) {
    while let Some(current) = heard.upgrade() {
        if let Ok(mut client) = config.connect(NoTls)
            && client.batch_execute(&format!("LISTEN {CHANNEL}")).is_ok()
        {
            // Anything remembered before this connection may have missed a
            // change: the mark moves as listening resumes.
            current.changes.fetch_add(1, Ordering::SeqCst);
            current.listening.store(true, Ordering::SeqCst);
            drop(current);
            hear(&mut client, heard);
            if let Some(current) = heard.upgrade() {
                current.listening.store(false, Ordering::SeqCst);
                current.changes.fetch_add(1, Ordering::SeqCst);
            }
        } else {
            drop(current);
        }
        thread::sleep(RECONNECT_AFTER);
    }
}

/// Counts notifications until the connection fails or the registry goes.
fn hear(client: &mut postgres::Client, heard: &Weak<Heard>) {
    let mut pinged = Instant::now();
    loop {
        let next = client.notifications().timeout_iter(WAKE).next();
        let Some(current) = heard.upgrade() else {
            return;
        };
        match next {
            Ok(Some(_)) => {
                current.changes.fetch_add(1, Ordering::SeqCst);
            }
            Ok(None) if pinged.elapsed() >= PING_EVERY => {
                // A connection the server dropped says so only when used.
                if client.batch_execute("SELECT 1").is_err() {
                    return;
                }
                pinged = Instant::now();
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
}
