//! The longest value every string field of every operation's params may
//! hold, and the most items every list may hold: one table, checked once
//! before an operation runs, so an oversized value is refused by name before
//! any request is built or sent.
//!
//! Lengths count characters (Unicode scalar values), as JSON Schema's
//! `maxLength` does. Bitbucket's spec states almost none of these: where it
//! does the row says so, elsewhere the limit is our choice, set well above
//! any value Bitbucket itself produces, and the row says why.
//!
//! A refusal names the field as a dotted path (`variables[2].value`) and
//! gives the value's length and the limit, never the value.

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

/// How long a value may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// At most this many characters.
    Chars(usize),
    /// A git ref name (branch or tag): at most [`REF_CHARS`] characters and
    /// each `/`-separated part at most [`REF_PART_BYTES`] bytes.
    RefName,
}

/// Git imposes no length on a ref name, but a loose ref is a file under
/// `refs/heads/`, so each part must fit a file name (NAME_MAX, 255 bytes on
/// common filesystems). The whole name travels percent-encoded in a URL
/// path, so it is capped well below PATH_MAX (4096).
pub const REF_CHARS: usize = 1024;
pub const REF_PART_BYTES: usize = 255;

/// A workspace or repository slug, or a `{uuid}` (38 characters). Not in
/// the spec; Bitbucket's slugs are far shorter.
const SLUG: Bound = Bound::Chars(128);
/// A `{uuid}` with braces is 38 characters.
const UUID: Bound = Bound::Chars(64);
/// An Atlassian account id or an account `{uuid}`; Atlassian's own APIs
/// (Jira's `accountId`) cap account ids at 128.
const ACCOUNT: Bound = Bound::Chars(128);
/// A hex object name: 40 for SHA-1, 64 for SHA-256 repositories.
const COMMIT: Bound = Bound::Chars(64);
/// A project's key. Not in the spec; Bitbucket's keys are short
/// upper-case words.
const PROJECT_KEY: Bound = Bound::Chars(128);
/// A one-line title. Not in the spec; our choice.
const TITLE: Bound = Bound::Chars(255);
/// Markdown bodies: descriptions, comments, issue content, merge messages.
/// Not in the spec; 128 Ki characters, the merge message's long-standing
/// limit here.
const TEXT: Bound = Bound::Chars(128 * 1024);
/// A BBQL `q` or a code search query. Not in the spec; it travels
/// percent-encoded in the query string, which servers commonly cap near
/// 8 KiB.
const QUERY: Bound = Bound::Chars(2048);
/// One field name, `-` first to descend (`-updated_on`).
const SORT: Bound = Bound::Chars(128);
/// Our own cursors: a `next` query string, base64url-encoded (code search
/// wraps one more layer around it).
pub const CURSOR_CHARS: usize = 32 * 1024;
/// A file path in a repository: Linux's PATH_MAX.
const FILE_PATH: Bound = Bound::Chars(4096);
/// A diff spec: two refs and the `..` between them.
const DIFF_SPEC: Bound = Bound::Chars(2 * REF_CHARS + 2);
/// A build status's key: the WIT's 1 to 255 characters.
const STATUS_KEY: Bound = Bound::Chars(255);
/// A build status's description. Not in the spec; one line or a few, our
/// choice.
const STATUS_DESCRIPTION: Bound = Bound::Chars(1024);
/// A webhook's target URL. Not in the spec; browsers and proxies commonly
/// handle 2048.
const URL: Bound = Bound::Chars(2048);
/// The spec's `webhook_subscription.secret` has `maxLength: 128`.
const WEBHOOK_SECRET: Bound = Bound::Chars(128);
/// A webhook's description. Not in the spec; our choice.
const WEBHOOK_DESCRIPTION: Bound = Bound::Chars(1024);
/// An event key such as `pullrequest:changes_request_created` (35).
const EVENT_KEY: Bound = Bound::Chars(64);
/// Bitbucket's pipeline filter values (`PARENT_STEP` is the longest).
const FILTER_VALUE: Bound = Bound::Chars(32);
/// A custom pipeline's name or a pipeline variable's name. Not in the spec.
const NAME: Bound = Bound::Chars(255);
/// A pipeline variable's value. Not in the spec; our choice.
const VARIABLE_VALUE: Bound = Bound::Chars(64 * 1024);
/// The OAuth `code` Bitbucket hands the callback (a few dozen characters).
const OAUTH_CODE: Bound = Bound::Chars(2048);
/// The OAuth `state` we issued (22 characters).
const OAUTH_STATE: Bound = Bound::Chars(256);
/// A delivery's header names and values: the 8 KiB servers commonly allow.
const HEADER: Bound = Bound::Chars(8 * 1024);
/// A delivery's raw body. Bitbucket states no size; the gateway's request
/// limit (1 MiB by default) is the one that usually applies first.
const DELIVERY_BODY: Bound = Bound::Chars(8 * 1024 * 1024);

