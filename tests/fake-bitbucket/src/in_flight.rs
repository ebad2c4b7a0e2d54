//! How many requests the fake was answering at once: a client that says it
//! keeps a few requests in flight can be held to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

#[derive(Clone, Default)]
pub(crate) struct InFlight(Arc<Counts>);

#[derive(Default)]
struct Counts {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl InFlight {
    /// The most requests answered at once since the last [`InFlight::reset`].
    pub fn most(&self) -> usize {
        self.0.most.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.0
            .most
            .store(self.0.now.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Counts the request from its arrival until its answer is ready (its body
/// may still be streaming), faults included.
pub(crate) async fn track(
    State(in_flight): State<InFlight>,
    request: Request,
    next: Next,
) -> Response {
    let counts = &in_flight.0;
    let now = counts.now.fetch_add(1, Ordering::SeqCst) + 1;
    counts.most.fetch_max(now, Ordering::SeqCst);
    // Decremented on drop, so a request whose client went away still leaves.
    let _leaving = Leaving(counts);
    next.run(request).await
}

struct Leaving<'a>(&'a Counts);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}
