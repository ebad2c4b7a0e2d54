//! How many calls run at once: a cap per tenant and one in total, sized so
//! the calls' memory caps fit what the operator budgets. A call waits a
//! bounded time for a slot, then is turned away with `Retry-After` instead
//! of queueing without end.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::GatewayError;
use crate::shared::{SharedSlot, SharedSlots};

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
#[derive(Debug)]
pub enum Refusal {
    /// The tenant has as many calls running as it may: 429.
    TenantBusy,
    /// The gateway has as many calls running as memory allows: 503.
    GatewayBusy,
    /// The shared slots (Redis) did not answer.
    Down(GatewayError),
}

/// Holds one slot for the tenant and one in total while a call runs.
pub struct Admitted {
    _tenant: TenantSlot,
    _total: OwnedSemaphorePermit,
}

/// A tenant's slot in this process, or in the deployment's Redis.
enum TenantSlot {
    Local(#[allow(dead_code)] OwnedSemaphorePermit),
    Shared(#[allow(dead_code)] Box<SharedSlot>),
}

#[derive(Clone)]
pub struct Admission {
    limits: AdmissionLimits,
    total: Arc<Semaphore>,
    /// The tenants' caps across replicas; `None`: per process.
    shared: Option<SharedSlots>,
}

impl Admission {
    pub fn new(limits: AdmissionLimits, shared: Option<SharedSlots>) -> Self {
        Self {
            total: Arc::new(Semaphore::new(limits.max_calls)),
            limits,
            shared,
        }
    }

    /// A fresh per-tenant cap, kept with the tenant.
    pub fn tenant_slots(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(self.limits.max_calls_per_tenant))
    }

    /// Waits (boundedly) for the tenant's slot first, so a tenant at its own
    /// cap never holds one of the shared slots while it waits.
    pub async fn admit(
        &self,
        tenant: &str,
        tenant_slots: &Arc<Semaphore>,
    ) -> Result<Admitted, Refusal> {
        let wait = self.limits.queue_wait;
        let tenant = match &self.shared {
            Some(shared) => TenantSlot::Shared(Box::new(
                shared
                    .acquire(tenant, wait)
                    .await
                    .map_err(Refusal::Down)?
                    .ok_or(Refusal::TenantBusy)?,
            )),
            None => TenantSlot::Local(
                tokio::time::timeout(wait, tenant_slots.clone().acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .ok_or(Refusal::TenantBusy)?,
            ),
        };
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
        let admission = Admission::new(
            AdmissionLimits {
                max_calls: 3,
                max_calls_per_tenant: 2,
                queue_wait: Duration::from_millis(50),
            },
            None,
        );
        let (busy, quiet) = (admission.tenant_slots(), admission.tenant_slots());
        let _first = admission.admit("busy", &busy).await.unwrap();
        let _second = admission.admit("busy", &busy).await.unwrap();
        assert!(matches!(
            admission.admit("busy", &busy).await.err(),
            Some(Refusal::TenantBusy)
        ));
        let _third = admission.admit("quiet", &quiet).await.unwrap();
        assert!(matches!(
            admission.admit("quiet", &quiet).await.err(),
            Some(Refusal::GatewayBusy)
        ));
        drop(_first);
        assert!(
            admission.admit("quiet", &quiet).await.is_ok(),
            "a freed slot is reused"
        );
    }
}
