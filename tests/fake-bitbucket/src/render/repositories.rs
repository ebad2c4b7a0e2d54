//! `repository`, in full and as other objects embed one.

use serde_json::{Value, json};

use super::project_summary;
use crate::world::{Repository, World};

/// The `repository` definition, with the fields the real API adds (`slug`,
/// `workspace`).
pub fn repository(world: &World, r: &Repository) -> Value {
    let base = &world.base_url;
    let full_name = format!("{}/{}", r.workspace, r.slug);
    let ws = world.workspace(&r.workspace);
    let host = base.split("://").nth(1).unwrap_or(base);
    json!({
        "type": "repository",
        "uuid": r.uuid,
        "slug": r.slug,
        "name": r.name,
        "full_name": full_name,
        "description": r.description,
        "scm": "git",
        "is_private": r.is_private,
        "fork_policy": r.fork_policy,
        "language": r.language,
        "size": r.size,
        "has_issues": r.has_issues,
        "has_wiki": r.has_wiki,
        "created_on": r.created_on,
        "updated_on": r.updated_on,
        "mainbranch": { "type": "branch", "name": r.main_branch },
        "project": world.project_of(r).map_or_else(
            || json!({ "type": "project", "key": r.project_key, "name": r.project_name }),
            project_summary,
        ),
        "workspace": {
            "type": "workspace",
            "slug": r.workspace,
            "name": ws.map(|w| w.name.clone()),
            "uuid": ws.map(|w| w.uuid.clone()),
        },
        "owner": owner(world, &r.workspace),
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{full_name}") },
            "html": { "href": format!("{base}/{full_name}") },
            "clone": [
                { "name": "https", "href": format!("https://{host}/{full_name}.git") },
                { "name": "ssh", "href": format!("git@{host}:{full_name}.git") }
            ]
        }
    })
}

/// The workspace that owns a repository or project, as a `team`.
pub(super) fn owner(world: &World, slug: &str) -> Value {
    let ws = world.workspace(slug);
    json!({
        "type": "team",
        "display_name": ws.map(|w| w.name.clone()),
        "uuid": ws.map(|w| w.uuid.clone()),
        "username": slug,
    })
}

/// A `repository` as Bitbucket embeds it in other objects.
pub fn summary(world: &World, r: &Repository) -> Value {
    let base = &world.base_url;
    let full_name = r.full_name();
    json!({
        "type": "repository",
        "full_name": full_name,
        "name": r.name,
        "uuid": r.uuid,
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{full_name}") },
            "html": { "href": format!("{base}/{full_name}") },
            "avatar": { "href": format!("{base}/{full_name}/avatar/32/") }
        }
    })
}

/// The summary by full name; `null` if the repository is gone.
pub fn summary_named(world: &World, full_name: &str) -> Value {
    world
        .repository_named(full_name)
        .map(|r| summary(world, r))
        .unwrap_or(Value::Null)
}
