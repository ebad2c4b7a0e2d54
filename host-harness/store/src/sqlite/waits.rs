//! The waits in the store's SQLite file.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, params};

use crate::clock::{now_secs, to_i64};
use crate::waits::{
    Added, COLUMNS, NewWait, Wait, WaitBook, WaitState, finished_since, lost, new_id, wait_of,
};
use atom_runtime::StoreError;

/// The waits, in the credential store's SQLite file.
pub struct SqliteWaitBook {
    db: Mutex<Connection>,
}

impl SqliteWaitBook {
    /// Opens (creating if absent) the waits in the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = super::open_database(path, "waits")?;
        Ok(Self { db: Mutex::new(db) })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.db
            .lock()
            .map_err(|_| StoreError::Unavailable("waits: a holder panicked".into()))
    }
}

impl WaitBook for SqliteWaitBook {
    fn add(&self, new: &NewWait) -> Result<Added, StoreError> {
        let db = self.lock()?;
        let now = now_secs();
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
            let wait = select(&db, "id = ?1", params![id])?.pop();
            return wait.map(Added::New).ok_or_else(|| lost("adding a wait"));
        }
        select(
            &db,
            "tenant = ?1 AND kind = ?2 AND subject = ?3 AND state = 'waiting'",
            params![new.tenant, new.kind, new.subject],
        )?
        .pop()
        .map(Added::Existing)
        .ok_or_else(|| lost("adding a wait"))
    }

    fn get(&self, id: &str) -> Result<Option<Wait>, StoreError> {
        Ok(select(&*self.lock()?, "id = ?1", params![id])?.pop())
    }

    fn list(&self, tenant: &str) -> Result<Vec<Wait>, StoreError> {
        select(
            &*self.lock()?,
            "tenant = ?1 AND (state = 'waiting' OR updated_at >= ?2)
             ORDER BY created_at DESC, rowid DESC",
            params![tenant, finished_since()],
        )
    }

    fn waiting(&self) -> Result<Vec<Wait>, StoreError> {
        select(
            &*self.lock()?,
            "state = 'waiting' ORDER BY created_at, rowid",
            params![],
        )
    }

    fn claim(&self, id: &str, secs: u64) -> Result<bool, StoreError> {
        let now = now_secs();
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

    fn checked(&self, id: &str, outcome: &str) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "UPDATE waits SET outcome = ?2, checks = checks + 1, checked_at = ?3,
                                  claimed_until = NULL
                 WHERE id = ?1 AND state = 'waiting'",
                params![id, outcome, now_secs()],
            )
            .map_err(failed("recording a check"))?;
        Ok(())
    }

    fn finish(&self, id: &str, state: WaitState, outcome: &str) -> Result<bool, StoreError> {
        let changed = self
            .lock()?
            .execute(
                "UPDATE waits SET state = ?2, outcome = ?3, checks = checks + 1,
                                  checked_at = ?4, updated_at = ?4, claimed_until = NULL
                 WHERE id = ?1 AND state = 'waiting'",
                params![id, state.as_str(), outcome, now_secs()],
            )
            .map_err(failed("finishing a wait"))?;
        Ok(changed == 1)
    }

    fn cancel(&self, tenant: &str, id: &str) -> Result<Option<Wait>, StoreError> {
        let db = self.lock()?;
        db.execute(
            "UPDATE waits SET state = 'cancelled', updated_at = ?3
             WHERE id = ?1 AND tenant = ?2 AND state = 'waiting'",
            params![id, tenant, now_secs()],
        )
        .map_err(failed("cancelling a wait"))?;
        Ok(select(&db, "id = ?1 AND tenant = ?2", params![id, tenant])?.pop())
    }
}

/// The waits matching `condition`, in its order.
fn select(
    db: &Connection,
    condition: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<Wait>, StoreError> {
    let failed = failed("reading waits");
    let mut statement = db
        .prepare_cached(&format!("SELECT {COLUMNS} FROM waits WHERE {condition}"))
        .map_err(failed)?;
    let mut rows = statement.query(values).map_err(failed)?;
    let mut waits = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        waits.push(wait_of(row)?);
    }
    Ok(waits)
}

fn failed(doing: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + Copy {
    move |error| StoreError::Unavailable(format!("waits: {doing}: {error}"))
}
