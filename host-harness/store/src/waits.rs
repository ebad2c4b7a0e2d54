//! What the gateway waits for on a tenant's behalf: a call it makes again
//! whenever something may have changed, until the call says it is done, the
//! deadline passes or someone cancels. Kept in the store's SQLite file, so a
//! wait outlives the process that took it; nothing is held while waiting.
//!
//! The store knows nothing of what is waited for: `kind` names the
//! integration's flow, `subject` what events wake it, `request` the call's
//! parameters (JSON, never a secret), `outcome` its last answer.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension as _, Row, params};

use super::sqlite::{create_private, prepare};
use atom_runtime::{StoreError, unix_now};

/// A wait still being checked, and how each ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitState {
    Waiting,
    /// The call did what was waited for.
    Done,
    /// The call said waiting will not help (its outcome says why).
    Ended,
    Cancelled,
    /// The deadline passed first.
    Expired,
}

impl WaitState {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitState::Waiting => "waiting",
            WaitState::Done => "done",
            WaitState::Ended => "ended",
            WaitState::Cancelled => "cancelled",
            WaitState::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "done" => WaitState::Done,
            "ended" => WaitState::Ended,
            "cancelled" => WaitState::Cancelled,
            "expired" => WaitState::Expired,
            _ => WaitState::Waiting,
        }
    }
}

/// What a new wait is about.
pub struct NewWait {
    pub tenant: String,
    pub kind: String,
    pub subject: String,
    /// The call's parameters, JSON.
    pub request: String,
    /// The API key that asked: revoking it ends the wait.
    pub key_id: Option<String>,
    /// Unix seconds.
    pub deadline: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    pub id: String,
    pub tenant: String,
    pub kind: String,
    pub subject: String,
    pub request: String,
    pub key_id: Option<String>,
    pub state: WaitState,
    /// The last answer (or error) of the call, JSON.
    pub outcome: Option<String>,
    pub checks: u32,
    pub created_at: u64,
    pub updated_at: u64,
    pub checked_at: Option<u64>,
    pub deadline: u64,
}

/// What adding a wait did.
#[derive(Debug)]
pub enum Added {
    New(Wait),
    /// The tenant already waits for this subject: that wait, unchanged.
    Existing(Wait),
}

/// Finished waits are kept this long, so a caller can still read how
/// theirs ended.
const KEPT_FINISHED_SECS: u64 = 7 * 24 * 3600;

/// The waits, in the credential store's SQLite file.
pub struct WaitBook {
    db: Mutex<Connection>,
}

const COLUMNS: &str = "id, tenant, kind, subject, request, key_id, state, outcome, checks, \
                       created_at, updated_at, checked_at, deadline";

