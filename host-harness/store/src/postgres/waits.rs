//! The waits in PostgreSQL.

use postgres::Client;
use postgres::types::ToSql;

use super::NOW_SECS;
use super::pool::{Failure, PgPool};
use crate::clock::{now_secs, to_i64};
use crate::waits::{
    Added, COLUMNS, NewWait, Wait, WaitBook, WaitState, finished_since, lost, new_id, wait_of,
};
use atom_runtime::StoreError;

const STORE: &str = "waits";

/// The waits, in PostgreSQL.
#[derive(Debug)]
pub struct PgWaitBook {
    pool: PgPool,
}

impl PgWaitBook {
    /// The waits on `pool`'s database, whose schema must be migrated
    /// already (as [`super::open_postgres`] does).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Whether the database answers.
    pub fn ready(&self) -> Result<(), StoreError> {
        self.pool.ready()
    }
}

impl WaitBook for PgWaitBook {
    fn add(&self, new: &NewWait) -> Result<Added, StoreError> {
        let id = new_id()?;
        let tenant = new.tenant.clone();
        let kind = new.kind.clone();
        let subject = new.subject.clone();
        let request = new.request.clone();
        let key_id = new.key_id.clone();
        let deadline = to_i64(new.deadline);
        self.pool.run(STORE, "adding a wait", move |client| {
            // No conflict target: the one it can meet is the partial unique
            // index, one waiting wait per tenant, kind and subject.
            let inserted = client.execute(
                "INSERT INTO waits (id, tenant, kind, subject, request, key_id, state,
                                    created_at, updated_at, deadline)
                 VALUES ($1, $2, $3, $4, $5, $6, 'waiting', $7, $7, $8)
                 ON CONFLICT DO NOTHING",
                &[
                    &id,
                    &tenant,
                    &kind,
                    &subject,
                    &request,
                    &key_id,
                    &now_secs(),
                    &deadline,
                ],
            )?;
            if inserted == 1 {
                let wait = select(client, "id = $1", &[&id])?.pop();
                return wait
                    .map(Added::New)
                    .ok_or_else(|| lost("adding a wait").into());
            }
            select(
                client,
                "tenant = $1 AND kind = $2 AND subject = $3 AND state = 'waiting'",
                &[&tenant, &kind, &subject],
            )?
            .pop()
            .map(Added::Existing)
            .ok_or_else(|| lost("adding a wait").into())
        })
    }

    fn get(&self, id: &str) -> Result<Option<Wait>, StoreError> {
        let id = id.to_owned();
        self.pool.run(STORE, "reading a wait", move |client| {
            Ok(select(client, "id = $1", &[&id])?.pop())
        })
    }

    fn list(&self, tenant: &str) -> Result<Vec<Wait>, StoreError> {
        let tenant = tenant.to_owned();
        let since = finished_since();
        self.pool.run(STORE, "reading waits", move |client| {
            select(
                client,
                "tenant = $1 AND (state = 'waiting' OR updated_at >= $2)
                 ORDER BY created_at DESC, seq DESC",
                &[&tenant, &since],
            )
        })
    }

    fn waiting(&self) -> Result<Vec<Wait>, StoreError> {
        self.pool.run(STORE, "reading waits", |client| {
            select(client, "state = 'waiting' ORDER BY created_at, seq", &[])
        })
    }

    fn claim(&self, id: &str, secs: u64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        // Halved so that adding the server's clock cannot overflow a BIGINT.
        let secs = to_i64(secs).min(i64::MAX / 2);
        // The row's lock orders concurrent claims, and the second sees the
        // first's claim. Time is the server's: the gateways' clocks may
        // disagree, the database has one.
        self.pool.run(STORE, "claiming a wait", move |client| {
            let changed = client.execute(
                &format!(
                    "UPDATE waits SET claimed_until = {NOW_SECS} + $2
                     WHERE id = $1 AND state = 'waiting'
                       AND (claimed_until IS NULL OR claimed_until <= {NOW_SECS})"
                ),
                &[&id, &secs],
            )?;
            Ok(changed == 1)
        })
    }

    fn checked(&self, id: &str, outcome: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        let outcome = outcome.to_owned();
        self.pool.run(STORE, "recording a check", move |client| {
            client.execute(
                "UPDATE waits SET outcome = $2, checks = checks + 1, checked_at = $3,
                                  claimed_until = NULL
                 WHERE id = $1 AND state = 'waiting'",
                &[&id, &outcome, &now_secs()],
            )?;
            Ok(())
        })
    }

    fn finish(&self, id: &str, state: WaitState, outcome: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        let outcome = outcome.to_owned();
        self.pool.run(STORE, "finishing a wait", move |client| {
            let changed = client.execute(
                "UPDATE waits SET state = $2, outcome = $3, checks = checks + 1,
                                  checked_at = $4, updated_at = $4, claimed_until = NULL
                 WHERE id = $1 AND state = 'waiting'",
                &[&id, &state.as_str(), &outcome, &now_secs()],
            )?;
            Ok(changed == 1)
        })
    }

    fn cancel(&self, tenant: &str, id: &str) -> Result<Option<Wait>, StoreError> {
        let tenant = tenant.to_owned();
        let id = id.to_owned();
        self.pool.run(STORE, "cancelling a wait", move |client| {
            client.execute(
                "UPDATE waits SET state = 'cancelled', updated_at = $3
                 WHERE id = $1 AND tenant = $2 AND state = 'waiting'",
                &[&id, &tenant, &now_secs()],
            )?;
            Ok(select(client, "id = $1 AND tenant = $2", &[&id, &tenant])?.pop())
        })
    }
}

/// The waits matching `condition`, in its order.
fn select(
    client: &mut Client,
    condition: &str,
    values: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Wait>, Failure> {
    let rows = client.query(
        &format!("SELECT {COLUMNS} FROM waits WHERE {condition}"),
        values,
    )?;
    Ok(rows.iter().map(wait_of).collect::<Result<_, _>>()?)
}
