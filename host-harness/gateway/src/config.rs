//! What the operator decides about the gateway's front door, and the
//! defaults for a gateway on loopback.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::admission::AdmissionLimits;
use crate::auth::guard::HostAllowlist;
use crate::routes::operator::Operator;
use crate::shared::Shared;

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Names the gateway answers to (`Host`, and `Origin` of browser calls).
    pub hosts: HostAllowlist,
    pub admission: AdmissionLimits,
    /// Mark the session cookie `Secure` (the gateway is served over TLS).
    pub secure_cookies: bool,
    pub max_body_bytes: usize,
    /// Time a client gets to send a request's body.
    pub body_timeout: Duration,
    /// Each tenant's upstream requests per hour; `None`: the lowest of the
    /// component's rate-limit hints.
    pub upstream_budget_per_hour: Option<NonZeroU32>,
    /// How long a read's answer is reused; zero turns the cache off.
    pub cache_ttl: Duration,
    /// How long an analysis's answer (complexity `analyze`) is reused: it
    /// costs many upstream requests and changes slowly. Never shorter than
    /// `cache_ttl`.
    pub analysis_cache_ttl: Duration,
    pub cache_max_bytes: u64,
    /// The bearer `/metrics` wants; without one, metrics are not served.
    pub metrics_token: Option<String>,
    /// Where accepted webhook events are also POSTed (ATOM's intake).
    pub forward_events_to: Option<hyper::Uri>,
    /// Browser sessions one tenant keeps open at most; its oldest goes first.
    pub max_sessions_per_tenant: usize,
    /// `GET /bitbucket/events` streams one tenant may hold open: each holds
    /// a connection, and one tenant must not hold them all.
    pub max_streams_per_tenant: usize,
    /// How often every merge wait is looked at even if no delivery woke it.
    pub merge_poll_every: Duration,
    /// The deployment's Redis, when several replicas serve it: sessions,
    /// logins, replays, budget, slots and fan-out live there, not here.
    pub shared: Option<Shared>,
    /// How long a call's shared slot outlives a replica that died holding
    /// it: longer than any call runs.
    pub call_slot_lease: Duration,
    /// The operator API (`/operator/v1`), when an operator token is set.
    pub operator: Option<Operator>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            hosts: HostAllowlist::loopback(),
            admission: AdmissionLimits::default(),
            secure_cookies: false,
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(10),
            upstream_budget_per_hour: None,
            cache_ttl: Duration::from_secs(10),
            analysis_cache_ttl: Duration::from_secs(300),
            cache_max_bytes: 64 << 20,
            metrics_token: None,
            forward_events_to: None,
            max_sessions_per_tenant: crate::auth::principal::DEFAULT_SESSIONS_PER_TENANT,
            max_streams_per_tenant: 4,
            merge_poll_every: Duration::from_secs(300),
            shared: None,
            call_slot_lease: Duration::from_secs(120),
            operator: None,
        }
    }
}