impl WaitBook {
    /// Opens (creating if absent) the waits in the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        create_private(path)?;
        let mut db = Connection::open(path).map_err(|error| {
            StoreError::Unavailable(format!("waits {}: {error}", path.display()))
        })?;
        prepare(&mut db, path)?;
        Ok(Self { db: Mutex::new(db) })
    }

    /// Adds a wait unless the tenant already waits for the same kind and
    /// subject, in which case that one is answered: asking twice is one wait.
    pub fn add(&self, new: &NewWait) -> Result<Added, StoreError> {
        let db = self.lock()?;
        let now = now();
        let id = new_id()?;
        let inserted = db
            .execute(
                "INSERT INTO waits (id, tenant, kind, subject, request, key_id, state,
                                    created_at, updated_at, deadline)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'waiting', ?7, ?7, ?8)
                 ON CONFLICT DO NOTHING",
                params![
                    id,
                    new.tenant,
                    new.kind,
                    new.subject,
                    new.request,
                    new.key_id,
                    now,
                    to_i64(new.deadline)
                ],
            )
            .map_err(failed("adding a wait"))?;
        if inserted == 1 {
            let wait = select_one(&db, "id = ?1", params![id])?;
            return wait.map(Added::New).ok_or_else(|| lost("adding a wait"));
        }
        select_one(
            &db,
            "tenant = ?1 AND kind = ?2 AND subject = ?3 AND state = 'waiting'",
            params![new.tenant, new.kind, new.subject],
        )?
        .map(Added::Existing)
        .ok_or_else(|| lost("adding a wait"))
    }

    pub fn get(&self, id: &str) -> Result<Option<Wait>, StoreError> {
        select_one(&*self.lock()?, "id = ?1", params![id])
    }

    /// A tenant's waits, newest first: those still waiting and those that
    /// finished within the last week.
    pub fn list(&self, tenant: &str) -> Result<Vec<Wait>, StoreError> {
        let db = self.lock()?;
        let since = to_i64(unix_now().saturating_sub(KEPT_FINISHED_SECS));
        select(
            &db,
            "tenant = ?1 AND (state = 'waiting' OR updated_at >= ?2) ORDER BY created_at DESC, rowid DESC",
            params![tenant, since],
        )
    }

    /// Every wait still waiting, of every tenant, oldest first.
    pub fn waiting(&self) -> Result<Vec<Wait>, StoreError> {
        select(
            &*self.lock()?,
            "state = 'waiting' ORDER BY created_at, rowid",
            params![],
        )
    }

    /// Claims wait `id` for one look by this process for `secs` seconds:
    /// `false` while another process's claim holds (or the wait no longer
    /// waits). Several gateways may share the store; each wait is looked at
    /// by one of them at a time, so two never merge the same pull request
    /// at once. A process that dies mid-look delays the next look until the
    /// claim expires, it does not stop it.
    pub fn claim(&self, id: &str, secs: u64) -> Result<bool, StoreError> {
        let now = now();
        let changed = self
            .lock()?
            .execute(
                "UPDATE waits SET claimed_until = ?2
                 WHERE id = ?1 AND state = 'waiting'
                   AND (claimed_until IS NULL OR claimed_until <= ?3)",
                params![id, now.saturating_add(to_i64(secs)), now],
            )
            .map_err(failed("claiming a wait"))?;
        Ok(changed == 1)
    }

    /// Records a check that left the wait waiting.
    pub fn checked(&self, id: &str, outcome: &str) -> Result<(), StoreError> {
        let now = now();
        self.lock()?
            .execute(
                "UPDATE waits SET outcome = ?2, checks = checks + 1, checked_at = ?3,
                                  claimed_until = NULL
                 WHERE id = ?1 AND state = 'waiting'",
                params![id, outcome, now],
            )
            .map_err(failed("recording a check"))?;
        Ok(())
    }

    /// Ends a wait that is still waiting; `false` if it was not (someone
    /// cancelled it, or another process finished it first).
    pub fn finish(&self, id: &str, state: WaitState, outcome: &str) -> Result<bool, StoreError> {
        let now = now();
        let changed = self
            .lock()?
            .execute(
                "UPDATE waits SET state = ?2, outcome = ?3, checks = checks + 1,
                                  checked_at = ?4, updated_at = ?4, claimed_until = NULL
                 WHERE id = ?1 AND state = 'waiting'",
                params![id, state.as_str(), outcome, now],
            )
            .map_err(failed("finishing a wait"))?;
        Ok(changed == 1)
    }

    /// Cancels the tenant's wait `id`: the wait as it stands after, or
    /// `None` if the tenant has no such wait. A finished wait stays as it
    /// finished.
    pub fn cancel(&self, tenant: &str, id: &str) -> Result<Option<Wait>, StoreError> {
        let db = self.lock()?;
        let now = now();
        db.execute(
            "UPDATE waits SET state = 'cancelled', updated_at = ?3
             WHERE id = ?1 AND tenant = ?2 AND state = 'waiting'",
            params![id, tenant, now],
        )
        .map_err(failed("cancelling a wait"))?;
        select_one(&db, "id = ?1 AND tenant = ?2", params![id, tenant])
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.db
            .lock()
            .map_err(|_| StoreError::Unavailable("waits: a holder panicked".into()))
    }
}

fn select(
    db: &Connection,
    condition: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<Wait>, StoreError> {
    let mut statement = db
        .prepare_cached(&format!("SELECT {COLUMNS} FROM waits WHERE {condition}"))
        .map_err(failed("reading waits"))?;
    let rows = statement
        .query_map(values, wait_of)
        .map_err(failed("reading waits"))?;
    rows.collect::<Result<_, _>>()
        .map_err(failed("reading waits"))
}

fn select_one(
    db: &Connection,
    condition: &str,
    values: impl rusqlite::Params,
) -> Result<Option<Wait>, StoreError> {
    db.query_row(
        &format!("SELECT {COLUMNS} FROM waits WHERE {condition}"),
        values,
        wait_of,
    )
    .optional()
    .map_err(failed("reading a wait"))
}

fn wait_of(row: &Row<'_>) -> rusqlite::Result<Wait> {
    let unsigned = |at: usize| row.get::<_, i64>(at).map(|v| u64::try_from(v).unwrap_or(0));
    Ok(Wait {
        id: row.get(0)?,
        tenant: row.get(1)?,
        kind: row.get(2)?,
        subject: row.get(3)?,
        request: row.get(4)?,
        key_id: row.get(5)?,
        state: WaitState::parse(&row.get::<_, String>(6)?),
        outcome: row.get(7)?,
        checks: u32::try_from(row.get::<_, i64>(8)?).unwrap_or(u32::MAX),
        created_at: unsigned(9)?,
        updated_at: unsigned(10)?,
        checked_at: row
            .get::<_, Option<i64>>(11)?
            .map(|v| u64::try_from(v).unwrap_or(0)),
        deadline: unsigned(12)?,
    })
}

/// 128 random bits in hex: a wait's id says nothing and cannot be guessed.
fn new_id() -> Result<String, StoreError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|error| {
        StoreError::Unavailable(format!("the system random generator failed: {error}"))
    })?;
    Ok(hex::encode(id))
}

