//! What the gateway waits for on a tenant's behalf: a call it makes again
//! whenever something may have changed, until the call says it is done, the
//! deadline passes or someone cancels. Kept in the store's database, so a
//! wait outlives the process that took it; nothing is held while waiting.
//!
//! The store knows nothing of what is waited for: `kind` names the
//! integration's flow, `subject` what events wake it, `request` the call's
//! parameters (JSON, never a secret), `outcome` its last answer.

use super::clock::{now_secs, to_i64, to_u64};
use super::rows::Columns;
use atom_runtime::StoreError;

/// The waits, in whichever database the deployment uses.
pub trait WaitBook: Send + Sync {
    /// Adds a wait unless the tenant already waits for the same kind and
    /// subject, in which case that one is answered: asking twice is one wait.
    fn add(&self, new: &NewWait) -> Result<Added, StoreError>;

    fn get(&self, id: &str) -> Result<Option<Wait>, StoreError>;

    /// A tenant's waits, newest first: those still waiting and those that
    /// finished within the last week.
    fn list(&self, tenant: &str) -> Result<Vec<Wait>, StoreError>;

    /// Every wait still waiting, of every tenant, oldest first.
    fn waiting(&self) -> Result<Vec<Wait>, StoreError>;

    /// Claims wait `id` for one look by this process for `secs` seconds:
    /// `false` while another process's claim holds (or the wait no longer
    /// waits). Several gateways may share the store; each wait is looked at
    /// by one of them at a time, so two never merge the same pull request
    /// at once. A process that dies mid-look delays the next look until the
    /// claim expires, it does not stop it.
    fn claim(&self, id: &str, secs: u64) -> Result<bool, StoreError>;

    /// Records a check that left the wait waiting.
    fn checked(&self, id: &str, outcome: &str) -> Result<(), StoreError>;

    /// Ends a wait that is still waiting; `false` if it was not (someone
    /// cancelled it, or another process finished it first).
    fn finish(&self, id: &str, state: WaitState, outcome: &str) -> Result<bool, StoreError>;

    /// Cancels the tenant's wait `id`: the wait as it stands after, or
    /// `None` if the tenant has no such wait. A finished wait stays as it
    /// finished.
    fn cancel(&self, tenant: &str, id: &str) -> Result<Option<Wait>, StoreError>;
}

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

/// The oldest `updated_at` of a finished wait that `list` still shows.
pub(crate) fn finished_since() -> i64 {
    now_secs().saturating_sub(to_i64(KEPT_FINISHED_SECS))
}

/// What both backends select for a wait, in this order.
pub(crate) const COLUMNS: &str = "id, tenant, kind, subject, request, key_id, state, outcome, \
                                  checks, created_at, updated_at, checked_at, deadline";

/// Reads [`COLUMNS`].
pub(crate) fn wait_of(row: &impl Columns) -> Result<Wait, StoreError> {
    Ok(Wait {
        id: row.text(0)?,
        tenant: row.text(1)?,
        kind: row.text(2)?,
        subject: row.text(3)?,
        request: row.text(4)?,
        key_id: row.maybe_text(5)?,
        state: WaitState::parse(&row.text(6)?),
        outcome: row.maybe_text(7)?,
        checks: u32::try_from(row.int(8)?).unwrap_or(u32::MAX),
        created_at: to_u64(row.int(9)?),
        updated_at: to_u64(row.int(10)?),
        checked_at: row.maybe_int(11)?.map(to_u64),
        deadline: to_u64(row.int(12)?),
    })
}

/// 128 random bits in hex: a wait's id says nothing and cannot be guessed.
pub(crate) fn new_id() -> Result<String, StoreError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|error| {
        StoreError::Unavailable(format!("the system random generator failed: {error}"))
    })?;
    Ok(hex::encode(id))
}

/// The row just written, or the one that kept it from being written, was
/// deleted before it could be read back.
pub(crate) fn lost(doing: &'static str) -> StoreError {
    StoreError::Unavailable(format!("waits: {doing}: the row vanished"))
}
