//! Bitbucket's partial responses (API-NOTES §2): `fields=` on any request
//! narrows its JSON answer to the listed paths (`values.slug,next`), drops
//! the ones prefixed `-` (`-values.links`) and asks for extra ones with `+`,
//! which the fake already renders. A `*` segment matches any key; a path
//! through an array applies to each element. Applied outermost, after the
//! spec layer has checked the whole answer.

use std::fmt;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
    let Some(narrowed) = selection.narrow(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(narrowed))
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

    /// The JSON answer `json` narrowed, or `None` when it is not JSON.
    /// Listed paths are picked while parsing: what they leave out is
    /// skipped, never built or copied (the bench's listings ask for
    /// partial pages of 10,000 repositories).
    pub fn narrow(&self, json: &[u8]) -> Option<Vec<u8>> {
        let mut narrowed = if self.only.is_empty() {
            serde_json::from_slice(json).ok()?
        } else {
            let only: Vec<&[String]> = self.only.iter().map(Vec::as_slice).collect();
            let mut parser = serde_json::Deserializer::from_slice(json);
            let value = Picking(&only).deserialize(&mut parser).ok()?;
            parser.end().ok()?;
            value
        };
        for path in &self.without {
            remove(&mut narrowed, path);
        }
        serde_json::to_vec(&narrowed).ok()
    }
}

fn matches(segment: &str, key: &str) -> bool {
    segment == "*" || segment == key
}

/// Parses a JSON value keeping only what `paths` reach: a key no path
/// names is skipped, a key a path ends at is kept whole, and an array
/// applies the paths to each element. A scalar where a path goes on is kept.
struct Picking<'p>(&'p [&'p [String]]);

impl<'de> DeserializeSeed<'de> for Picking<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Picking<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let rest: Vec<&[String]> = self
                .0
                .iter()
                .filter(|path| path.first().is_some_and(|s| matches(s, &key)))
                .map(|path| &path[1..])
                .collect();
            if rest.is_empty() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let child = if rest.iter().any(|path| path.is_empty()) {
                map.next_value::<Value>()?
            } else {
                map.next_value_seed(Picking(&rest))?
            };
            kept.insert(key, child);
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Picking(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
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

    fn narrow(fields: &str) -> Value {
        let json = page().to_string();
        let narrowed = Selection::parse(fields).narrow(json.as_bytes()).unwrap();
        serde_json::from_slice(&narrowed).unwrap()
    }

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
        let narrowed = narrow("values.slug,values.links.html,next");
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
        let narrowed = narrow("-values.links,+values.participants");
        assert!(narrowed["values"][0].get("links").is_none());
        assert_eq!(narrowed["values"][0]["owner"]["display_name"], "o");
        assert_eq!(narrowed["size"], 2);
        let starred = narrow("values.links.*.href");
        assert_eq!(starred["values"][0]["links"]["avatar"]["href"], "v");
        assert!(starred.get("size").is_none());
        assert!(Selection::parse("+values.participants").is_whole());
    }
}
