//! One call, as every route makes it: answered from the cache when it can
//! be, else admitted by the tenant's upstream budget and the call caps, run
//! in the sandbox, counted, and its writes made to forget the cache.

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::time::Instant;

use atom_runtime::contract::Complexity;
use serde_json::Value;

use crate::admission::Refusal;
use crate::auth::principal::Principal;
use crate::budget::UpstreamBudget;
use crate::cache::Lasting;
use crate::error::GatewayError;
use crate::metrics::{CallLabels, OperationLabel, ReasonLabel};
use crate::state::{Discovery, Gateway};

/// What a call may do, as far as the cache is concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Answers may be reused for the TTL (an analysis's for longer).
    CacheableRead(Lasting),
    /// Reads whose answer must be fresh (health, OAuth, anything unknown).
    Read,
    Write,
}

/// Whether a call takes a token from the tenant's upstream budget.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Budgeted {
    Yes,
    /// The operation sends nothing upstream, and who asks for it may have
    /// proved nothing yet (a webhook delivery before its signature is checked).
    No,
}

/// Whether a cached answer will do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Cached,
    Fresh,
}

impl Reading {
    /// `Cache-Control: no-cache` (or `no-store`) asks for a fresh answer.
    pub fn of(headers: &axum::http::HeaderMap) -> Self {
        let fresh = headers
            .get_all(axum::http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("no-cache") || v.contains("no-store"));
        if fresh {
            Reading::Fresh
        } else {
            Reading::Cached
        }
    }
}

/// At most this many bytes of a caller's value reach a log field, so a log
/// line stays a line however large the request.
const LOG_FIELD_BYTES: usize = 128;

/// `value` for a log field: cut to [`LOG_FIELD_BYTES`] on a char boundary,
/// with a marker saying how long it was.
pub fn log_field(value: &str) -> Cow<'_, str> {
    if value.len() <= LOG_FIELD_BYTES {
        return Cow::Borrowed(value);
    }
    let mut end = LOG_FIELD_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…[cut, {} bytes]", &value[..end], value.len()))
}

/// For a component that publishes no rate-limit hint: the smallest hourly
/// budget an upstream we integrate publishes, better too strict than spent.
const FALLBACK_BUDGET: NonZeroU32 = NonZeroU32::new(1000).unwrap();

impl Gateway {
    /// Runs one operation for the principal's tenant.
    pub async fn run(
        &self,
        principal: &Principal,
        operation: &str,
        params: &str,
    ) -> Result<String, GatewayError> {
        self.run_reading(principal, operation, params, Reading::Cached)
            .await
    }

    /// As [`Gateway::run`]; `Reading::Fresh` (the caller sent `Cache-Control:
    /// no-cache`) skips the cached answer and stores the new one.
    pub async fn run_reading(
        &self,
        principal: &Principal,
        operation: &str,
        params: &str,
        reading: Reading,
    ) -> Result<String, GatewayError> {
        self.call(principal, operation, params, reading, Budgeted::Yes)
            .await
    }

    /// Runs an operation that sends no upstream request, such as verifying a
    /// webhook delivery: it takes nothing from the tenant's budget, so a
    /// request that proves nothing (a forged delivery) cannot spend it. Were
    /// it to send something after all, the tenant's next budgeted call is
    /// charged for it.
    pub async fn run_local(
        &self,
        principal: &Principal,
        operation: &str,
        params: &str,
    ) -> Result<String, GatewayError> {
        self.call(principal, operation, params, Reading::Fresh, Budgeted::No)
            .await
    }

