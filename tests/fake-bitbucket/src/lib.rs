//! A stateful, in-memory Bitbucket Cloud REST API on 127.0.0.1.
//!
//! It answers like the real one for the endpoints the integration uses: the
//! same paths, JSON shapes (from Atlassian's OpenAPI spec), `{size, page,
//! pagelen, next, values}` pages capped at 100, Bitbucket's error bodies and
//! status codes, Bearer and Basic authentication, and 410 on the endpoints
//! removed in 2026. Tests reach into it through [`FakeBitbucket::control`]
//! to seed data, inject faults and read what was requested.

// Handlers answer `Result<_, Response>` as axum handlers do; boxing every
// early answer would only obscure them.
#![allow(clippy::result_large_err)]

mod bbql;
mod errors;
mod pages;
mod routes;
mod seed;
mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use seed::{ADA_API_TOKEN, ADA_EMAIL, ADA_TOKEN, GRACE_TOKEN};
pub use world::{Fault, RecordedRequest, World};

pub(crate) type Shared = Arc<Mutex<World>>;

/// A running fake; stops when dropped.
pub struct FakeBitbucket {
    addr: SocketAddr,
    world: Shared,
    _shutdown: oneshot::Sender<()>,
}

impl FakeBitbucket {
    /// Starts on an ephemeral loopback port with the seed data set.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(seed::world()).await
    }

    pub async fn start_with(world: World) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let world: Shared = Arc::new(Mutex::new(world));
        world.lock().expect("fresh lock").base_url = format!("http://{addr}");
        let app = routes::router(world.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "fake bitbucket stopped");
            }
        });
        Ok(Self {
            addr,
            world,
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

    /// The fake's state, for seeding, fault injection and inspection.
    pub fn control(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
