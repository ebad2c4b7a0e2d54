//! Browser sessions in Redis: `<prefix>:session:<id>` holds who the session
//! acts as, expiring with it; `<prefix>:sessions:<tenant>` ranks a tenant's
//! sessions by expiry, so the cap per tenant drops the oldest on any replica.

use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};

use super::{Shared, down, now_millis};
use crate::error::GatewayError;

/// What a session id stands for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRecord {
    pub tenant: String,
    pub key_id: String,
    pub csrf: String,
}

/// One step, so two replicas opening sessions for one tenant at once cannot
/// both skip the cap.
const OPEN: &str = r"
local now, lifetime, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local over = redis.call('ZCARD', KEYS[2]) - cap + 1
if over > 0 then
  local oldest = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #oldest, 2 do redis.call('DEL', ARGV[5] .. oldest[i]) end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', lifetime)
redis.call('ZADD', KEYS[2], now + lifetime, ARGV[6])
redis.call('PEXPIRE', KEYS[2], lifetime)
return 1
";

#[derive(Clone)]
pub struct SharedSessions {
    shared: Shared,
    per_tenant: usize,
}

impl SharedSessions {
    pub fn new(shared: Shared, per_tenant: usize) -> Self {
        Self { shared, per_tenant }
    }

    pub async fn open(
        &self,
        id: &str,
        record: &SessionRecord,
        lifetime: Duration,
    ) -> Result<(), GatewayError> {
        let value = serde_json::to_string(record)
            .map_err(|_| GatewayError::Unavailable("a session could not be written".into()))?;
        Script::new(OPEN)
            .key(self.shared.key(&["session", id]))
            .key(self.shared.key(&["sessions", &record.tenant]))
            .arg(value)
            .arg(now_millis())
            .arg(lifetime.as_millis() as u64)
            .arg(self.per_tenant)
            .arg(self.shared.key(&["session", ""]))
            .arg(id)
            .invoke_async::<i64>(&mut self.shared.connection())
            .await
            .map(drop)
            .map_err(|error| down("opening a session", &error))
    }

    pub async fn get(&self, id: &str) -> Result<Option<SessionRecord>, GatewayError> {
        let value: Option<String> = redis::cmd("GET")
            .arg(self.shared.key(&["session", id]))
            .query_async(&mut self.shared.connection())
            .await
            .map_err(|error| down("reading a session", &error))?;
        Ok(value.and_then(|value| serde_json::from_str(&value).ok()))
    }

    pub async fn close(&self, id: &str) -> Result<(), GatewayError> {
        let value: Option<String> = redis::cmd("GETDEL")
            .arg(self.shared.key(&["session", id]))
            .query_async(&mut self.shared.connection())
            .await
            .map_err(|error| down("closing a session", &error))?;
        if let Some(record) = value.and_then(|v| serde_json::from_str::<SessionRecord>(&v).ok()) {
            redis::cmd("ZREM")
                .arg(self.shared.key(&["sessions", &record.tenant]))
                .arg(id)
                .query_async::<i64>(&mut self.shared.connection())
                .await
                .map_err(|error| down("closing a session", &error))?;
        }
        Ok(())
    }
}
