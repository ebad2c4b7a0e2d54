//! Resources: what agents read, addressed by URI templates the host
//! supplies (this crate knows no integration). Reading one runs its
//! read-only tool with the URI's parts as params, under the same scope and
//! read-only rules as a call of that tool.

use rmcp::ErrorData;
use rmcp::model::{ResourceContents, ResourceTemplate as RawTemplate};
use serde_json::{Map, Value};

use crate::prompts::fill;

/// A family of resources. `uri_template` is an RFC 6570 template of
/// `{name}` parts, each one path segment, and at most one `{+name}` at the
/// end that takes the rest of the URI (a file's path). `params` names the
/// tool's params as `"{name}"`, as [`crate::PromptTemplate`]'s do.
#[derive(Debug, Clone)]
pub struct ResourceTemplate {
    pub uri_template: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub tool: String,
    pub params: Value,
}

impl ResourceTemplate {
    pub(crate) fn listed(&self) -> RawTemplate {
        RawTemplate::new(self.uri_template.clone(), self.name.clone())
            .with_title(self.title.clone())
            .with_description(self.description.clone())
            .with_mime_type("application/json")
    }

    /// The tool's params for `uri`, when the URI is one of this family's.
    pub(crate) fn params_for(&self, uri: &str) -> Option<Value> {
        let parts = matches(&self.uri_template, uri)?;
        Some(fill(&self.params, &parts))
    }

    pub(crate) fn contents(uri: &str, json: String) -> ResourceContents {
        ResourceContents::text(json, uri).with_mime_type("application/json")
    }
}

/// The template's `{name}` parts as they stand in `uri`, decoded.
fn matches(template: &str, uri: &str) -> Option<Map<String, Value>> {
    let (scheme, template) = template.split_once("://")?;
    let uri = uri.strip_prefix(scheme)?.strip_prefix("://")?;
    let wanted: Vec<&str> = template.split('/').collect();
    let given: Vec<&str> = uri.split('/').collect();
    let mut parts = Map::new();
    for (i, piece) in wanted.iter().enumerate() {
        if let Some(name) = piece.strip_prefix("{+").and_then(|p| p.strip_suffix('}')) {
            let rest = given.get(i..)?.join("/");
            if i + 1 != wanted.len() || rest.is_empty() {
                return None;
            }
            parts.insert(name.to_owned(), Value::String(decode(&rest)?));
            return Some(parts);
        }
        let value = *given.get(i)?;
        match piece.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !value.is_empty() => {
                parts.insert(name.to_owned(), Value::String(decode(value)?));
            }
            Some(_) => return None,
            None if *piece == value => {}
            None => return None,
        }
    }
    (given.len() == wanted.len()).then_some(parts)
}

/// Percent-decoding, refusing what does not decode to UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Refused by name: a URI no template takes.
pub(crate) fn unknown(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!(
            "no resource template takes '{}'",
            uri.chars().take(200).collect::<String>()
        ),
        None,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_uri_fills_its_templates_params() {
        let template = ResourceTemplate {
            uri_template: "bitbucket://{workspace}/{repo_slug}/src/{revision}/{+path}".into(),
            name: "file".into(),
            title: "File".into(),
            description: "d".into(),
            tool: "get-file".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "revision": "{revision}", "path": "{path}" }),
        };
        assert_eq!(
            template.params_for("bitbucket://acme/api/src/main/src/a%20b.rs"),
            Some(
                json!({ "workspace": "acme", "repo_slug": "api", "revision": "main", "path": "src/a b.rs" })
            )
        );
        assert_eq!(template.params_for("bitbucket://acme/api/src/main/"), None);
        assert_eq!(
            template.params_for("bitbucket://acme/api/pulls/main/x"),
            None
        );
        assert_eq!(template.params_for("https://acme/api/src/main/x"), None);
    }
}
