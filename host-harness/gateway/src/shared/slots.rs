//! Per-tenant call slots in Redis: a tenant's cap holds across replicas.
//! `<prefix>:slots:<tenant>` ranks the holders by when their lease ends; a
//! replica that dies holding slots delays the tenant until the leases end,
//! it does not lock it out.

use std::time::Duration;

use redis::Script;

use super::{Shared, down};
use crate::error::GatewayError;

/// Takes a slot if fewer than ARGV[1] unexpired leases are held. Redis's
/// clock decides expiry, so replicas with skewed clocks agree.
const ACQUIRE: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
";

/// How often a call waiting for a slot asks again.
const POLL: Duration = Duration::from_millis(20);

#[derive(Clone)]
pub struct SharedSlots {
    shared: Shared,
    per_tenant: usize,
    lease: Duration,
}

/// One slot, given back when dropped.
pub struct SharedSlot {
    shared: Shared,
    key: String,
    holder: String,
}

impl SharedSlots {
    pub fn new(shared: Shared, per_tenant: usize, lease: Duration) -> Self {
        Self {
            shared,
            per_tenant,
            lease,
        }
    }

    /// A slot for `tenant`, waiting up to `wait` for one; `Ok(None)` when
    /// none freed in time.
    pub async fn acquire(
        &self,
        tenant: &str,
        wait: Duration,
    ) -> Result<Option<SharedSlot>, GatewayError> {
        let key = self.shared.key(&["slots", tenant]);
        let holder = format!("{}-{}", self.shared.replica(), next_call());
        let give_up = tokio::time::Instant::now() + wait;
        loop {
            let taken: i64 = Script::new(ACQUIRE)
                .key(&key)
                .arg(self.per_tenant)
                .arg(self.lease.as_millis() as u64)
                .arg(&holder)
                .invoke_async(&mut self.shared.connection())
                .await
                .map_err(|error| down("taking a call slot", &error))?;
            if taken == 1 {
                return Ok(Some(SharedSlot {
                    shared: self.shared.clone(),
                    key,
                    holder,
                }));
            }
            if tokio::time::Instant::now() + POLL > give_up {
                return Ok(None);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for SharedSlot {
    fn drop(&mut self) {
        let (shared, key, holder) = (
            self.shared.clone(),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.holder),
        );
        // Dropped in async code that cannot wait here; the lease ends the
        // slot anyway if this does not reach Redis.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let released = redis::cmd("ZREM")
                    .arg(&key)
                    .arg(&holder)
                    .query_async::<i64>(&mut shared.connection())
                    .await;
                if let Err(error) = released {
                    tracing::warn!(kind = ?error.kind(), "a call slot was not given back; its lease ends it");
                }
            });
        }
    }
}

/// A number no other call of this process has.
fn next_call() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    CALLS.fetch_add(1, Ordering::Relaxed)
}
