//! `issue`.

use serde_json::{Value, json};

use super::{account, rendered, summary_named};
use crate::clock::stamp;
use crate::world::{Issue, World};

/// The `issue` definition.
pub fn issue(world: &World, i: &Issue) -> Value {
    let base = &world.base_url;
    let api = format!("{base}/2.0/repositories/{}/issues/{}", i.repo, i.id);
    let named = |kind: &str, name: &Option<String>| {
        name.as_ref().map(|n| json!({ "type": kind, "name": n }))
    };
    json!({
        "type": "issue",
        "id": i.id,
        "repository": summary_named(world, &i.repo),
        "title": i.title,
        "reporter": account(world, &i.reporter),
        "assignee": i.assignee.as_deref().map(|a| account(world, a)),
        "created_on": stamp(i.created_on),
        "updated_on": stamp(i.updated_on),
        "edited_on": i.edited_on.map(stamp),
        "state": i.state,
        "kind": i.kind,
        "priority": i.priority,
        "component": named("component", &i.component),
        "milestone": named("milestone", &i.milestone),
        "version": named("version", &i.version),
        "votes": i.votes,
        "watches": i.watches,
        "content": rendered(&i.content),
        "links": {
            "self": { "href": api },
            "html": { "href": format!("{base}/{}/issues/{}", i.repo, i.id) },
            "comments": { "href": format!("{api}/comments") },
            "attachments": { "href": format!("{api}/attachments") },
            "watch": { "href": format!("{api}/watch") },
            "vote": { "href": format!("{api}/vote") }
        }
    })
}
