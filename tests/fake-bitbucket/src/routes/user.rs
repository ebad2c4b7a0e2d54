//! `GET /2.0/user`

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::render::encode_braces;

use super::authenticate;
use crate::world::{User, World};
use crate::{Shared, lock};

pub async fn current(State(world): State<Shared>, headers: HeaderMap) -> Response {
    let world = lock(&world);
    let uuid = match authenticate(&world, &headers) {
        Ok(uuid) => uuid,
        Err(response) => return response,
    };
    let Some(user) = world.user(&uuid) else {
        return crate::errors::unauthorized();
    };
    let mut body = render(&world, user);
    if let Some(bytes) = world.pad_user_display_name {
        body["display_name"] = json!(format!("{}{}", user.display_name, " ".repeat(bytes)));
    }
    Json(body).into_response()
}

/// The `user` definition (which extends `account`).
pub fn render(world: &World, user: &User) -> Value {
    let base = &world.base_url;
    json!({
        "type": "user",
        "uuid": user.uuid,
        "account_id": user.account_id,
        "display_name": user.display_name,
        "nickname": user.nickname,
        "account_status": "active",
        "created_on": user.created_on,
        "is_staff": false,
        "links": {
            "self": { "href": format!("{base}/2.0/users/{}", encode_braces(&user.uuid)) },
            "html": { "href": format!("{base}/%7B{}%7D/", &user.uuid[1..user.uuid.len() - 1]) },
            "avatar": { "href": format!("{base}/account/{}/avatar", user.nickname) }
        }
    })
}