/// A file's content in `commit_files`. Not in the spec; our choice, and the
/// gateway's request limit (1 MiB by default) usually applies first.
const FILE_CONTENT: Bound = Bound::Chars(1024 * 1024);
/// The git author line `Name <email>`. Not in the spec; our choice.
const AUTHOR: Bound = Bound::Chars(512);
/// All of one `commit_files` call's contents together, in bytes: one form
/// body. Not in the spec; our choice.
pub const COMMIT_FILES_TOTAL_BYTES: usize = 4 * 1024 * 1024;
/// After a lost answer, the first written file is read back and compared
/// when it is at most this long; a longer one is not worth the transfer.
pub const FILE_CONTENT_CHECK_BYTES: usize = 64 * 1024;

/// Where a string field not in the table would land; the coverage test keeps
/// every field in the table, so this only guards against a new field.
const UNLISTED: Bound = Bound::Chars(1024);
/// … and a list not in the table.
const UNLISTED_ITEMS: usize = 100;

/// The bound of `field` (a dotted path without list indices, e.g.
/// `variables.value`) in `operation`'s params (`create_webhook`).
pub fn bound(operation: &str, field: &str) -> Option<Bound> {
    Some(match (operation, field) {
        (_, "workspace" | "repo_slug" | "repo_slugs") => SLUG,
        (_, "page.cursor") => Bound::Chars(CURSOR_CHARS),
        (_, "page.q" | "query") => QUERY,
        (_, "page.sort") => SORT,

        (
            _,
            "source_branch" | "destination_branch" | "target_branch" | "branch" | "include"
            | "exclude",
        ) => Bound::RefName,
        (
            "get_branch" | "create_branch" | "delete_branch" | "get_tag" | "create_tag"
            | "delete_tag",
            "name",
        ) => Bound::RefName,
        // A hash, or a branch or tag name.
        (_, "target") => Bound::RefName,
        ("get_project", "key") => PROJECT_KEY,
        ("create_repository" | "update_repository", "project_key") => PROJECT_KEY,
        ("create_repository" | "update_repository", "name" | "language") => NAME,
        ("delete_repository", "confirm_full_name") => Bound::Chars(2 * 128 + 1),
        ("create_repository_variable" | "update_repository_variable", "key") => NAME,
        ("create_repository_variable" | "update_repository_variable", "value") => VARIABLE_VALUE,
        (_, "variable_uuid" | "environment_uuid" | "deployment_uuid") => UUID,
        // An environment's name, slug or `{uuid}`.
        ("list_deployments", "environment") => NAME,
        // An RFC 3339 date and time with a fraction and an offset fits.
        ("delivery_insights", "until") => Bound::Chars(64),
        ("list_branch_restrictions", "kind") => NAME,
        ("list_branch_restrictions", "pattern") => Bound::RefName,
        (_, "revision" | "refname") => Bound::RefName,
        (_, "spec") => DIFF_SPEC,
        (_, "commit") => COMMIT,
        (_, "path" | "inline.path" | "options.paths") => FILE_PATH,
        ("report_build_status", "key") => STATUS_KEY,
        ("report_build_status", "name") => NAME,
        ("report_build_status", "description") => STATUS_DESCRIPTION,

        ("commit_files", "files.path" | "deletions") => FILE_PATH,
        ("commit_files", "files.content") => FILE_CONTENT,
        ("commit_files", "author") => AUTHOR,
        ("commit_files", "parent") => COMMIT,
        (_, "title") => TITLE,
        ("create_webhook", "description") => WEBHOOK_DESCRIPTION,
        (_, "description" | "content" | "message" | "state_message") => TEXT,
        (_, "reviewers" | "assignee_account_id") => ACCOUNT,
        (_, "pipeline_uuid" | "step_uuid" | "uuid") => UUID,

        (_, "status" | "trigger_type") => FILTER_VALUE,
        (_, "custom_pipeline" | "variables.key") => NAME,
        (_, "variables.value") => VARIABLE_VALUE,

        (_, "url") => URL,
        (_, "events") => EVENT_KEY,
        (_, "secret") => WEBHOOK_SECRET,
        (_, "headers") => HEADER,
        ("verify_webhook_delivery", "body") => DELIVERY_BODY,

        ("auth_complete", "code") => OAUTH_CODE,
        ("auth_complete", "state") => OAUTH_STATE,
        _ => return None,
    })
}

