//! `GET /metrics` in Prometheus' text format: calls by operation and
//! outcome, their latency, upstream requests, the upstream budget and the
//! cache at work, sandbox stops and outbound denials, refusals at the door.
//! Labels carry operation names the component published and fixed words,
//! never a tenant or anything a caller typed.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use atom_runtime::OutboundStats;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub operation: String,
    /// `ok` or the failure's code.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub calls: Family<CallLabels, Counter>,
    pub latency: Family<OperationLabel, Histogram>,
    pub sandbox_stops: Family<ReasonLabel, Counter>,
    pub refusals: Family<ReasonLabel, Counter>,
    pub budget_refusals: Counter,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub webhook_deliveries: Family<ReasonLabel, Counter>,
}

impl Metrics {
    pub fn new(outbound: &OutboundStats) -> Self {
        let mut registry = Registry::with_prefix("atom");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "calls",
            "Calls answered, by operation and outcome",
            calls.clone(),
        );
        // 1 ms to ~65 s: a cached read to a merge that waits on the upstream.
        let latency = Family::<OperationLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 17))
        });
        registry.register(
            "call_duration_seconds",
            "Time to answer a call",
            latency.clone(),
        );
        registry.register(
            "upstream_requests",
            "Requests components sent upstream",
            outbound.sent.clone(),
        );
        registry.register(
            "outbound_denied",
            "Requests the outbound allowlist refused",
            outbound.denied.clone(),
        );
        let sandbox_stops = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "sandbox_stops",
            "Calls the sandbox stopped (deadline, memory, trap)",
            sandbox_stops.clone(),
        );
        let refusals = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "refusals",
            "Calls refused before they ran",
            refusals.clone(),
        );
        let budget_refusals = Counter::default();
        registry.register(
            "rate_limited",
            "Calls refused because the tenant's upstream budget was spent",
            budget_refusals.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "cache_hits",
            "Reads answered from the cache",
            cache_hits.clone(),
        );
        let cache_misses = Counter::default();
        registry.register(
            "cache_misses",
            "Cacheable reads that ran",
            cache_misses.clone(),
        );
        let webhook_deliveries = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries received, by outcome",
            webhook_deliveries.clone(),
        );
        Self {
            registry,
            calls,
            latency,
            sandbox_stops,
            refusals,
            budget_refusals,
            cache_hits,
            cache_misses,
            webhook_deliveries,
        }
    }

    pub fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&ReasonLabel { reason }).inc();
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}
