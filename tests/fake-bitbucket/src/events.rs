//! Webhook event payloads, shaped like Bitbucket's "Event payloads" page:
//! `actor`, `repository`, and the subject (`push`, `pullrequest`, `issue`…).

use serde_json::{Value, json};

use crate::render::{self, RefKind};
use crate::world::{HookSubject, World};

/// Whether any active hook listens for `key` on `repo`: payloads are only
/// rendered when someone will receive them.
pub fn wanted(world: &World, repo: &str, key: &str) -> bool {
    let workspace = repo.split('/').next().unwrap_or_default();
    world.hooks.iter().any(|h| {
        h.active
            && h.events.iter().any(|e| e == key)
            && match &h.subject {
                HookSubject::Repository(full_name) => full_name == repo,
                HookSubject::Workspace(slug) => slug == workspace,
            }
    })
}

fn envelope(world: &World, repo: &str, actor: &str) -> Value {
    let repository = world
        .repository_named(repo)
        .map(|r| render::repository(world, r))
        .unwrap_or(Value::Null);
    json!({ "actor": render::account(world, actor), "repository": repository })
}

/// One `push.changes[]` entry: a branch or tag created (`old` None), moved,
/// or deleted (`new` None), with the commits it gained (tagging gains none).
pub fn push_change(
    world: &World,
    kind: RefKind,
    repo: &str,
    name: &str,
    old: Option<&str>,
    new: Option<&str>,
    gained: &[String],
) -> Value {
    let base = &world.base_url;
    let reference = |hash: Option<&str>| match hash {
        None => Value::Null,
        Some(hash) => render::git_ref(world, kind, repo, name, hash),
    };
    let commits: Vec<Value> = gained
        .iter()
        .filter_map(|hash| world.commit_in(repo, hash))
        .map(|c| render::commit(world, c))
        .collect();
    let span = match (old, new) {
        (Some(old), Some(new)) => format!("{new}..{old}"),
        (None, Some(new)) => new.to_owned(),
        (Some(old), None) => old.to_owned(),
        (None, None) => String::new(),
    };
    json!({
        "old": reference(old),
        "new": reference(new),
        "created": old.is_none(),
        "closed": new.is_none(),
        "forced": false,
        "truncated": false,
        "commits": commits,
        "links": {
            "html": { "href": format!("{base}/{repo}/branches/compare/{span}") },
            "diff": { "href": format!("{base}/2.0/repositories/{repo}/diff/{span}") },
            "commits": { "href": format!("{base}/2.0/repositories/{repo}/commits?include={}", new.unwrap_or_default()) }
        }
    })
}

/// `repo:push` with the given changes.
pub fn push(world: &mut World, repo: &str, actor: &str, changes: Vec<Value>) {
    if changes.is_empty() || !wanted(world, repo, "repo:push") {
        return;
    }
    let mut payload = envelope(world, repo, actor);
    payload["push"] = json!({ "changes": changes });
    world.emit(repo, "repo:push", payload);
}

/// A `pullrequest:*` event; `extra` adds `approval`, `changes_request` or
/// `comment`.
pub fn pull_request(
    world: &mut World,
    key: &'static str,
    repo: &str,
    id: u64,
    actor: &str,
    extra: Option<(&str, Value)>,
) {
    if !wanted(world, repo, key) {
        return;
    }
    let Some(pr) = world
        .pull_requests
        .iter()
        .find(|p| p.repo == repo && p.id == id)
    else {
        return;
    };
    let mut payload = envelope(world, repo, actor);
    payload["pullrequest"] = render::pullrequest(world, pr);
    if let Some((name, value)) = extra {
        payload[name] = value;
    }
    world.emit(repo, key, payload);
}

/// An `issue:*` event; `extra` adds `changes` and `comment` on updates.
pub fn issue(
    world: &mut World,
    key: &'static str,
    repo: &str,
    id: u64,
    actor: &str,
    extra: Vec<(&str, Value)>,
) {
    if !wanted(world, repo, key) {
        return;
    }
    let Some(issue) = world.issues.iter().find(|i| i.repo == repo && i.id == id) else {
        return;
    };
    let mut payload = envelope(world, repo, actor);
    payload["issue"] = render::issue(world, issue);
    for (name, value) in extra {
        payload[name] = value;
    }
    world.emit(repo, key, payload);
}

/// `repo:created` or `repo:deleted`: the payload is the envelope alone, so a
/// deletion is announced while the repository is still there to render.
pub fn repository(world: &mut World, key: &'static str, repo: &str, actor: &str) {
    if wanted(world, repo, key) {
        let payload = envelope(world, repo, actor);
        world.emit(repo, key, payload);
    }
}