/// The most items the list `field` may hold.
pub fn max_items(operation: &str, field: &str) -> Option<usize> {
    Some(match (operation, field) {
        // Our choice: each costs an upstream request or a reviewer slot.
        (_, "reviewers") => 100,
        // Travel as repeated query parameters on one GET; Bitbucket's notes
        // send long lists as a form body instead.
        (_, "include" | "exclude") => 50,
        // Four states exist; more can only repeat them.
        (_, "states") => 8,
        // Each travels as a repeated query parameter on one GET.
        (_, "options.paths") => 50,
        // 29 event keys exist.
        (_, "events") => 64,
        (_, "variables") => 100,
        // Each repository costs up to three upstream requests.
        ("analytics_summary", "repo_slugs") => 50,
        // Each costs a read and five first pages of the budget.
        ("delivery_insights", "repo_slugs") => 50,
        // Header list, and each header's `[name, value]` pair.
        (_, "headers") => 200,
        // One form body; our choice.
        ("commit_files", "files" | "deletions") => 100,
        _ => return None,
    })
}

/// Refuses the first value of `request` longer than its bound, naming it.
pub fn check<T: Serialize>(operation: &str, request: &T) -> Result<(), Error> {
    let value = serde_json::to_value(request)
        .map_err(|e| Error::internal(format!("could not re-encode the params: {e}")))?;
    walk(operation, &value, "", "")
}

