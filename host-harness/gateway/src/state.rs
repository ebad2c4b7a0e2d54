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

#[derive(Clone)]
pub struct Gateway {
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
}

impl Gateway {
    pub fn new(
        sandbox: Sandbox,
        keys: Arc<dyn KeyVerifier>,
        template: Tenant,
        config: &GatewayConfig,
        hooks: Vec<Arc<dyn CallHooks>>,
    ) -> Self {
        Self {
            directory: Arc::new(Directory::new(keys, template)),
            sessions: Sessions::new(config.max_sessions_per_tenant),
            admission: Admission::new(config.admission.clone()),
            hosts: config.hosts.clone(),
            secure_cookies: config.secure_cookies,
            discovery: Arc::default(),
            metrics: Arc::new(Metrics::new(sandbox.outbound_stats())),
            cache: ReadCache::new(config.cache_ttl, config.cache_max_bytes).map(Arc::new),
            budget: Arc::default(),
            budget_per_hour: config.upstream_budget_per_hour,
            metrics_token: config.metrics_token.as_deref().map(Arc::from),
            hooks: hooks.into(),
            sandbox,
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

/// What the component says about itself; the same for every tenant and
/// every call, so it is asked once.
pub struct Discovery {
    pub info: IntegrationInfo,
    pub operations: Vec<Operation>,
    /// Each operation's parameter schema, parsed once rather than per request.
    pub params_schemas: HashMap<String, Value>,
}

impl Discovery {
    fn new(info: IntegrationInfo, operations: Vec<Operation>) -> Self {
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
