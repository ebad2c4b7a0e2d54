//! How many calls run at once: a cap per tenant and one in total, sized so
//! the calls' memory caps fit what the operator budgets. A call waits a
//! bounded time for a slot, then is turned away with `Retry-After` instead
//! of queueing without end.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The caps, validated by whoever builds them.
#[derive(Clone, Debug)]
pub struct AdmissionLimits {
    /// Calls running at once, all tenants together.
    pub max_calls: usize,
    /// Calls running at once for one tenant.
    pub max_calls_per_tenant: usize,
    /// How long a call may wait for a slot before it is turned away.
    pub queue_wait: Duration,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        Self {
            max_calls: 32,
            max_calls_per_tenant: 8,
            queue_wait: Duration::from_secs(2),
        }
    }
}

/// Why a call was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The tenant has as many calls running as it may: 429.
    TenantBusy,
    /// The gateway has as many calls running as memory allows: 503.
    GatewayBusy,
}

/// Holds one slot for the tenant and one in total while a call runs.
pub struct Admitted {
    _tenant: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

#[derive(Clone)]
pub struct Admission {
    limits: AdmissionLimits,
    total: Arc<Semaphore>,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Self {
        Self {
            total: Arc::new(Semaphore::new(limits.max_calls)),
            limits,
        }
    }

    /// A fresh per-tenant cap, kept with the tenant.
    pub fn tenant_slots(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(self.limits.max_calls_per_tenant))
    }

    /// Waits (boundedly) for the tenant's slot first, so a tenant at its own
    /// cap never holds one of the shared slots while it waits.
    pub async fn admit(&self, tenant_slots: &Arc<Semaphore>) -> Result<Admitted, Refusal> {
        let wait = self.limits.queue_wait;
        let tenant = tokio::time::timeout(wait, tenant_slots.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(Refusal::TenantBusy)?;
        let total = tokio::time::timeout(wait, self.total.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(Refusal::GatewayBusy)?;
        Ok(Admitted {
            _tenant: tenant,
            _total: total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_at_its_cap_waits_then_is_refused_and_others_still_run() {
        let admission = Admission::new(AdmissionLimits {
            max_calls: 3,
            max_calls_per_tenant: 2,
            queue_wait: Duration::from_millis(50),
        });
        let (busy, quiet) = (admission.tenant_slots(), admission.tenant_slots());
        let _first = admission.admit(&busy).await.unwrap();
        let _second = admission.admit(&busy).await.unwrap();
        assert_eq!(
            admission.admit(&busy).await.err(),
            Some(Refusal::TenantBusy)
        );
        let _third = admission.admit(&quiet).await.unwrap();
        assert_eq!(
            admission.admit(&quiet).await.err(),
            Some(Refusal::GatewayBusy)
        );
        drop(_first);
        assert!(
            admission.admit(&quiet).await.is_ok(),
            "a freed slot is reused"
        );
    }
}
