//! `account`: a user as other objects embed one.

use serde_json::{Value, json};

use crate::world::World;

/// An `account` as Bitbucket embeds it (author, reviewer, actor…); `null`
/// for an unknown uuid.
pub fn account(world: &World, uuid: &str) -> Value {
    let Some(user) = world.user(uuid) else {
        return Value::Null;
    };
    let base = &world.base_url;
    json!({
        "type": "user",
        "uuid": user.uuid,
        "account_id": user.account_id,
        "display_name": user.display_name,
        "nickname": user.nickname,
        "links": {
            "self": { "href": format!("{base}/2.0/users/{}", encode_braces(&user.uuid)) },
            "html": { "href": format!("{base}/{}/", encode_braces(&user.uuid)) },
            "avatar": { "href": format!("{base}/account/{}/avatar", user.nickname) }
        }
    })
}

/// `{uuid}` as it appears in a URL path.
pub fn encode_braces(uuid: &str) -> String {
    uuid.replace('{', "%7B").replace('}', "%7D")
}
