//! Bitbucket's partial responses (API-NOTES §2): `fields=` on any request
//! narrows its JSON answer to the listed paths (`values.slug,next`), drops
//! the ones prefixed `-` (`-values.links`) and asks for extra ones with `+`,
//! which the fake already renders. A `*` segment matches any key; a path
//! through an array applies to each element. Applied outermost, after the
//! spec layer has checked the whole answer.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::routes::{param, query_pairs};

pub async fn respond(request: Request, next: Next) -> Response {
    let query = query_pairs(request.uri().query());
    let selection = param(&query, "fields").map(Selection::parse);
    let response = next.run(request).await;
    let Some(selection) = selection.filter(|s| !s.is_whole()) else {
        return response;
    };
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !response.status().is_success() || !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return crate::errors::error(500, "The fake's answer could not be read.");
    };
    let Ok(whole) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.remove(CONTENT_LENGTH);
    let narrowed = selection.apply(&whole);
    Response::from_parts(parts, Body::from(narrowed.to_string()))
}

/// What a `fields` value asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Selection {
    /// Only these paths, when any are listed.
    only: Vec<Vec<String>>,
    /// These paths removed.
    without: Vec<Vec<String>>,
}

impl Selection {
    pub fn parse(fields: &str) -> Self {
        let mut selection = Selection::default();
        for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let path = |text: &str| text.split('.').map(str::to_owned).collect::<Vec<_>>();
            if let Some(removed) = field.strip_prefix('-') {
                selection.without.push(path(removed));
            } else if field.strip_prefix('+').is_none() {
                selection.only.push(path(field));
            }
        }
        selection
    }

    /// Whether the answer stays as rendered (only `+` paths, or none).
    fn is_whole(&self) -> bool {
        self.only.is_empty() && self.without.is_empty()
    }

    pub fn apply(&self, answer: &Value) -> Value {
        let mut narrowed = if self.only.is_empty() {
            answer.clone()
        } else {
            let only: Vec<&[String]> = self.only.iter().map(Vec::as_slice).collect();
            select(answer, &only)
        };
        for path in &self.without {
            remove(&mut narrowed, path);
        }
        narrowed
    }
}

fn matches(segment: &str, key: &str) -> bool {
    segment == "*" || segment == key
}

fn select(value: &Value, paths: &[&[String]]) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|i| select(i, paths)).collect()),
        Value::Object(object) => {
            let mut kept = Map::new();
            for (key, child) in object {
                let rest: Vec<&[String]> = paths
                    .iter()
                    .filter(|path| path.first().is_some_and(|s| matches(s, key)))
                    .map(|path| &path[1..])
                    .collect();
                if rest.is_empty() {
                    continue;
                }
                let whole = rest.iter().any(|path| path.is_empty());
                let child = if whole {
                    child.clone()
                } else {
                    select(child, &rest)
                };
                kept.insert(key.clone(), child);
            }
            Value::Object(kept)
        }
        scalar => scalar.clone(),
    }
}

fn remove(value: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match value {
        Value::Array(items) => items.iter_mut().for_each(|item| remove(item, path)),
        Value::Object(object) if rest.is_empty() => object.retain(|key, _| !matches(first, key)),
        Value::Object(object) => object
            .iter_mut()
            .filter(|(key, _)| matches(first, key))
            .for_each(|(_, child)| remove(child, rest)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn page() -> Value {
        json!({
            "size": 2, "page": 1, "pagelen": 2, "next": "n",
            "values": [
                { "slug": "a", "links": { "html": { "href": "h" }, "avatar": { "href": "v" } },
                  "owner": { "display_name": "o" } },
                { "slug": "b", "links": { "html": { "href": "i" } } }
            ]
        })
    }

    #[test]
    fn listed_paths_keep_only_themselves_through_arrays() {
        let narrowed = Selection::parse("values.slug,values.links.html,next").apply(&page());
        assert_eq!(
            narrowed,
            json!({
                "next": "n",
                "values": [
                    { "slug": "a", "links": { "html": { "href": "h" } } },
                    { "slug": "b", "links": { "html": { "href": "i" } } }
                ]
            })
        );
    }

    #[test]
    fn minus_removes_plus_adds_nothing_the_fake_lacks_and_star_matches_any_key() {
        let narrowed = Selection::parse("-values.links,+values.participants").apply(&page());
        assert!(narrowed["values"][0].get("links").is_none());
        assert_eq!(narrowed["values"][0]["owner"]["display_name"], "o");
        assert_eq!(narrowed["size"], 2);
        let starred = Selection::parse("values.links.*.href").apply(&page());
        assert_eq!(starred["values"][0]["links"]["avatar"]["href"], "v");
        assert!(starred.get("size").is_none());
        assert!(Selection::parse("+values.participants").is_whole());
    }
}
