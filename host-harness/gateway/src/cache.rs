//! A short-lived cache of read answers, per tenant: the same read within the
//! TTL is answered without a call or an upstream request. A tenant's write
//! forgets all its entries; a webhook event forgets its repository's.
//! Entries are keyed by tenant, so no tenant ever reads another's.
//!
//! An answer that shows something still under way (a pipeline run or its
//! steps pending or running) is not kept: it changes by itself, with no
//! write or event to forget it, and a page following it must see it end.
//!
//! An analysis (weeks of delivery across a workspace) is kept longer: it
//! costs up to hundreds of upstream requests, and what it reports moves by
//! the day, not by the second.

use std::sync::Arc;
use std::time::Duration;

use moka::Expiry;
use moka::sync::Cache;
use serde_json::Value;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    tenant: String,
    operation: String,
    /// The params re-serialised, so field order does not matter.
    params: String,
}

struct Entry {
    answer: Arc<str>,
    workspace: Option<String>,
    repo_slug: Option<String>,
    lasts: Duration,
}

/// How long an answer is worth keeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lasting {
    /// A read: the cache's TTL.
    Read,
    /// An analysis: the longer analysis TTL.
    Analysis,
}

/// Each entry lives as long as its kind of answer is worth.
struct ByEntry;

impl Expiry<Key, Arc<Entry>> for ByEntry {
    fn expire_after_create(
        &self,
        _key: &Key,
        entry: &Arc<Entry>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.lasts)
    }
}

pub struct ReadCache {
    entries: Cache<Key, Arc<Entry>>,
    ttl: Duration,
    analysis_ttl: Duration,
}

