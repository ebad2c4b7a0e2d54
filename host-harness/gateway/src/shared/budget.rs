//! The upstream budget in Redis: one token bucket per tenant for the whole
//! deployment, refilled at the hourly rate, so N replicas spend one
//! allowance, not N. The bucket is read, refilled and spent in one script
//! on Redis's clock, so replicas with skewed clocks agree.

use redis::Script;

use super::{Shared, down};
use crate::error::GatewayError;

/// ARGV: capacity, tokens per millisecond, tokens to spend, `admit` (spend
/// one or answer the seconds to wait) or `charge` (spend what was sent,
/// down to empty). Answers 0, or the seconds to wait.
const BUCKET: &str = r"
local capacity, per_ms, spend = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1]) or capacity
local at = tonumber(stored[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
local wait = 0
if ARGV[4] == 'admit' then
  if tokens >= 1 then tokens = tokens - 1 else wait = math.max(1, math.ceil((1 - tokens) / per_ms / 1000)) end
else
  tokens = math.max(0, tokens - spend)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_ms) + 60000)
return wait
";

#[derive(Clone)]
pub struct SharedBudget {
    shared: Shared,
    per_hour: u32,
}

impl SharedBudget {
    pub fn new(shared: Shared, per_hour: u32) -> Self {
        Self { shared, per_hour }
    }

    /// `Ok(Err(seconds))` to wait when the tenant has nothing left.
    pub async fn admit(&self, tenant: &str) -> Result<Result<(), u64>, GatewayError> {
        let wait = self.run(tenant, 1, "admit").await?;
        Ok(if wait == 0 { Ok(()) } else { Err(wait) })
    }

    /// Charges what a call sent beyond the token it was admitted with.
    pub async fn charge(&self, tenant: &str, sent: u64) -> Result<(), GatewayError> {
        if sent > 1 {
            self.run(tenant, sent - 1, "charge").await?;
        }
        Ok(())
    }

    async fn run(&self, tenant: &str, spend: u64, mode: &str) -> Result<u64, GatewayError> {
        let per_ms = f64::from(self.per_hour) / 3_600_000.0;
        Script::new(BUCKET)
            .key(self.shared.key(&["budget", tenant]))
            .arg(self.per_hour)
            .arg(per_ms)
            .arg(spend)
            .arg(mode)
            .invoke_async::<u64>(&mut self.shared.connection())
            .await
            .map_err(|error| down("reading the upstream budget", &error))
    }
}
