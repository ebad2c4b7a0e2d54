//! `/mcp`: the operations as MCP tools over Streamable HTTP, for the tenant
//! of the request's API key. Calls take the gateway's own path (admission,
//! the tenant's upstream budget, the cache, the per-tenant slots), as every
//! other route's do. A browser session is not an MCP client: only a bearer
//! key opens one, and the session stays bound to that key's tenant.

use std::sync::Arc;

use atom_mcp::rmcp::transport::streamable_http_server::StreamableHttpService;
use atom_mcp::rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use atom_mcp::{
    Backend, CallError, McpServer, OriginPolicy, PromptTemplate, ResourceTemplate, ServerOptions,
    Subscriptions, TenantBackend, ToolSpec, check_origin_and_host, streamable_http_service,
};
use atom_runtime::contract::Operation;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::auth::principal::{Principal, Proof};
use crate::cache::Lasting;
use crate::calls::Reading;
use crate::error::GatewayError;
use crate::state::Gateway;

/// The `/mcp` service: the Origin and Host check the MCP specification asks
/// of HTTP servers (the gateway's own names and loopback origins), then the
/// tenant's backend, then rmcp's Streamable HTTP server.
pub fn service(
    gateway: &Gateway,
    integration: McpIntegration,
) -> BoxCloneSyncService<Request, Response, std::convert::Infallible> {
    let policy = OriginPolicy {
        allowed_hosts: gateway.hosts.names().to_vec(),
        allowed_origins: Vec::new(),
        allow_loopback_origins: true,
    };
    let options = ServerOptions {
        name: "atom-gateway".into(),
        instructions: "The integration's operations as tools, for the tenant of this API key. \
                       Annotations say whether a tool only reads, can destroy, or is safe to \
                       repeat; listings answer next_cursor (pass it as page.cursor)."
            .into(),
        prompts: integration.prompts,
        resources: integration.resources,
        subscriptions: integration.subscriptions,
        ..ServerOptions::default()
    };
    let mcp: StreamableHttpService<McpServer<GatewayBackend>, LocalSessionManager> =
        streamable_http_service(move || McpServer::per_request(options.clone()), &policy);
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(middleware::from_fn_with_state(
                Arc::new(policy),
                check_origin_and_host,
            ))
            .layer(middleware::from_fn_with_state(gateway.clone(), bind_tenant))
            .service(axum::routing::any_service(mcp)),
    )
}

/// What the integration adds to its tools: prompts, resources, and the
/// subscriptions it keeps up to date (the gateway knows none of them).
pub struct McpIntegration {
    pub prompts: Vec<PromptTemplate>,
    pub resources: Vec<ResourceTemplate>,
    pub subscriptions: Option<Subscriptions>,
}

/// Puts the caller's backend in the request, for the MCP server to find.
async fn bind_tenant(State(gateway): State<Gateway>, mut request: Request, next: Next) -> Response {
    let Some(principal) = request.extensions().get::<Principal>().cloned() else {
        return GatewayError::Unauthenticated("send Authorization: Bearer <API key>".into())
            .into_response();
    };
    if !matches!(principal.proof, Proof::ApiKey) {
        return GatewayError::Forbidden(
            "an MCP client authenticates with the tenant's API key (Bearer), not a browser session"
                .into(),
        )
        .into_response();
    }
    let tenant = principal.tenant.clone();
    // Each HTTP request gets its backend: a client that sends
    // `Cache-Control: no-cache` gets fresh reads for that request's calls.
    let reading = Reading::of(request.headers());
    let backend = Arc::new(GatewayBackend {
        gateway,
        principal,
        reading,
    });
    request
        .extensions_mut()
        .insert(TenantBackend { tenant, backend });
    next.run(request).await
}

/// One caller's view of the gateway, as the MCP server's backend.
pub struct GatewayBackend {
    gateway: Gateway,
    principal: Principal,
    reading: Reading,
}

impl Backend for GatewayBackend {
    async fn tools(&self) -> Result<Vec<ToolSpec>, CallError> {
        let discovery = self.gateway.discovery().await.map_err(call_error)?;
        Ok(discovery.operations.iter().filter_map(tool_spec).collect())
    }

    async fn usable(&self) -> Result<Option<Vec<String>>, CallError> {
        // Unknown (no answer, or scopes Bitbucket did not say) lists every
        // tool; Bitbucket still refuses what it must.
        let Some(answer) = self.health().await else {
            return Ok(None);
        };
        let report: Value = serde_json::from_str(&answer).unwrap_or_default();
        Ok(serde_json::from_value(report["usable_operations"].clone()).unwrap_or(None))
    }

    async fn call(&self, name: &str, params_json: String) -> Result<String, CallError> {
        self.gateway
            .run_reading(&self.principal, name, &params_json, self.reading)
            .await
            .map_err(call_error)
    }
}

impl GatewayBackend {
    /// The tenant's health report, which says what its credential's scopes
    /// cover. Asked before every tool call, so it is kept for the read
    /// cache's TTL: `health` itself is never cached (a health check must
    /// look), but this use of it need not cost an upstream request per call.
    async fn health(&self) -> Option<String> {
        let tenant = self.principal.tenant.as_str();
        let cache = self.gateway.cache.as_ref();
        if self.reading == Reading::Cached
            && let Some(report) = cache.and_then(|c| c.get(tenant, USABLE, &Value::Null))
        {
            return Some(report.to_string());
        }
        let report = self
            .gateway
            .run(&self.principal, "health", "{}")
            .await
            .ok()?;
        if let Some(cache) = cache {
            cache.put(tenant, USABLE, &Value::Null, &report, Lasting::Read);
        }
        Some(report)
    }
}

/// The read cache's entry for a tenant's health report as MCP uses it: a
/// name no operation has, so no call is ever answered from it.
const USABLE: &str = "/mcp/usable";

/// An operation as a tool. The OAuth exchanges are the host's login flow,
/// not something an agent does, so they are not tools.
pub fn tool_spec(operation: &Operation) -> Option<ToolSpec> {
    if operation.name.starts_with("auth-") {
        return None;
    }
    let schema = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
    let facts = &operation.facts;
    Some(ToolSpec {
        name: operation.name.clone(),
        title: operation.title.clone(),
        description: operation.description.clone(),
        input_schema: schema(&operation.parameters_schema),
        output_schema: schema(&operation.result_schema),
        read_only: facts.read_only,
        destructive: facts.destructive,
        idempotent: facts.idempotent,
        // Every operation but the local webhook check talks to the upstream.
        open_world: operation.name != "verify-webhook-delivery",
        scopes: facts.scopes.clone(),
    })
}

/// The gateway's or the component's failure as the tool error a client sees.
fn call_error(error: GatewayError) -> CallError {
    CallError::from_details(error.details())
}
