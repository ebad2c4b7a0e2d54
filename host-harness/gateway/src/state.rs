//! What every handler shares: the sandbox, who the tenants are, their
//! sessions and call slots, the cache, budget and metrics, and what the
//! component said about itself.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tokio::sync::OnceCell;

use crate::admission::Admission;
use crate::auth::directory::{Directory, KeyVerifier, LiveTenant};
use crate::auth::guard::HostAllowlist;
use crate::auth::principal::{Principal, Sessions};
use crate::budget::UpstreamBudget;
use crate::cache::ReadCache;
use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::shared::{Fanout, Published, Shared, SharedAuthStates, SharedSlots};
use atom_runtime::contract::{IntegrationInfo, Operation};
use atom_runtime::{Sandbox, Tenant};

/// What a route family must learn of every call, whichever route made it:
/// a flow that one operation starts and another route finishes, say.
pub trait CallHooks: Send + Sync {
    /// Whether the operation's answers must never come from the cache.
    fn always_fresh(&self, _operation: &str) -> bool {
        false
    }

    /// The call answered with `answer`, the component's JSON.
    fn answered(&self, _tenant: &str, _operation: &str, _answer: &str) {}
}

/// A handle on the gateway's state: every request and task holds one, and
/// cloning it is one reference count, not one per field.
#[derive(Clone)]
pub struct Gateway(Arc<GatewayState>);

impl std::ops::Deref for Gateway {
    type Target = GatewayState;

    fn deref(&self) -> &GatewayState {
        &self.0
    }
}

pub struct GatewayState {
    pub(crate) sandbox: Sandbox,
    pub(crate) directory: Arc<Directory>,
    pub(crate) sessions: Sessions,
    pub(crate) admission: Admission,
    pub(crate) hosts: HostAllowlist,
    pub(crate) secure_cookies: bool,
    discovery: Arc<OnceCell<Arc<Discovery>>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) cache: Option<Arc<ReadCache>>,
    pub(crate) budget: Arc<OnceLock<UpstreamBudget>>,
    pub(crate) budget_per_hour: Option<NonZeroU32>,
    pub(crate) metrics_token: Option<Arc<str>>,
    pub(crate) hooks: Arc<[Arc<dyn CallHooks>]>,
    /// The deployment's Redis and its fan-out, when replicas share state.
    pub(crate) shared: Option<Shared>,
    pub(crate) fanout: Option<Fanout>,
}

impl Gateway {
    pub fn new(
        sandbox: Sandbox,
        keys: Arc<dyn KeyVerifier>,
        template: Tenant,
        config: &GatewayConfig,
        hooks: Vec<Arc<dyn CallHooks>>,
        fanout: Option<Fanout>,
    ) -> Self {
        let shared = config.shared.clone();
        let template = match &shared {
            Some(shared) => {
                template.with_auth_states(Arc::new(SharedAuthStates::new(shared.clone())))
            }
            None => template,
        };
        let sessions = match &shared {
            Some(shared) => Sessions::shared(shared.clone(), config.max_sessions_per_tenant),
            None => Sessions::new(config.max_sessions_per_tenant),
        };
        let slots = shared.as_ref().map(|shared| {
            SharedSlots::new(
                shared.clone(),
                config.admission.max_calls_per_tenant,
                config.call_slot_lease,
            )
        });
        let cache = ReadCache::new(
            config.cache_ttl,
            config.analysis_cache_ttl,
            config.cache_max_bytes,
        )
        .map(Arc::new);
        if let (Some(fanout), Some(cache)) = (&fanout, &cache) {
            tokio::spawn(forget_what_others_changed(
                fanout.subscribe(),
                cache.clone(),
            ));
        }
        Self(Arc::new(GatewayState {
            directory: Arc::new(Directory::new(keys, template)),
            sessions,
            admission: Admission::new(config.admission.clone(), slots),
            hosts: config.hosts.clone(),
            secure_cookies: config.secure_cookies,
            discovery: Arc::default(),
            metrics: Arc::new(Metrics::new(sandbox.outbound_stats())),
            cache,
            budget: Arc::default(),
            budget_per_hour: config.upstream_budget_per_hour,
            metrics_token: config.metrics_token.as_deref().map(Arc::from),
            hooks: hooks.into(),
            sandbox,
            shared,
            fanout,
        }))
    }

    /// Everything cached for `tenant` is stale, here and on every replica.
    pub async fn forget_tenant(&self, tenant: &str) {
        if let Some(cache) = &self.cache {
            cache.forget_tenant(tenant);
        }
        if let Some(fanout) = &self.fanout {
            let forget = Published::ForgetTenant {
                tenant: tenant.to_owned(),
            };
            // The other replicas' entries expire within the cache's TTL
            // even if this does not reach them.
            if let Err(error) = fanout.publish(&forget).await {
                tracing::warn!(%error, "other replicas were not told to forget a tenant's reads");
            }
        }
    }

    pub fn live(&self, principal: &Principal) -> LiveTenant {
        self.directory
            .live(&principal.tenant, || self.admission.tenant_slots())
    }

    /// Discovery needs no credential and is the same for every tenant: it
    /// runs once, as a tenant no one can call as.
    pub async fn discovery(&self) -> Result<Arc<Discovery>, GatewayError> {
        let tenant = self.directory.anonymous();
        self.discovery
            .get_or_try_init(|| async {
                Ok(Arc::new(Discovery::new(
                    self.sandbox.capabilities(&tenant).await?,
                    self.sandbox.operations(&tenant).await?,
                )))
            })
            .await
            .cloned()
            .map_err(GatewayError::Component)
    }
}

/// Applies the other replicas' writes and deliveries to this replica's cache.
async fn forget_what_others_changed(
    mut published: tokio::sync::broadcast::Receiver<Published>,
    cache: Arc<ReadCache>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match published.recv().await {
            Ok(Published::ForgetTenant { tenant }) => cache.forget_tenant(&tenant),
            Ok(Published::Event { tenant, event, .. }) => {
                if let Some((workspace, slug)) =
                    event["repository"].as_str().and_then(|r| r.split_once('/'))
                {
                    cache.forget_repository(&tenant, workspace, slug);
                }
            }
            // Missed messages: what they would have forgotten is unknown.
            Err(RecvError::Lagged(_)) => cache.clear(),
            Err(RecvError::Closed) => return,
        }
    }
}

/// What the component says about itself; the same for every tenant and
/// every call, so it is asked once.
pub struct Discovery {
    pub info: IntegrationInfo,
    pub operations: Arc<[Operation]>,
    /// Each operation's parameter schema, parsed once rather than per request.
    pub params_schemas: HashMap<String, Value>,
}

impl Discovery {
    fn new(info: IntegrationInfo, operations: Arc<[Operation]>) -> Self {
        let params_schemas = operations
            .iter()
            .filter_map(|op| {
                let schema = serde_json::from_str(&op.parameters_schema).ok()?;
                Some((op.name.clone(), schema))
            })
            .collect();
        Self {
            info,
            operations,
            params_schemas,
        }
    }
}
