//! A repository's files at a revision: `R/src/{commit}/{path}` (raw, or
//! `format=meta`), directory listings, and `R/filehistory/{commit}/{path}`.
//!
//! In `/src/{commit}/{path}` a revision holding `/` (a branch such as
//! `feature/x`) cannot be told from the path, so such a revision is first
//! resolved to its commit (`GET R/refs/branches/{name}`, then the tag of
//! that name). File paths travel one percent-encoded segment per `/` part.

use serde::Deserialize;
use serde_json::Value;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiCommit, Hashed, Links};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{
    FileContent, FileRevision, FileRevisionPage, GetFileRequest, ListDirectoryRequest,
    ListFileHistoryRequest, TreeEntry, TreeEntryKind, TreeEntryPage,
};

/// What `get_file` answers when the caller names no budget.
pub const DEFAULT_FILE_BYTES: u32 = 64 * 1024;
/// The most it answers.
pub const MAX_FILE_BYTES: u32 = 1024 * 1024;

const TREE: Listing = Listing::new("source-tree", &[]);
const FILE_HISTORY: Listing = Listing::new("file-history", &["renames"]);

/// `commit_file` / `commit_directory`, in listings and `format=meta`.
#[derive(Deserialize)]
pub struct ApiTreeEntry {
    #[serde(rename = "type")]
    kind: Option<String>,
    path: Option<String>,
    size: Option<u64>,
    mimetype: Option<String>,
    /// A list (`["link"]`) live, a single string in the spec.
    attributes: Option<Value>,
    commit: Option<Hashed>,
    links: Option<Links>,
}

impl ApiTreeEntry {
    fn has_attribute(&self, name: &str) -> bool {
        match &self.attributes {
            Some(Value::String(one)) => one == name,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(name)),
            _ => false,
        }
    }

    fn is_directory(&self) -> bool {
        self.kind.as_deref() == Some("commit_directory")
    }

    fn entry_kind(&self) -> TreeEntryKind {
        if self.is_directory() {
            TreeEntryKind::Directory
        } else if self.has_attribute("subrepository") {
            TreeEntryKind::Submodule
        } else if self.has_attribute("link") {
            TreeEntryKind::Link
        } else {
            TreeEntryKind::File
        }
    }

    fn into_entry(self) -> TreeEntry {
        let kind = self.entry_kind();
        let file = kind != TreeEntryKind::Directory;
        TreeEntry {
            path: self.path.unwrap_or_default(),
            kind,
            size: self.size.filter(|_| file),
            mimetype: self.mimetype.filter(|_| file),
        }
    }
}

/// `R/src/{commit}/{path…}`, each part of the path its own segment.
fn src_path(
    workspace: &str,
    repo_slug: &str,
    kind: &str,
    revision: &str,
    path: &str,
) -> Result<ApiPath, Error> {
    let mut api = ApiPath::repository(workspace, repo_slug)?
        .literal(kind)
        .param("revision", revision)?;
    for part in path.split('/').filter(|part| !part.is_empty()) {
        api = api.param("path", part)?;
    }
    Ok(api)
}

/// `revision` as `/src` and `/filehistory` can take it: as it is, unless it
/// holds a `/`, then the commit of the branch (or else the tag) it names.
fn resolve(
    upstream: &dyn Upstream,
    workspace: &str,
    repo_slug: &str,
    revision: &str,
) -> Result<String, Error> {
    let revision = revision.trim();
    if revision.is_empty() {
        return Err(Error::validation("revision", "must not be empty"));
    }
    if !revision.contains('/') {
        return Ok(revision.to_owned());
    }
    #[derive(Deserialize)]
    struct Ref {
        target: Option<Hashed>,
    }
    let repository = ApiPath::repository(workspace, repo_slug)?;
    let mut last = None;
    for kind in ["refs/branches", "refs/tags"] {
        let path = repository
            .clone()
            .literal(kind)
            .param("revision", revision)?;
        match upstream.json::<Ref>(&Endpoint::get(path)) {
            Ok(found) => {
                return found.target.and_then(|t| t.hash).ok_or_else(|| {
                    Error::unavailable("Bitbucket answered a ref without its commit", None)
                });
            }
            Err(error @ Error::NotFound(_)) => last = Some(error),
            Err(other) => return Err(other),
        }
    }
    Err(match last {
        Some(Error::NotFound(info)) => Error::NotFound(crate::types::ErrorInfo {
            message:
                "no branch or tag of that name (a revision with `/` must name a branch or a tag)"
                    .to_owned(),
            ..info
        }),
        _ => Error::internal("no ref lookup was made"),
    })
}

