//! Seeded fault injection: per route, a rate and a kind of failure the real
//! Bitbucket (or the network in front of it) produces, so a client's retry,
//! parsing and ambiguity handling can be exercised at volume.
//!
//! Whether the `n`th request to a given method and URL meets a fault is a
//! pure function of the plan's seed, the rule and `n`: the same plan played
//! against the same calls injects the same faults, however requests to
//! different URLs interleave. Kinds that lose or bend an answer never run
//! the route for a write, so only [`FaultKind::ActThenReset`],
//! [`FaultKind::ActThenTruncate`], [`FaultKind::ActThen502`],
//! [`FaultKind::ActThen555`] and [`FaultKind::Stall`] (which answers late,
//! but answers) change state.

mod connection;
mod layer;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use connection::{Connection, FaultListener};
pub(crate) use layer::inject;

/// One kind of failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// 500, 502 or 503 (picked by the seed) with Bitbucket's JSON error body.
    ServerError,
    /// 555, Bitbucket's edge giving up on a slow request.
    EdgeTimeout,
    /// 429 as `text/plain`, without `Retry-After`.
    RateLimited,
    /// The connection is reset before any byte of the answer.
    Reset,
    /// The answer is held this long, then the route runs and answers.
    Stall(Duration),
    /// `Content-Length` promises the whole body, half of it is sent, then
    /// the connection closes.
    Truncated,
    /// An HTML error page, with status 200 or 502 (picked by the seed).
    NotJson,
    /// The real answer padded (with JSON whitespace) past this many bytes.
    Oversized(usize),
    /// A listing page (`page` ≥ 2) whose `values` are the previous page's.
    RepeatedPage,
    /// The route runs and changes state; then the connection is reset.
    ActThenReset,
    /// The route runs and changes state; then its answer is cut short.
    ActThenTruncate,
    /// The route runs and changes state; then a gateway in front answers
    /// 502 with Bitbucket's JSON error body (API-NOTES §8b: a 5xx after
    /// Bitbucket acted).
    ActThen502,
    /// The route runs and changes state; then Bitbucket's edge answers 555,
    /// its timeout, as if it gave up waiting for the answer.
    ActThen555,
}

impl FaultKind {
    /// A stable name, the key of [`FaultCounts`].
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::ServerError => "5xx",
            FaultKind::EdgeTimeout => "555",
            FaultKind::RateLimited => "429",
            FaultKind::Reset => "reset",
            FaultKind::Stall(_) => "stall",
            FaultKind::Truncated => "truncated",
            FaultKind::NotJson => "not-json",
            FaultKind::Oversized(_) => "oversized",
            FaultKind::RepeatedPage => "repeated-page",
            FaultKind::ActThenReset => "act-then-reset",
            FaultKind::ActThenTruncate => "act-then-truncate",
            FaultKind::ActThen502 => "act-then-502",
            FaultKind::ActThen555 => "act-then-555",
        }
    }
}

/// Which requests a rule applies to, how often, and what they meet.
#[derive(Clone, Debug)]
pub struct FaultRule {
    method: Option<String>,
    path: Option<String>,
    rate: f64,
    kind: FaultKind,
}

impl FaultRule {
    /// Every request, with probability `rate` (0.0 to 1.0).
    pub fn all(rate: f64, kind: FaultKind) -> Self {
        Self {
            method: None,
            path: None,
            rate,
            kind,
        }
    }

    /// Requests with `method` (`"*"` for any) whose path matches `pattern`,
    /// written as the fake's routes are: `{name}` matches one segment,
    /// `{*name}` the rest, e.g. `/2.0/repositories/{ws}/{repo}/pullrequests`.
    pub fn route(method: &str, pattern: &str, rate: f64, kind: FaultKind) -> Self {
        Self {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path: Some(pattern.to_owned()),
            rate,
            kind,
        }
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path
                .as_deref()
                .is_none_or(|pattern| path_matches(pattern, path))
    }
}