fn now() -> i64 {
    to_i64(unix_now())
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn failed(doing: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + Copy {
    move |error| StoreError::Unavailable(format!("waits: {doing}: {error}"))
}

fn lost(doing: &'static str) -> StoreError {
    StoreError::Unavailable(format!("waits: {doing}: the row vanished"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> (tempfile::TempDir, WaitBook) {
        let dir = tempfile::tempdir().unwrap();
        let book = WaitBook::open(&dir.path().join("store.sqlite3")).unwrap();
        (dir, book)
    }

    fn merge(tenant: &str, subject: &str) -> NewWait {
        NewWait {
            tenant: tenant.into(),
            kind: "merge-when-green".into(),
            subject: subject.into(),
            request: r#"{"id":1}"#.into(),
            key_id: Some("k1".into()),
            deadline: unix_now() + 60,
        }
    }

    #[test]
    fn asking_twice_is_one_wait_until_it_finishes() {
        let (_dir, book) = book();
        let Added::New(first) = book.add(&merge("acme", "a/b#1")).unwrap() else {
            panic!("a first wait is new");
        };
        let Added::Existing(again) = book.add(&merge("acme", "a/b#1")).unwrap() else {
            panic!("the same subject again is the same wait");
        };
        assert_eq!(again.id, first.id);
        assert!(matches!(
            book.add(&merge("globex", "a/b#1")).unwrap(),
            Added::New(_)
        ));
        assert!(book.finish(&first.id, WaitState::Done, "{}").unwrap());
        assert!(!book.finish(&first.id, WaitState::Ended, "{}").unwrap());
        assert!(matches!(
            book.add(&merge("acme", "a/b#1")).unwrap(),
            Added::New(_)
        ));
        assert_eq!(book.waiting().unwrap().len(), 2);
    }

    #[test]
    fn only_its_tenant_cancels_a_wait_and_a_finished_one_stays_finished() {
        let (_dir, book) = book();
        let Added::New(wait) = book.add(&merge("acme", "a/b#2")).unwrap() else {
            panic!("new");
        };
        assert_eq!(book.cancel("globex", &wait.id).unwrap(), None);
        assert_eq!(
            book.get(&wait.id).unwrap().unwrap().state,
            WaitState::Waiting
        );
        let cancelled = book.cancel("acme", &wait.id).unwrap().unwrap();
        assert_eq!(cancelled.state, WaitState::Cancelled);
        assert!(!book.finish(&wait.id, WaitState::Done, "{}").unwrap());
        assert!(book.waiting().unwrap().is_empty());
        assert_eq!(book.list("acme").unwrap().len(), 1);
        assert!(book.list("globex").unwrap().is_empty());
    }

    #[test]
    fn one_process_looks_at_a_wait_at_a_time_until_its_claim_ends() {
        let (dir, book) = book();
        let other = WaitBook::open(&dir.path().join("store.sqlite3")).unwrap();
        let Added::New(wait) = book.add(&merge("acme", "a/b#4")).unwrap() else {
            panic!("new");
        };
        assert!(book.claim(&wait.id, 60).unwrap());
        assert!(!other.claim(&wait.id, 60).unwrap(), "claimed elsewhere");
        book.checked(&wait.id, "{}").unwrap();
        assert!(other.claim(&wait.id, 0).unwrap(), "a check ends the claim");
        // A zero-second claim has expired at once: as a dead process's does.
        assert!(book.claim(&wait.id, 60).unwrap());
        assert!(book.finish(&wait.id, WaitState::Done, "{}").unwrap());
        assert!(
            !other.claim(&wait.id, 60).unwrap(),
            "a finished wait is not looked at"
        );
    }

    #[test]
    fn a_check_is_counted_and_kept_across_handles() {
        let (dir, book) = book();
        let Added::New(wait) = book.add(&merge("acme", "a/b#3")).unwrap() else {
            panic!("new");
        };
        book.checked(&wait.id, r#"{"verdict":"waiting"}"#).unwrap();
        let other = WaitBook::open(&dir.path().join("store.sqlite3")).unwrap();
        let seen = other.get(&wait.id).unwrap().unwrap();
        assert_eq!(seen.checks, 1);
        assert_eq!(seen.outcome.as_deref(), Some(r#"{"verdict":"waiting"}"#));
        assert!(seen.checked_at.is_some());
    }
}
