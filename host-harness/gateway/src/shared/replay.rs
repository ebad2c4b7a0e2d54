//! The webhook replay set in Redis: `SET NX` with the window as its expiry
//! accepts a delivery on exactly one replica, whichever it reaches first.

use std::time::Duration;

use super::{Shared, down};
use crate::error::GatewayError;

#[derive(Clone)]
pub struct SharedReplay {
    shared: Shared,
}

impl SharedReplay {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// Remembers the delivery `digest` of `tenant` for `window`; answers
    /// whether it is the first time any replica saw it.
    pub async fn first_time(
        &self,
        tenant: &str,
        digest: &str,
        window: Duration,
    ) -> Result<bool, GatewayError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.shared.key(&["delivery", tenant, digest]))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(window.as_secs().max(1))
            .query_async(&mut self.shared.connection())
            .await
            .map_err(|error| down("checking a delivery against replays", &error))?;
        Ok(set.is_some())
    }

    /// Forgets a delivery that was not acknowledged after all.
    pub async fn forget(&self, tenant: &str, digest: &str) -> Result<(), GatewayError> {
        redis::cmd("DEL")
            .arg(self.shared.key(&["delivery", tenant, digest]))
            .query_async::<i64>(&mut self.shared.connection())
            .await
            .map(drop)
            .map_err(|error| down("forgetting a delivery", &error))
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        self.shared.replica()
    }
}