/// The file's metadata first (`format=meta`: its size, type and commit;
/// a directory is refused on `path`), then its bytes from the commit the
/// metadata named. Text is cut to `max_bytes` at a character boundary; a
/// file with a NUL byte or bytes that are not UTF-8 (or that Bitbucket
/// marks binary or LFS) is only named. When the file is larger than the
/// budget only its first bytes are asked for (`Range`); Bitbucket may answer
/// them all, and they are cut here.
pub fn get_file(upstream: &dyn Upstream, request: GetFileRequest) -> Result<FileContent, Error> {
    let max = request.max_bytes.unwrap_or(DEFAULT_FILE_BYTES);
    if !(1..=MAX_FILE_BYTES).contains(&max) {
        return Err(Error::validation(
            "max_bytes",
            format!("must be from 1 to {MAX_FILE_BYTES} bytes"),
        ));
    }
    if request.path.trim().trim_matches('/').is_empty() {
        return Err(Error::validation(
            "path",
            "must name a file; use list-directory for the root",
        ));
    }
    let revision = resolve(
        upstream,
        &request.workspace,
        &request.repo_slug,
        &request.revision,
    )?;
    let meta_path = src_path(
        &request.workspace,
        &request.repo_slug,
        "src",
        &revision,
        &request.path,
    )?;
    let meta: ApiTreeEntry = upstream.json(&Endpoint::get(meta_path).query("format", "meta"))?;
    if meta.is_directory() {
        return Err(Error::validation(
            "path",
            "is a directory; use list-directory to list it",
        ));
    }
    let commit = meta.commit.as_ref().and_then(|c| c.hash.clone());
    let size = meta.size.unwrap_or(0);
    let mut content = FileContent {
        path: meta
            .path
            .clone()
            .unwrap_or_else(|| request.path.trim().to_owned()),
        commit: commit.clone(),
        size,
        mimetype: meta.mimetype.clone(),
        binary: false,
        content: None,
        truncated_bytes: 0,
        web_url: Links::html(&meta.links),
    };
    if meta.has_attribute("binary") || meta.has_attribute("lfs") {
        content.binary = true;
        return Ok(content);
    }
    let at = commit.as_deref().unwrap_or(&revision);
    let raw_path = src_path(
        &request.workspace,
        &request.repo_slug,
        "src",
        at,
        &request.path,
    )?;
    let mut endpoint = Endpoint::get(raw_path).header("accept", "*/*");
    if size > u64::from(max) {
        // Three more bytes tell a character cut at the budget from bad UTF-8.
        endpoint = endpoint.header("range", format!("bytes=0-{}", u64::from(max) + 2));
    }
    let response = upstream.send(&endpoint)?;
    let whole = if response.status == 206 {
        size.max(response.body.len() as u64)
    } else {
        response.body.len() as u64
    };
    content.size = whole;
    match text_within(&response.body, max as usize) {
        None => content.binary = true,
        Some(text) => {
            content.truncated_bytes = whole - text.len() as u64;
            content.content = Some(text);
        }
    }
    Ok(content)
}

