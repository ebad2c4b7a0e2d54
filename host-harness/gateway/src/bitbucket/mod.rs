//! Everything that knows Bitbucket: the routes of ATOM's original
//! integration (`seed`), the OAuth connection (`connect`), webhook intake
//! and forwarding (`webhooks`, `forward`) and the integration page (`page`).
//! The generic gateway reaches it only through the router, and it reaches
//! the generic gateway only through `Gateway`'s calls and [`CallHooks`].

pub mod charts;
mod connect;
mod forward;
mod insights;
mod merge_waits;
mod page;
mod prompts;
mod resources;
mod seed;
mod webhooks;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::Method;
use axum::routing::get;
use axum::{Extension, Router};

use atom_mcp::Subscriptions;
use atom_store::WaitBook;

use crate::routes::mcp::McpIntegration;
use crate::shared::{Fanout, Shared};
use crate::state::{CallHooks, Gateway};
use connect::PendingLogins;
use merge_waits::MergeWaits;
use webhooks::{EventStreams, Intake};

pub use prompts::prompts as mcp_prompts;
pub use resources::resources as mcp_resources;
pub use seed::describe as describe_routes;
pub use webhooks::secret_id as webhook_secret_id;

/// What Bitbucket's routes keep between requests; handlers take it as an
/// `Extension`, so `Gateway` does not know it.
#[derive(Clone)]
pub struct Bitbucket {
    pending_logins: PendingLogins,
    intake: Intake,
    streams: EventStreams,
    /// Without a store for them, merge when green is not offered.
    merge_waits: Option<MergeWaits>,
}

impl Bitbucket {
    /// With a forward URL, accepted events are also POSTed there; a tenant
    /// may listen on at most `max_streams_per_tenant` event streams at once;
    /// merge waits are kept in `waits`, looked at every `merge_poll_every`;
    /// with `shared`, logins, replays and events span the deployment.
    pub fn new(
        forward_events_to: Option<hyper::Uri>,
        max_streams_per_tenant: usize,
        waits: Option<(Arc<dyn WaitBook>, std::time::Duration)>,
        shared: Option<(Shared, Fanout)>,
    ) -> Self {
        let (pending_logins, intake) = match shared {
            Some((shared, fanout)) => (
                PendingLogins::shared(shared.clone()),
                Intake::shared(shared, fanout),
            ),
            None => (PendingLogins::default(), Intake::default()),
        };
        let bitbucket = Self {
            pending_logins,
            intake,
            streams: EventStreams::new(max_streams_per_tenant),
            merge_waits: waits.map(|(book, every)| MergeWaits::new(book, every)),
        };
        if let Some(url) = forward_events_to {
            tokio::spawn(forward::run(url, bitbucket.intake.subscribe()));
        }
        bitbucket
    }

    /// What Bitbucket offers MCP clients: its prompts and resources, and
    /// subscriptions to them that verified webhook deliveries wake.
    pub fn mcp(&self) -> McpIntegration {
        let subscriptions = Subscriptions::default();
        tokio::spawn(resources::wake(
            subscriptions.clone(),
            self.intake.subscribe(),
        ));
        McpIntegration {
            prompts: prompts::prompts(),
            resources: resources::resources(),
            subscriptions: Some(subscriptions),
        }
    }

    /// Starts looking at merge waits, now and as deliveries arrive.
    pub fn start_waits(&self, gateway: &Gateway) {
        if let Some(waits) = &self.merge_waits {
            waits.start(gateway.clone(), self.intake.subscribe());
        }
    }

    pub fn hooks(&self) -> Arc<dyn CallHooks> {
        Arc::new(self.clone())
    }

    /// The routes behind the gateway's authentication; [`proves_itself`]
    /// says which requests pass it on their own proof.
    pub fn routes(&self) -> Router<Gateway> {
        seed::ROUTES
            .iter()
            .fold(Router::new(), |router, route| {
                router.route(&route.full_path(), route.handler())
            })
            .route(insights::CHART_PATH, get(insights::chart))
            .route("/bitbucket/events", get(webhooks::events))
            .route(
                "/bitbucket/webhooks/{tenant}",
                axum::routing::post(webhooks::deliver),
            )
            .route(
                "/bitbucket/repositories/{workspace}/{repo_slug}/pull-requests/{id}/merge-when-green",
                axum::routing::post(merge_waits::ask),
            )
            .route("/bitbucket/merge-waits", get(merge_waits::list))
            .route(
                "/bitbucket/merge-waits/{id}",
                get(merge_waits::get_one).delete(merge_waits::cancel),
            )
            .route("/bitbucket/health", get(connect::health))
            .route("/bitbucket/oauth/start", get(connect::start))
            .route(
                "/bitbucket/oauth/connection",
                axum::routing::delete(connect::disconnect),
            )
            .route(
                connect::BROWSER_CALLBACK,
                get(connect::browser_callback).post(connect::posted_callback),
            )
            .layer(Extension(self.clone()))
    }
}

/// The integration page, served to anyone.
pub fn page_routes() -> Router<Gateway> {
    Router::new()
        .route("/", get(page::index))
        .route("/bitbucket", get(page::index))
        .route("/assets/{name}", get(page::asset))
}

/// Bitbucket's calls carry their own proof: the OAuth redirect a one-use
/// state (see `connect`), a delivery its signature (`webhooks`).
pub fn proves_itself(request: &Request) -> bool {
    let path = request.uri().path();
    match *request.method() {
        Method::GET => path == connect::BROWSER_CALLBACK,
        Method::POST => path.starts_with("/bitbucket/webhooks/"),
        _ => false,
    }
}

impl CallHooks for Bitbucket {
    /// An OAuth step or a delivery check is never the same call twice.
    fn always_fresh(&self, operation: &str) -> bool {
        operation.starts_with("auth-") || operation == "verify-webhook-delivery"
    }

    /// The browser's callback finds the tenant by the state `auth-start`
    /// handed out, whichever route started the flow.
    fn answered(&self, tenant: &str, operation: &str, answer: &str) {
        if operation == "auth-start" {
            self.pending_logins.started(tenant, answer);
        }
    }
}
