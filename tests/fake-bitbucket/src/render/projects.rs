//! `project`, in full and as a repository embeds one.

use serde_json::{Value, json};

use super::repositories::owner;
use crate::world::{Project, World};

/// A `project` as a repository embeds it: the same key, uuid and name as
/// the project's own answer.
pub fn project_summary(p: &Project) -> Value {
    json!({ "type": "project", "key": p.key, "uuid": p.uuid, "name": p.name })
}

/// The `project` definition, with only the links the spec's `project.links`
/// allows: it forbids any other.
pub fn project(world: &World, p: &Project) -> Value {
    let base = &world.base_url;
    let (ws, key) = (&p.workspace, &p.key);
    let has_public = world
        .repositories
        .iter()
        .any(|r| r.workspace == p.workspace && r.project_key == p.key && !r.is_private);
    json!({
        "type": "project",
        "uuid": p.uuid,
        "key": p.key,
        "name": p.name,
        "description": p.description,
        "is_private": p.is_private,
        "created_on": p.created_on,
        "updated_on": p.updated_on,
        "has_publicly_visible_repos": has_public,
        "owner": owner(world, ws),
        "links": {
            "html": { "href": format!("{base}/{ws}/workspace/projects/{key}") },
            "avatar": { "href": format!("{base}/account/user/{ws}/projects/{key}/avatar/32") }
        }
    })
}