/// `bytes` cut to `max` at a character boundary, or `None` when they are
/// not text: a NUL byte, or bytes that are not UTF-8 (a sequence cut short
/// at the very end of what was read is the read's cut, not bad UTF-8).
pub fn text_within(bytes: &[u8], max: usize) -> Option<String> {
    if bytes.contains(&0) {
        return None;
    }
    let valid = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) if error.error_len().is_none() => {
            // Only an incomplete sequence at the end.
            std::str::from_utf8(&bytes[..error.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let mut cut = max.min(valid.len());
    while !valid.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(valid[..cut].to_owned())
}

/// Lists a directory; the root's listing needs the trailing slash.
pub fn list_directory(
    upstream: &dyn Upstream,
    request: ListDirectoryRequest,
) -> Result<TreeEntryPage, Error> {
    let revision = resolve(
        upstream,
        &request.workspace,
        &request.repo_slug,
        &request.revision,
    )?;
    let dir = request.path.as_deref().unwrap_or("").trim();
    let path = src_path(
        &request.workspace,
        &request.repo_slug,
        "src",
        &revision,
        dir,
    )?;
    let path = if dir.trim_matches('/').is_empty() {
        // `/src/{commit}/`: Bitbucket requires the slash for the root.
        path.with_trailing_slash()
    } else {
        path
    };
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        TREE,
        ApiTreeEntry::into_entry,
    )?;
    Ok(TreeEntryPage { items, next_cursor })
}

/// `commit_file` in a file's history: the file at a commit that changed it.
#[derive(Deserialize)]
struct ApiFileRevision {
    path: Option<String>,
    size: Option<u64>,
    commit: Option<ApiCommit>,
}

pub fn list_file_history(
    upstream: &dyn Upstream,
    request: ListFileHistoryRequest,
) -> Result<FileRevisionPage, Error> {
    if request.path.trim().trim_matches('/').is_empty() {
        return Err(Error::validation("path", "must name a file"));
    }
    let revision = resolve(
        upstream,
        &request.workspace,
        &request.repo_slug,
        &request.revision,
    )?;
    let path = src_path(
        &request.workspace,
        &request.repo_slug,
        "filehistory",
        &revision,
        &request.path,
    )?;
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        FILE_HISTORY,
        |file: ApiFileRevision| FileRevision {
            commit: file
                .commit
                .map(ApiCommit::into_commit)
                .unwrap_or_else(|| ApiCommit::default().into_commit()),
            path: file.path.unwrap_or_default(),
            size: file.size,
        },
    )?;
    Ok(FileRevisionPage { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::Response;
    use crate::endpoint::script::Script;

    fn raw(body: &[u8]) -> Result<Response, Error> {
        Ok(Response {
            status: 200,
            body: body.to_vec(),
            ..Response::default()
        })
    }

    fn meta(size: u64) -> serde_json::Value {
        json!({"type": "commit_file", "path": "src/main file.rs", "size": size,
               "mimetype": "text/x-rust", "attributes": [],
               "commit": {"type": "commit", "hash": "abc123full"}})
    }

    fn request(revision: &str, max: Option<u32>) -> GetFileRequest {
        GetFileRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            revision: revision.into(),
            path: "src/main file.rs".into(),
            max_bytes: max,
        }
    }

    #[test]
    fn a_branch_with_a_slash_is_resolved_and_the_file_read_at_its_commit() {
        let script = Script::new()
            .ok(json!({"name": "feature/x", "target": {"hash": "abc123full"}}))
            .ok(meta(11))
            .answer(raw(b"fn main(){}"));
        let file = get_file(&script, request("feature/x", None)).unwrap();
        assert_eq!(file.content.as_deref(), Some("fn main(){}"));
        assert_eq!(file.commit.as_deref(), Some("abc123full"));
        assert!(!file.binary);
        let sent = script.sent.borrow();
        assert_eq!(
            sent[0].path.as_str(),
            "/repositories/acme/api/refs/branches/feature%2Fx"
        );
        assert_eq!(
            sent[1].path.as_str(),
            "/repositories/acme/api/src/abc123full/src/main%20file.rs"
        );
        assert_eq!(sent[1].query_string(), "format=meta");
        assert_eq!(
            sent[2].path.as_str(),
            "/repositories/acme/api/src/abc123full/src/main%20file.rs"
        );
        assert_eq!(sent[2].query_string(), "");
    }

    #[test]
    fn a_tag_with_a_slash_is_found_after_the_branch_lookup_misses() {
        let script = Script::new()
            .answer(Err(Error::from_upstream(404, b"", None)))
            .ok(json!({"name": "release/1", "target": {"hash": "def"}}))
            .ok(meta(1))
            .answer(raw(b"x"));
        get_file(&script, request("release/1", None)).unwrap();
        assert_eq!(
            script.sent.borrow()[1].path.as_str(),
            "/repositories/acme/api/refs/tags/release%2F1"
        );
    }

    #[test]
    fn text_is_cut_at_a_character_boundary_and_binary_is_only_named() {
        let body = "é".repeat(10);
        let script = Script::new().ok(meta(20)).answer(raw(body.as_bytes()));
        let file = get_file(&script, request("main", Some(5))).unwrap();
        assert_eq!(file.content.as_deref(), Some("éé"));
        assert_eq!(file.truncated_bytes, 16);
        let range: Vec<_> = script.sent.borrow()[1]
            .headers()
            .map(|(n, v)| (n, v.to_owned()))
            .collect();
        assert!(
            range.contains(&("range", "bytes=0-7".to_owned())),
            "{range:?}"
        );

        let script = Script::new().ok(meta(4)).answer(raw(b"PK\x00\x01"));
        let file = get_file(&script, request("main", None)).unwrap();
        assert!(file.binary);
        assert_eq!(file.content, None);
        let script = Script::new().ok(meta(3)).answer(raw(b"\xff\xfeA"));
        assert!(get_file(&script, request("main", None)).unwrap().binary);
    }

    #[test]
    fn a_directory_is_refused_on_path_and_a_bad_budget_before_sending() {
        let script = Script::new().ok(json!({"type": "commit_directory", "path": "src"}));
        let Err(Error::Validation(e)) = get_file(&script, request("main", None)) else {
            panic!()
        };
        assert_eq!(e.field, "path");
        assert!(e.message.contains("list-directory"));
        let script = Script::new();
        let Err(Error::Validation(e)) = get_file(&script, request("main", Some(2 << 20))) else {
            panic!()
        };
        assert_eq!(e.field, "max_bytes");
        assert_eq!(script.requests_sent(), 0);
    }

    #[test]
    fn a_cut_multibyte_sequence_at_the_end_of_a_ranged_read_is_still_text() {
        assert_eq!(
            text_within("aé".as_bytes()[..2].as_ref(), 10).as_deref(),
            Some("a")
        );
        assert_eq!(text_within(b"a\xffb", 10), None);
    }

    #[test]
    fn the_root_listing_keeps_its_slash_and_entries_are_typed() {
        let script = Script::new().ok(json!({"values": [
            {"type": "commit_directory", "path": "src"},
            {"type": "commit_file", "path": "README.md", "size": 12, "attributes": []},
            {"type": "commit_file", "path": "link", "size": 4, "attributes": ["link"]},
            {"type": "commit_file", "path": "vendor/lib", "attributes": ["subrepository"]}
        ], "pagelen": 50}));
        let page = list_directory(
            &script,
            ListDirectoryRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                revision: "main".into(),
                path: None,
                page: None,
            },
        )
        .unwrap();
        let kinds: Vec<TreeEntryKind> = page.items.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                TreeEntryKind::Directory,
                TreeEntryKind::File,
                TreeEntryKind::Link,
                TreeEntryKind::Submodule
            ]
        );
        assert_eq!(page.items[1].size, Some(12));
        assert_eq!(
            script.sent.borrow()[0].path.as_str(),
            "/repositories/acme/api/src/main/"
        );
    }

    #[test]
    fn file_history_pages_revisions() {
        let script = Script::new().ok(json!({"values": [
            {"type": "commit_file", "path": "README.rst", "size": 3,
             "commit": {"hash": "c1", "message": "rename", "date": "2011-05-16T00:00:00+00:00"}}
        ], "next": "https://api.bitbucket.org/2.0/repositories/acme/api/filehistory/main/README.rst?page=x2&pagelen=50"}));
        let page = list_file_history(
            &script,
            ListFileHistoryRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                revision: "main".into(),
                path: "docs/README.rst".into(),
                page: None,
            },
        )
        .unwrap();
        assert_eq!(page.items[0].commit.hash, "c1");
        assert!(page.next_cursor.is_some());
        assert_eq!(
            script.sent.borrow()[0].path.as_str(),
            "/repositories/acme/api/filehistory/main/docs/README.rst"
        );
    }
}
