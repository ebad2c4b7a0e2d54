//! A stateful, in-memory Bitbucket Cloud REST API on 127.0.0.1.
//!
//! It answers like the real one for the endpoints the integration uses: the
//! same paths, JSON shapes (from Atlassian's OpenAPI spec), `{size, page,
//! pagelen, next, values}` pages capped at 100, Bitbucket's error bodies and
//! status codes, Bearer and Basic authentication, and 410 on the endpoints
//! removed in 2026. Besides workspaces, their projects and repositories it
//! keeps branches, tags, commits, pull requests (with async merges),
//! pipelines (runs that progress as they are polled, logs behind pre-signed
//! URLs), issues, code search and webhooks that it really delivers, signed,
//! to loopback receivers. Tests reach into it through
//! [`FakeBitbucket::control`] to seed data, inject faults, turn knobs and
//! read what was requested and delivered.

// Handlers answer `Result<_, Response>` as axum handlers do; boxing every
// early answer would only obscure them.
#![allow(clippy::result_large_err)]

mod bbql;
mod clock;
mod delivery;
mod diff;
mod errors;
mod events;
mod faults;
mod fixtures;
mod form;
mod in_flight;
mod pages;
mod partial;
mod render;
mod routes;
mod spec;
#[cfg(test)]
mod tests;
mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use delivery::signature as webhook_signature;
pub use faults::{FaultCounts, FaultKind, FaultPlan, FaultRule};
pub use fixtures::{
    ADA_API_TOKEN, ADA_EMAIL, ADA_TOKEN, CUSTOM_PIPELINES, GRACE_TOKEN, HISTORY, HISTORY_START,
    HISTORY_WEEKS, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, RICH as RICH_REPOSITORIES,
};
pub use spec::Violation;
pub use spec::overrides as spec_overrides;
pub use world::{
    Annotation, Branch, Comment, Commit, CommitStatus, Delivery, Deployment, DeploymentState,
    DeploymentStatus, ENVIRONMENT_TYPES, EVENT_KEYS, Environment, Fault, HookSubject, Inline,
    Issue, IssueChange, IssueComment, Membership, MergeParams, MergeTask, OauthConsumer,
    OauthServer, Participant, Phase, Pipeline, PipelineTarget, PrState, Project, PullRequest,
    RecordedRequest, Repository, RepositorySettings, ReviewState, RunResult, SourceFile, Step,
    StepPhase, StepResult, Tag, Task, Trigger, Update, User, Variable, Webhook, Workspace, World,
};

pub(crate) type Shared = Arc<Mutex<World>>;

/// The world, even if a handler panicked while holding it: one bad request
/// should not fail every later one.
pub(crate) fn lock(world: &Shared) -> MutexGuard<'_, World> {
    world
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running fake; stops when dropped.
pub struct FakeBitbucket {
    addr: SocketAddr,
    world: Shared,
    faults: faults::Faults,
    in_flight: in_flight::InFlight,
    _shutdown: oneshot::Sender<()>,
}

impl FakeBitbucket {
    /// Starts on an ephemeral loopback port with the seed data set.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(fixtures::world()).await
    }

    pub async fn start_with(world: World) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let world: Shared = Arc::new(Mutex::new(world));
        world.lock().expect("fresh lock").base_url = format!("http://{addr}");
        let faults = faults::Faults::default();
        let in_flight = in_flight::InFlight::default();
        // Faults outermost but one, so injected answers skip the routes and
        // what wraps them; in-flight counting outermost, so stalls count.
        let app = routes::router(world.clone())
            .layer(axum::middleware::from_fn_with_state(
                faults.clone(),
                faults::inject,
            ))
            .layer(axum::middleware::from_fn_with_state(
                in_flight.clone(),
                in_flight::track,
            ));
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<faults::Connection>();
            let serve =
                axum::serve(faults::FaultListener(listener), app).with_graceful_shutdown(async {
                    let _ = stopped.await;
                });
            if let Err(error) = serve.await {
                tracing::error!(%error, "fake bitbucket stopped");
            }
        });
        Ok(Self {
            addr,
            world,
            faults,
            in_flight,
            _shutdown: shutdown,
        })
    }

    /// `http://127.0.0.1:PORT`: the `bitbucket.org` of the fake.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/2.0`: the `api.bitbucket.org/2.0` of the fake.
    pub fn api_base_url(&self) -> String {
        format!("{}/2.0", self.base_url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until at least `count` webhook deliveries have been recorded (or
    /// `timeout` passes) and answers all of them: deliveries run in the
    /// background, after the API has answered.
    pub async fn wait_for_deliveries(
        &self,
        count: usize,
        timeout: std::time::Duration,
    ) -> Vec<world::Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let deliveries = self.control().deliveries();
            if deliveries.len() >= count || tokio::time::Instant::now() >= deadline {
                return deliveries;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Replaces the seeded fault plan (see [`FaultPlan`]); counts start over.
    pub fn set_faults(&self, plan: FaultPlan) {
        self.faults.set(plan);
    }

    /// Faults the plan injected so far, by kind.
    pub fn fault_counts(&self) -> FaultCounts {
        self.faults.counts()
    }

    /// The most requests the fake was answering at once since the last
    /// [`FakeBitbucket::reset_most_in_flight`] (or since it started).
    pub fn most_in_flight(&self) -> usize {
        self.in_flight.most()
    }

    /// Starts counting [`FakeBitbucket::most_in_flight`] from now.
    pub fn reset_most_in_flight(&self) {
        self.in_flight.reset();
    }

    /// The fake's state, for seeding, fault injection and inspection.
    pub fn control(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Where requests and answers so far broke Atlassian's spec.
    pub fn violations(&self) -> Vec<Violation> {
        self.control().violations.clone()
    }

    /// The violations so far, forgotten: for tests that break the spec on
    /// purpose and assert it was noticed. Dropping the fake then passes.
    pub fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut self.control().violations)
    }
}

/// A test whose traffic broke the spec fails here, whatever it asserted:
/// the fake is only worth testing against while it answers like Bitbucket.
impl Drop for FakeBitbucket {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let violations = std::mem::take(&mut lock(&self.world).violations);
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
            panic!(
                "the fake Bitbucket saw {} departure(s) from Atlassian's spec \
                 (fix the caller or the fake; known gaps go in src/spec/overrides.rs):\n{}",
                violations.len(),
                list.join("\n")
            );
        }
    }
}