/// `shown` is the path an error names (with indices), `key` the table's.
fn walk(operation: &str, value: &Value, shown: &str, key: &str) -> Result<(), Error> {
    match value {
        Value::Object(fields) => fields.iter().try_for_each(|(name, value)| {
            walk(operation, value, &join(shown, name), &join(key, name))
        }),
        Value::Array(items) => {
            let max = max_items(operation, key).unwrap_or(UNLISTED_ITEMS);
            if items.len() > max {
                return Err(Error::validation(
                    shown,
                    format!("has {} items; at most {max} are accepted", items.len()),
                ));
            }
            items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| walk(operation, item, &format!("{shown}[{i}]"), key))
        }
        Value::String(text) => check_text(shown, text, bound(operation, key).unwrap_or(UNLISTED)),
        _ => Ok(()),
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn check_text(field: &str, text: &str, bound: Bound) -> Result<(), Error> {
    let max = match bound {
        Bound::Chars(max) => max,
        Bound::RefName => REF_CHARS,
    };
    // Bytes are never fewer than characters: most values stop here.
    if text.len() > max {
        let chars = text.chars().count();
        if chars > max {
            return Err(Error::validation(
                field,
                format!("is {chars} characters long; at most {max} are accepted"),
            ));
        }
    }
    if bound == Bound::RefName
        && let Some(part) = text.split('/').map(str::len).find(|&n| n > REF_PART_BYTES)
    {
        return Err(Error::validation(
            field,
            format!(
                "has a `/`-separated part of {part} bytes; git refs allow at most {REF_PART_BYTES}"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)] // schemas are rendered natively, at build time
/// A string (bar closed enums) or a list in a params schema.
struct SchemaField {
    /// Where it sits, as a JSON pointer into the schema.
    pointer: String,
    /// Its key in the table.
    key: String,
    is_list: bool,
}

#[cfg(test)] // schemas are rendered natively, at build time
/// `schema` with the table's bounds published on it: `maxLength` on every
/// string, `maxItems` on every list (a tuple keeps its own).
pub fn annotate(operation: &str, mut schema: Value) -> Value {
    for field in schema_fields(&schema) {
        let (name, max) = if field.is_list {
            (
                "maxItems",
                max_items(operation, &field.key).unwrap_or(UNLISTED_ITEMS),
            )
        } else {
            let max = match bound(operation, &field.key).unwrap_or(UNLISTED) {
                Bound::Chars(max) => max,
                Bound::RefName => REF_CHARS,
            };
            ("maxLength", max)
        };
        if let Some(Value::Object(node)) = schema.pointer_mut(&field.pointer) {
            node.entry(name).or_insert(Value::from(max));
        }
    }
    // The page request's numbers are bounded by `page`, not by this table.
    if let Some(Value::Object(page)) = schema.pointer_mut("/$defs/PageRequest/properties") {
        for (key, max) in [
            ("size", crate::page::MAX_PAGE_SIZE),
            ("pages", crate::page::MAX_PAGES_PER_CALL),
        ] {
            if let Some(Value::Object(node)) = page.get_mut(key) {
                node.insert("minimum".into(), Value::from(1));
                node.insert("maximum".into(), Value::from(max));
            }
        }
    }
    schema
}

#[cfg(test)] // schemas are rendered natively, at build time
fn schema_fields(root: &Value) -> Vec<SchemaField> {
    let mut fields = Vec::new();
    collect(root, String::new(), "", &mut fields);
    fields
}

#[cfg(test)] // schemas are rendered natively, at build time
fn collect(root: &Value, pointer: String, key: &str, out: &mut Vec<SchemaField>) {
    let Some(node) = root.pointer(&pointer) else {
        return;
    };
    if let Some(name) = node["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return collect(root, format!("/$defs/{name}"), key, out);
    }
    for variants in ["anyOf", "oneOf", "prefixItems"] {
        let count = node[variants].as_array().map_or(0, Vec::len);
        for i in 0..count {
            collect(root, format!("{pointer}/{variants}/{i}"), key, out);
        }
    }
    if node["items"].is_object() {
        collect(root, format!("{pointer}/items"), key, out);
    }
    for name in node["properties"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.keys())
    {
        collect(
            root,
            format!("{pointer}/properties/{name}"),
            &join(key, name),
            out,
        );
    }
    if node.get("enum").is_some() {
        return;
    }
    let types: Vec<&str> = match &node["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for (kind, is_list) in [("string", false), ("array", true)] {
        if types.contains(&kind) {
            out.push(SchemaField {
                pointer: pointer.clone(),
                key: key.to_owned(),
                is_list,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{RepoRef, TriggerPipelineRequest};

    fn refused(result: Result<(), Error>) -> (String, String) {
        match result {
            Err(Error::Validation(e)) => (e.field, e.message),
            _ => panic!("expected a validation error"),
        }
    }

    #[test]
    fn a_megabyte_slug_is_refused_by_name_without_its_value() {
        let request = RepoRef {
            workspace: "acme".into(),
            repo_slug: "x".repeat(1 << 20),
        };
        let (field, message) = refused(check("get_repository", &request));
        assert_eq!(field, "repo_slug");
        assert_eq!(
            message,
            "is 1048576 characters long; at most 128 are accepted"
        );
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        // 128 three-byte characters: 384 bytes, within a 128-character bound.
        let request = RepoRef {
            workspace: "acme".into(),
            repo_slug: "€".repeat(128),
        };
        assert!(check("get_repository", &request).is_ok());
    }

    #[test]
    fn list_items_are_named_with_their_index_and_lists_are_bounded() {
        let variable = |value: String| crate::types::PipelineVariable {
            key: "K".into(),
            value,
            secured: None,
        };
        let mut request = TriggerPipelineRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            branch: Some("main".into()),
            commit: None,
            custom_pipeline: None,
            variables: Some(vec![variable("ok".into()), variable("v".repeat(70_000))]),
        };
        let (field, _) = refused(check("trigger_pipeline", &request));
        assert_eq!(field, "variables[1].value");

        request.variables = Some((0..101).map(|_| variable("v".into())).collect());
        let (field, message) = refused(check("trigger_pipeline", &request));
        assert_eq!(field, "variables");
        assert_eq!(message, "has 101 items; at most 100 are accepted");
    }

    #[test]
    fn branch_names_follow_git_ref_limits() {
        let request = |branch: String| TriggerPipelineRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            branch: Some(branch),
            commit: None,
            custom_pipeline: None,
            variables: None,
        };
        let long_part = format!("feature/{}", "a".repeat(256));
        let (field, message) = refused(check("trigger_pipeline", &request(long_part)));
        assert_eq!(field, "branch");
        assert!(message.contains("256 bytes"), "{message}");
        let deep = "abc/".repeat(200) + "x";
        assert!(check("trigger_pipeline", &request(deep.clone())).is_ok());
        let too_deep = deep.repeat(2);
        let (_, message) = refused(check("trigger_pipeline", &request(too_deep)));
        assert!(message.contains("at most 1024"), "{message}");
    }

    #[test]
    fn every_string_and_list_of_every_operation_has_a_bound() {
        use crate::bindings::exports::atom::integration::integration::Guest;
        let mut missing = Vec::new();
        let mut strings = 0;
        for operation in crate::catalog::Component::operations() {
            let name = operation.name.replace('-', "_");
            let schema: Value = serde_json::from_str(&operation.parameters_schema).unwrap();
            for SchemaField {
                key: field,
                is_list,
                ..
            } in schema_fields(&schema)
            {
                strings += usize::from(!is_list);
                let listed = if is_list {
                    max_items(&name, &field).is_some()
                } else {
                    bound(&name, &field).is_some()
                };
                if !listed {
                    missing.push(format!("{name}: {field}"));
                }
            }
        }
        assert!(strings > 50, "the schema walk found only {strings} strings");
        assert!(missing.is_empty(), "no bound for {missing:#?}");
    }

    #[test]
    fn published_schemas_carry_the_bounds() {
        use crate::types::CreatePullRequestCommentRequest;
        let schema = annotate(
            "create_pull_request_comment",
            crate::wire::params_schema_of::<CreatePullRequestCommentRequest>(),
        );
        assert_eq!(schema["properties"]["repo_slug"]["maxLength"], 128);
        assert_eq!(schema["properties"]["content"]["maxLength"], 128 * 1024);
        assert_eq!(
            schema["$defs"]["InlineAnchor"]["properties"]["path"]["maxLength"],
            4096
        );
    }

    #[test]
    fn the_webhook_description_is_bounded_apart_from_markdown_descriptions() {
        assert_eq!(
            bound("create_webhook", "description"),
            Some(WEBHOOK_DESCRIPTION)
        );
        assert_eq!(bound("create_pull_request", "description"), Some(TEXT));
    }
}