impl ReadCache {
    /// `None` when `ttl` is zero: caching is off, analyses included.
    pub fn new(ttl: Duration, analysis_ttl: Duration, max_bytes: u64) -> Option<Self> {
        if ttl.is_zero() {
            return None;
        }
        let entries = Cache::builder()
            .expire_after(ByEntry)
            .max_capacity(max_bytes)
            .weigher(|key: &Key, entry: &Arc<Entry>| {
                let bytes = key.params.len() + key.operation.len() + entry.answer.len();
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .support_invalidation_closures()
            .build();
        Some(Self {
            entries,
            ttl,
            analysis_ttl: analysis_ttl.max(ttl),
        })
    }

    pub fn get(&self, tenant: &str, operation: &str, params: &Value) -> Option<Arc<str>> {
        let entry = self.entries.get(&key(tenant, operation, params))?;
        Some(entry.answer.clone())
    }

    pub fn put(
        &self,
        tenant: &str,
        operation: &str,
        params: &Value,
        answer: &str,
        lasting: Lasting,
    ) {
        if under_way(answer) {
            return;
        }
        let text = |name: &str| params[name].as_str().map(str::to_owned);
        let entry = Entry {
            answer: answer.into(),
            workspace: text("workspace"),
            repo_slug: text("repo_slug"),
            lasts: match lasting {
                Lasting::Read => self.ttl,
                Lasting::Analysis => self.analysis_ttl,
            },
        };
        self.entries
            .insert(key(tenant, operation, params), Arc::new(entry));
    }

    /// After a write: the tenant's answers may all be stale.
    pub fn forget_tenant(&self, tenant: &str) {
        let tenant = tenant.to_owned();
        let _ = self
            .entries
            .invalidate_entries_if(move |key, _| key.tenant == tenant);
    }

    /// After missing what other replicas changed: nothing is known fresh.
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }

    /// After a webhook event: answers about that repository, and listings of
    /// its workspace, are stale.
    pub fn forget_repository(&self, tenant: &str, workspace: &str, repo_slug: &str) {
        let (tenant, workspace, repo_slug) = (
            tenant.to_owned(),
            workspace.to_owned(),
            repo_slug.to_owned(),
        );
        let _ = self.entries.invalidate_entries_if(move |key, entry| {
            key.tenant == tenant
                && entry.workspace.as_deref() == Some(workspace.as_str())
                && entry
                    .repo_slug
                    .as_deref()
                    .is_none_or(|slug| slug == repo_slug)
        });
    }
}

/// The wire format's statuses of a run or step that has not settled.
const UNDER_WAY: [&str; 3] = ["pending", "running", "paused"];

/// Whether the answer, or an item of a listing, is still under way.
fn under_way(answer: &str) -> bool {
    let Ok(answer) = serde_json::from_str::<Value>(answer) else {
        return false;
    };
    let moving = |value: &Value| {
        value["status"]
            .as_str()
            .is_some_and(|status| UNDER_WAY.contains(&status))
    };
    moving(&answer)
        || answer["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(moving))
}

fn key(tenant: &str, operation: &str, params: &Value) -> Key {
    Key {
        tenant: tenant.to_owned(),
        operation: operation.to_owned(),
        params: params.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tenants_are_apart_and_writes_and_events_forget() {
        let cache =
            ReadCache::new(Duration::from_secs(60), Duration::from_secs(60), 1 << 20).unwrap();
        let repo = json!({"workspace": "atom-labs", "repo_slug": "plugin"});
        let other = json!({"workspace": "atom-labs", "repo_slug": "docs"});
        cache.put("acme", "get-repository", &repo, "A", Lasting::Read);
        cache.put("acme", "get-repository", &other, "D", Lasting::Read);
        assert_eq!(
            cache.get("acme", "get-repository", &repo).as_deref(),
            Some("A")
        );
        assert!(cache.get("globex", "get-repository", &repo).is_none());
        cache.forget_repository("acme", "atom-labs", "plugin");
        cache.entries.run_pending_tasks();
        assert!(cache.get("acme", "get-repository", &repo).is_none());
        assert_eq!(
            cache.get("acme", "get-repository", &other).as_deref(),
            Some("D")
        );
        cache.forget_tenant("acme");
        cache.entries.run_pending_tasks();
        assert!(cache.get("acme", "get-repository", &other).is_none());
        assert!(ReadCache::new(Duration::ZERO, Duration::from_secs(60), 1).is_none());
    }

    #[test]
    fn an_analysis_outlives_a_read_in_the_cache() {
        let cache =
            ReadCache::new(Duration::from_millis(200), Duration::from_secs(60), 1 << 20).unwrap();
        let params = json!({"workspace": "atom-labs"});
        cache.put("acme", "list-repositories", &params, "R", Lasting::Read);
        cache.put("acme", "delivery-insights", &params, "I", Lasting::Analysis);
        std::thread::sleep(Duration::from_millis(400));
        cache.entries.run_pending_tasks();
        assert!(cache.get("acme", "list-repositories", &params).is_none());
        assert_eq!(
            cache.get("acme", "delivery-insights", &params).as_deref(),
            Some("I")
        );
        // A write still forgets it: the tenant changed something it counts.
        cache.forget_tenant("acme");
        cache.entries.run_pending_tasks();
        assert!(cache.get("acme", "delivery-insights", &params).is_none());
    }

    #[test]
    fn what_is_still_under_way_is_not_kept() {
        let cache =
            ReadCache::new(Duration::from_secs(60), Duration::from_secs(60), 1 << 20).unwrap();
        let run = json!({"workspace": "atom-labs", "repo_slug": "plugin", "pipeline_uuid": "{1}"});
        let steps =
            r#"{"items": [{"status": "successful"}, {"status": "running"}], "next_cursor": null}"#;
        cache.put("acme", "list-pipeline-steps", &run, steps, Lasting::Read);
        assert!(cache.get("acme", "list-pipeline-steps", &run).is_none());
        cache.put(
            "acme",
            "get-pipeline",
            &run,
            r#"{"status": "pending"}"#,
            Lasting::Read,
        );
        assert!(cache.get("acme", "get-pipeline", &run).is_none());
        let settled = r#"{"items": [{"status": "successful"}, {"status": "failed"}]}"#;
        cache.put("acme", "list-pipeline-steps", &run, settled, Lasting::Read);
        assert_eq!(
            cache.get("acme", "list-pipeline-steps", &run).as_deref(),
            Some(settled)
        );
    }
}
