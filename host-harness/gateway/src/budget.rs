//! Each tenant's upstream budget: a token bucket per tenant (governor),
//! refilled at the hourly rate the upstream publishes (the component's rate-limit
//! hints, or the operator's figure). A call needs a token before it runs, so a
//! tenant that spent its budget is told when to come back without spending
//! the upstream's; afterwards the bucket is charged for every request the call
//! actually sent. With Redis, the bucket is the deployment's, not the
//! process's (see [`crate::shared`]).

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::GatewayError;
use crate::shared::{Shared, SharedBudget};

pub struct UpstreamBudget {
    local: LocalBudget,
    /// The deployment's bucket, when replicas share one (Redis).
    shared: Option<SharedBudget>,
}

impl UpstreamBudget {
    pub fn per_hour(requests: NonZeroU32) -> Self {
        Self {
            local: LocalBudget::per_hour(requests),
            shared: None,
        }
    }

    /// One bucket per tenant for every replica of the deployment.
    pub fn shared(shared: Shared, requests: NonZeroU32) -> Self {
        Self {
            local: LocalBudget::per_hour(requests),
            shared: Some(SharedBudget::new(shared, requests.get())),
        }
    }

    /// `Ok(Err(seconds))` to wait when the tenant has nothing left; `Err`
    /// when the shared bucket cannot be read (the call is not run: an
    /// unread budget is not a granted one).
    pub async fn admit(&self, tenant: &str) -> Result<Result<(), u64>, GatewayError> {
        match &self.shared {
            Some(shared) => shared.admit(tenant).await,
            None => Ok(self.local.admit(tenant)),
        }
    }

    /// Charges what a call sent beyond the token it was admitted with.
    pub async fn charge(&self, tenant: &str, sent: u64) -> Result<(), GatewayError> {
        match &self.shared {
            Some(shared) => shared.charge(tenant, sent).await,
            None => {
                self.local.charge(tenant, sent);
                Ok(())
            }
        }
    }
}

/// A token bucket per tenant in this process (governor).
struct LocalBudget {
    buckets: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl LocalBudget {
    fn per_hour(requests: NonZeroU32) -> Self {
        Self {
            buckets: RateLimiter::keyed(Quota::per_hour(requests)),
            clock: DefaultClock::default(),
        }
    }

    fn admit(&self, tenant: &str) -> Result<(), u64> {
        self.buckets
            .check_key(&tenant.to_owned())
            .map_err(|not_until| {
                not_until
                    .wait_time_from(self.clock.now())
                    .as_secs_f64()
                    .ceil()
                    .max(1.0) as u64
            })
    }

    /// A bucket that cannot cover `sent` is emptied: the next call waits.
    fn charge(&self, tenant: &str, sent: u64) {
        let key = tenant.to_owned();
        let mut left = sent.saturating_sub(1);
        while left > 0 {
            let chunk =
                NonZeroU32::new(left.min(u64::from(u32::MAX)) as u32).unwrap_or(NonZeroU32::MIN);
            match self.buckets.check_key_n(&key, chunk) {
                Ok(Ok(())) => return,
                // More than the bucket holds: spend one at a time until empty.
                _ => {
                    if self.buckets.check_key(&key).is_err() {
                        return;
                    }
                    left -= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_spent_budget_says_when_to_come_back_and_tenants_are_apart() {
        let budget = UpstreamBudget::per_hour(NonZeroU32::new(3).unwrap());
        assert!(budget.admit("acme").await.unwrap().is_ok());
        budget.charge("acme", 3).await.unwrap(); // the call sent three: one paid on admission
        let wait = budget.admit("acme").await.unwrap().unwrap_err();
        assert!(
            (1..=1200).contains(&wait),
            "a third of an hour at most: {wait}"
        );
        assert!(
            budget.admit("globex").await.unwrap().is_ok(),
            "another tenant has its own bucket"
        );
    }
}