/// The seed and the rules; the first matching rule whose roll hits wins.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    seed: u64,
    rules: Vec<FaultRule>,
}

impl FaultPlan {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            rules: Vec::new(),
        }
    }

    pub fn rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }
}

/// Faults injected so far, by [`FaultKind::name`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts(pub BTreeMap<&'static str, u64>);

impl FaultCounts {
    pub fn of(&self, kind: &FaultKind) -> u64 {
        self.0.get(kind.name()).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (kind, count) in &self.0 {
            writeln!(f, "{kind}: {count}")?;
        }
        Ok(())
    }
}

/// A decision for one request: the kind and spare random bits for the
/// kind's own choices (which 5xx, which status for an HTML page).
pub(crate) struct Decision {
    pub kind: FaultKind,
    pub bits: u64,
}

#[derive(Default)]
struct State {
    plan: FaultPlan,
    calls: HashMap<String, u64>,
    counts: FaultCounts,
}

/// The plan in force and what it did; shared by the fake and its layer.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<State>>);

impl Faults {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces the plan; counts and per-URL call numbers start over.
    pub fn set(&self, plan: FaultPlan) {
        let mut state = self.state();
        *state = State {
            plan,
            ..State::default()
        };
    }

    pub fn counts(&self) -> FaultCounts {
        self.state().counts.clone()
    }

    /// Rolls for the next request to `method` `path?query`; `applies` says
    /// whether a kind can be played on this request at all.
    pub(crate) fn decide(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        applies: impl Fn(&FaultKind) -> bool,
    ) -> Option<Decision> {
        let mut state = self.state();
        if state.plan.rules.is_empty() {
            return None;
        }
        let key = match query {
            Some(query) => format!("{method} {path}?{query}"),
            None => format!("{method} {path}"),
        };
        let call = state.calls.entry(key.clone()).or_insert(0);
        let n = *call;
        *call += 1;
        let seed = state.plan.seed;
        state
            .plan
            .rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.matches(method, path) && applies(&rule.kind))
            .find_map(|(index, rule)| {
                let roll = mix(seed, index as u64, &key, n);
                // The top 53 bits as a fraction in [0, 1).
                let fraction = (roll >> 11) as f64 / (1u64 << 53) as f64;
                (fraction < rule.rate).then(|| Decision {
                    kind: rule.kind.clone(),
                    bits: mix(roll, 0, "choice", 0),
                })
            })
    }

    pub(crate) fn count(&self, kind: &FaultKind) {
        *self.state().counts.0.entry(kind.name()).or_insert(0) += 1;
    }
}

/// FNV-1a over the inputs, finished with splitmix64: stable across builds
/// and platforms, unlike `std`'s hasher.
fn mix(seed: u64, rule: u64, key: &str, n: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = seed
        .to_le_bytes()
        .into_iter()
        .chain(rule.to_le_bytes())
        .chain(key.bytes())
        .chain(n.to_le_bytes());
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = hash.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let mut given = path.trim_start_matches('/').split('/');
    for segment in pattern.trim_start_matches('/').split('/') {
        if segment.starts_with("{*") {
            return true;
        }
        match given.next() {
            Some(actual) if segment.starts_with('{') || segment == actual => {}
            _ => return false,
        }
    }
    given.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_the_routes() {
        let prs = "/2.0/repositories/{workspace}/{repo_slug}/pullrequests";
        assert!(path_matches(prs, "/2.0/repositories/acme/api/pullrequests"));
        assert!(!path_matches(
            prs,
            "/2.0/repositories/acme/api/pullrequests/1"
        ));
        assert!(!path_matches(prs, "/2.0/repositories/acme/api"));
        let branch = "/2.0/repositories/{workspace}/{repo_slug}/refs/branches/{*name}";
        assert!(path_matches(
            branch,
            "/2.0/repositories/a/b/refs/branches/feature/x"
        ));
    }
}