    async fn call(
        &self,
        principal: &Principal,
        operation: &str,
        params: &str,
        reading: Reading,
        budgeted: Budgeted,
    ) -> Result<String, GatewayError> {
        let discovery = self.discovery().await.ok();
        let (label, kind) = self.classify(discovery.as_deref(), operation);
        let tenant = principal.tenant.as_str();
        // Only a cacheable read needs its params parsed: they are its key.
        let cached = self
            .cache
            .as_ref()
            .filter(|_| matches!(kind, Kind::CacheableRead(_)))
            .map(|cache| {
                (
                    cache,
                    serde_json::from_str::<Value>(params).unwrap_or(Value::Null),
                )
            });
        if let Some((cache, parsed)) = cached.as_ref().filter(|_| reading == Reading::Cached) {
            if let Some(answer) = cache.get(tenant, operation, parsed) {
                self.metrics.cache_hits.inc();
                self.count(&label, "ok", None);
                return Ok(answer.to_string());
            }
            self.metrics.cache_misses.inc();
        }

        let budget = self.budget(discovery.as_deref());
        if budgeted == Budgeted::Yes
            && let Err(wait) = budget.admit(tenant).await?
        {
            self.metrics.budget_refusals.inc();
            return Err(GatewayError::RateLimited {
                message: "this tenant's upstream request budget is spent for now".into(),
                retry_after_seconds: wait,
            });
        }
        let live = self.live(principal);
        let _slot = self
            .admission
            .admit(tenant, &live.slots)
            .await
            .map_err(|refusal| {
                // A slot frees when any call ends: worth another try soon.
                let (reason, error) = match refusal {
                    Refusal::TenantBusy => (
                        "tenant_busy",
                        GatewayError::RateLimited {
                            message: "this tenant has as many calls running as it may".into(),
                            retry_after_seconds: 1,
                        },
                    ),
                    Refusal::GatewayBusy => (
                        "gateway_busy",
                        GatewayError::Overloaded {
                            message: "the gateway has as many calls running as it may".into(),
                            retry_after_seconds: 1,
                        },
                    ),
                    Refusal::Down(error) => ("service_down", error),
                };
                self.metrics.refused(reason);
                error
            })?;

        let started = Instant::now();
        let outcome = self.sandbox.execute(&live.tenant, operation, params).await;
        let elapsed = started.elapsed();
        // Charge what the tenant's calls sent since the last charge: exact
        // even when its calls overlap. An unbudgeted call leaves the count to
        // the next budgeted one, which took the token `charge` assumes.
        let sent = match budgeted {
            Budgeted::Yes => {
                let sent_now = live.tenant.upstream_requests();
                let sent = sent_now.saturating_sub(live.charged.swap(sent_now, Ordering::Relaxed));
                // The call is done: a charge Redis missed is not worth
                // failing its answer for.
                if let Err(error) = budget.charge(tenant, sent).await {
                    tracing::warn!(%error, sent, "a call's upstream requests were not charged");
                }
                sent
            }
            Budgeted::No => 0,
        };
        let millis = elapsed.as_millis() as u64;
        match outcome {
            Ok(answer) => {
                tracing::info!(
                    operation = %log_field(operation),
                    millis,
                    sent,
                    "call answered"
                );
                self.count(&label, "ok", Some(elapsed.as_secs_f64()));
                match kind {
                    Kind::CacheableRead(lasting) => {
                        if let Some((cache, parsed)) = &cached {
                            cache.put(tenant, operation, parsed, &answer, lasting);
                        }
                    }
                    Kind::Write => self.forget_tenant(tenant).await,
                    Kind::Read => {}
                }
                for hooks in self.hooks.iter() {
                    hooks.answered(tenant, operation, &answer);
                }
                Ok(answer)
            }
            Err(failure) => {
                tracing::info!(
                    operation = %log_field(operation),
                    millis,
                    sent,
                    code = failure.code(),
                    "call failed"
                );
                // The client is told only that the component failed; the
                // request id in this span leads here.
                if let Some(internals) = failure.internals() {
                    tracing::error!(internals, "the component failed");
                }
                self.count(&label, failure.code(), Some(elapsed.as_secs_f64()));
                if let Some(reason) = failure.sandbox_stop() {
                    self.metrics
                        .sandbox_stops
                        .get_or_create(&ReasonLabel { reason })
                        .inc();
                }
                Err(GatewayError::Component(failure))
            }
        }
    }

    fn budget(&self, discovery: Option<&Discovery>) -> &UpstreamBudget {
        self.budget.get_or_init(|| {
            let published = discovery.and_then(|d| {
                d.info
                    .rate_limits
                    .iter()
                    .map(|hint| hint.requests_per_hour)
                    .min()
                    .and_then(NonZeroU32::new)
            });
            let per_hour = self
                .budget_per_hour
                .or(published)
                .unwrap_or(FALLBACK_BUDGET);
            match &self.shared {
                Some(shared) => UpstreamBudget::shared(shared.clone(), per_hour),
                None => UpstreamBudget::per_hour(per_hour),
            }
        })
    }

    fn count(&self, operation: &str, outcome: &str, seconds: Option<f64>) {
        self.metrics
            .calls
            .get_or_create(&CallLabels {
                operation: operation.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        if let Some(seconds) = seconds {
            self.metrics
                .latency
                .get_or_create(&OperationLabel {
                    operation: operation.to_owned(),
                })
                .observe(seconds);
        }
    }

    /// The operation's metric label (its name only if the component
    /// published it: a caller cannot grow the label set) and what it may do.
    fn classify(&self, discovery: Option<&Discovery>, operation: &str) -> (String, Kind) {
        let Some(published) =
            discovery.and_then(|d| d.operations.iter().find(|op| op.name == operation))
        else {
            return ("unknown".to_owned(), Kind::Read);
        };
        let fresh =
            operation == "health" || self.hooks.iter().any(|hooks| hooks.always_fresh(operation));
        // The component's own fact, not its complexity: only what changes
        // nothing upstream may be cached or shared.
        let lasting = match published.complexity {
            Complexity::Analyze => Lasting::Analysis,
            _ => Lasting::Read,
        };
        let kind = match published.facts.read_only {
            true if !fresh => Kind::CacheableRead(lasting),
            true => Kind::Read,
            false => Kind::Write,
        };
        (published.name.clone(), kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_fields_are_cut_on_a_char_boundary_and_marked() {
        assert_eq!(log_field("acme"), "acme");
        let long = "é".repeat(100_000);
        let cut = log_field(&long);
        assert!(cut.len() < 2 * LOG_FIELD_BYTES, "{cut}");
        assert!(cut.ends_with("…[cut, 200000 bytes]"), "{cut}");
    }
}
