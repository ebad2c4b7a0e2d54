//! `POST R/src`: one new commit on a branch from given file contents and
//! deletions, sent as `multipart/form-data`.
//!
//! Bitbucket answers 201 with the new commit's URL in `Location` and no
//! body; the commit is then read back with the commits code. `parents` is
//! always sent: the caller's `parent`, or the head read first. For an
//! existing branch Bitbucket asserts that `parents` is its head and answers
//! 409 otherwise (the spec's `branch` parameter), so a concurrent push is
//! refused, never overwritten; a new branch starts at `parents`.
//!
//! A create: never retried. When its answer does not prove it failed (a 5xx,
//! 555, a timeout, a lost connection) the branch is read back:
//! - a commit on it whose first parent is the `parents` sent and whose
//!   message (and first written file) is ours: that is the commit, answered
//!   as made;
//! - the head still `parents` (or a new branch still absent): the commit was
//!   not made. The error keeps its kind and status, and is retryable only
//!   when the caller pinned `parent`: the same request sent again is then
//!   refused (409) should the first one still land. Without a pinned parent
//!   a second call would read the new head and could commit twice, so the
//!   error is not retryable and names the parent to pin;
//! - anything else: `outcome-unknown`.

use serde::Deserialize;

use crate::bounds::{COMMIT_FILES_TOTAL_BYTES, FILE_CONTENT_CHECK_BYTES};
use crate::commits;
use crate::endpoint::{Endpoint, Form, Upstream};
use crate::error::Error;
use crate::model::{Hashed, Named};
use crate::path::ApiPath;
use crate::types::{
    Commit, CommitFilesRequest, CommitFilesResult, CommitRef, ErrorInfo, FileWrite,
    ListCommitsRequest, PageRequest,
};

/// How many of the branch's newest commits a lost answer is looked for in:
/// others may have pushed on top of ours in the meantime.
const RECONCILE_DEPTH: u32 = 20;

#[derive(Deserialize)]
struct ApiRef {
    target: Option<Hashed>,
}

#[derive(Deserialize)]
struct ApiRepository {
    mainbranch: Option<Named>,
}

/// What was asked, checked.
struct Plan<'a> {
    workspace: &'a str,
    repo_slug: &'a str,
    branch: &'a str,
    message: &'a str,
    author: Option<&'a str>,
    /// Paths without their leading `/`.
    writes: Vec<(String, &'a str)>,
    deletions: Vec<String>,
}

pub fn commit_files(
    upstream: &dyn Upstream,
    request: CommitFilesRequest,
) -> Result<CommitFilesResult, Error> {
    let plan = plan(&request)?;
    let pinned = match request.parent.as_deref().map(str::trim) {
        Some(parent) => Some(parent_hash(parent)?),
        None => None,
    };
    let parent = match &pinned {
        Some(parent) => Some(parent.clone()),
        None => head_or_main(upstream, &plan)?,
    };
    let endpoint =
        Endpoint::post(ApiPath::repository(plan.workspace, plan.repo_slug)?.literal("src"))
            .form(&form(&plan, parent.as_deref()));
    match upstream.send(&endpoint) {
        Ok(response) => match response.header("location").and_then(hash_of_location) {
            Some(hash) => Ok(CommitFilesResult {
                branch: plan.branch.to_owned(),
                commit: read_back(upstream, &plan, &hash, parent.as_deref()),
            }),
            // Made, but Bitbucket did not say which: look for it as for a
            // lost answer.
            None => {
                let lost = Error::outcome_unknown(&format!(
                    "Bitbucket answered HTTP {} without the new commit's location",
                    response.status
                ));
                settle_lost(upstream, &plan, parent.as_deref(), false, lost)
            }
        },
        Err(lost @ Error::OutcomeUnknown(_)) => {
            settle_lost(upstream, &plan, parent.as_deref(), pinned.is_some(), lost)
        }
        Err(refused) => Err(refused),
    }
}

/// The request checked, every problem named by its field.
fn plan(request: &CommitFilesRequest) -> Result<Plan<'_>, Error> {
    let branch = request.branch.trim();
    let branch = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    if branch.is_empty() {
        return Err(Error::validation("branch", "must not be empty"));
    }
    if branch.starts_with('/')
        || branch.ends_with('/')
        || branch.contains("..")
        || branch.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::validation(
            "branch",
            "is not a valid git branch name",
        ));
    }
    let message = request.message.trim();
    if message.is_empty() {
        return Err(Error::validation("message", "must not be empty"));
    }
    let author = match request.author.as_deref().map(str::trim) {
        None => None,
        Some(author) => {
            let shaped = author
                .split_once('<')
                .is_some_and(|(name, rest)| !name.trim().is_empty() && rest.ends_with('>'));
            if !shaped || author.chars().any(char::is_control) {
                return Err(Error::validation(
                    "author",
                    "must be a git author line, `Name <email>`",
                ));
            }
            Some(author)
        }
    };
    let files = request.files.as_deref().unwrap_or_default();
    let deletions = request.deletions.as_deref().unwrap_or_default();
    if files.is_empty() && deletions.is_empty() {
        return Err(Error::validation(
            "files",
            "name at least one file to write, or a path in `deletions`",
        ));
    }
    let mut total = 0usize;
    let mut writes = Vec::with_capacity(files.len());
    for (i, FileWrite { path, content }) in files.iter().enumerate() {
        let path = repo_path(&format!("files[{i}].path"), path)?;
        total += content.len();
        if total > COMMIT_FILES_TOTAL_BYTES {
            return Err(Error::validation(
                "files",
                format!("the contents add up to more than {COMMIT_FILES_TOTAL_BYTES} bytes"),
            ));
        }
        writes.push((path, content.as_str()));
    }
    let mut removed = Vec::with_capacity(deletions.len());
    for (i, path) in deletions.iter().enumerate() {
        removed.push(repo_path(&format!("deletions[{i}]"), path)?);
    }
    let mut seen = std::collections::HashSet::new();
    for (i, path) in writes
        .iter()
        .map(|(p, _)| p)
        .chain(removed.iter())
        .enumerate()
    {
        if !seen.insert(path.as_str()) {
            let field = if i < writes.len() {
                format!("files[{i}].path")
            } else {
                format!("deletions[{}]", i - writes.len())
            };
            return Err(Error::validation(
                &field,
                "names a path already written or deleted in this commit",
            ));
        }
    }
    Ok(Plan {
        workspace: &request.workspace,
        repo_slug: &request.repo_slug,
        branch,
        message,
        author,
        writes,
        deletions: removed,
    })
}

/// A file's path in the repository, without its leading `/`: no empty,
/// `.` or `..` part, nothing under `.git`, no control character, `"` or `\`
/// (they cannot travel in a form field's name as Bitbucket reads it).
fn repo_path(field: &str, path: &str) -> Result<String, Error> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        return Err(Error::validation(field, "must name a file"));
    }
    if path
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(Error::validation(
            field,
            "must not hold control characters, `\"` or `\\`",
        ));
    }
    for part in path.split('/') {
        match part {
            "" => {
                return Err(Error::validation(
                    field,
                    "must not hold an empty part (`//`, or a `/` at its end)",
                ));
            }
            "." | ".." => {
                return Err(Error::validation(field, "must not hold `.` or `..` parts"));
            }
            _ if part.eq_ignore_ascii_case(".git") => {
                return Err(Error::validation(field, "must not be inside `.git`"));
            }
            _ => {}
        }
    }
    Ok(path.to_owned())
}

/// The caller's expected head: a hash, not a name.
fn parent_hash(parent: &str) -> Result<String, Error> {
    if !(7..=64).contains(&parent.len()) || !parent.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::validation(
            "parent",
            "must be a commit hash (7 to 64 hex digits)",
        ));
    }
    Ok(parent.to_ascii_lowercase())
}

/// The branch's head; for a branch that does not exist yet, the main
/// branch's (where Bitbucket would start it), or none in an empty
/// repository.
fn head_or_main(upstream: &dyn Upstream, plan: &Plan<'_>) -> Result<Option<String>, Error> {
    if let Some(head) = branch_head(upstream, plan, plan.branch)? {
        return Ok(Some(head));
    }
    let repository: ApiRepository = upstream.json(&Endpoint::get(ApiPath::repository(
        plan.workspace,
        plan.repo_slug,
    )?))?;
    match repository.mainbranch.and_then(|m| m.name) {
        Some(main) if main != plan.branch => branch_head(upstream, plan, &main),
        _ => Ok(None),
    }
}

/// A branch's head, or `None` when there is no such branch.
fn branch_head(
    upstream: &dyn Upstream,
    plan: &Plan<'_>,
    branch: &str,
) -> Result<Option<String>, Error> {
    let path = ApiPath::repository(plan.workspace, plan.repo_slug)?
        .literal("refs/branches")
        .param("branch", branch)?;
    match upstream.json::<ApiRef>(&Endpoint::get(path)) {
        Ok(found) => found.target.and_then(|t| t.hash).map(Some).ok_or_else(|| {
            Error::unavailable("Bitbucket answered a branch without its head", None)
        }),
        Err(Error::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

fn form(plan: &Plan<'_>, parent: Option<&str>) -> Form {
    let mut form = Form::new()
        .field("message", plan.message)
        .field("branch", plan.branch);
    if let Some(author) = plan.author {
        form = form.field("author", author);
    }
    if let Some(parent) = parent {
        form = form.field("parents", parent);
    }
    for path in &plan.deletions {
        form = form.field("files", format!("/{path}"));
    }
    // A leading `/` keeps a file named like a meta field (`message`) a file.
    for (path, content) in &plan.writes {
        form = form.file(&format!("/{path}"), content.as_bytes());
    }
    form
}

/// The hash at the end of `…/commit/{hash}`.
fn hash_of_location(location: &str) -> Option<String> {
    let path = location.split(['?', '#']).next()?;
    let (_, hash) = path.trim_end_matches('/').rsplit_once("/commit/")?;
    (hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hash.to_ascii_lowercase())
}

/// The new commit as Bitbucket has it; what the call sent when it cannot be
/// read (the commit is made: failing the call would invite a second one).
fn read_back(upstream: &dyn Upstream, plan: &Plan<'_>, hash: &str, parent: Option<&str>) -> Commit {
    let reference = CommitRef {
        workspace: plan.workspace.to_owned(),
        repo_slug: plan.repo_slug.to_owned(),
        commit: hash.to_owned(),
    };
    commits::get(upstream, reference).unwrap_or_else(|_| Commit {
        hash: hash.to_owned(),
        date: None,
        message: plan.message.to_owned(),
        author_raw: plan.author.map(str::to_owned),
        author: None,
        parents: parent.map(str::to_owned).into_iter().collect(),
        web_url: None,
    })
}

/// After a lost answer: the commit if the branch shows it, the original
/// error if the branch shows it was not made, else `outcome-unknown`.
fn settle_lost(
    upstream: &dyn Upstream,
    plan: &Plan<'_>,
    parent: Option<&str>,
    pinned: bool,
    lost: Error,
) -> Result<CommitFilesResult, Error> {
    let Error::OutcomeUnknown(info) = lost else {
        return Err(lost);
    };
    let unknown = |why: String| {
        Err(Error::OutcomeUnknown(ErrorInfo {
            message: format!("{}; {why}", info.message),
            ..info.clone()
        }))
    };
    let listing = ListCommitsRequest {
        workspace: plan.workspace.to_owned(),
        repo_slug: plan.repo_slug.to_owned(),
        include: Some(vec![plan.branch.to_owned()]),
        exclude: None,
        path: None,
        page: Some(PageRequest {
            cursor: None,
            size: Some(RECONCILE_DEPTH),
            pages: None,
            q: None,
            sort: None,
        }),
    };
    let newest = match commits::list(upstream, listing) {
        Ok(page) => page.items,
        // A new branch that is still absent was not made.
        Err(Error::NotFound(_)) => Vec::new(),
        Err(error) => {
            return unknown(format!(
                "reading the branch back failed: {}",
                error.message()
            ));
        }
    };
    for commit in &newest {
        if is_ours(commit, plan, parent) && first_file_matches(upstream, plan, &commit.hash)? {
            return Ok(CommitFilesResult {
                branch: plan.branch.to_owned(),
                commit: commit.clone(),
            });
        }
    }
    let head = newest.first().map(|c| c.hash.as_str());
    let untouched = match (head, parent) {
        (None, _) => true,
        (Some(head), Some(parent)) => head.starts_with(parent),
        (Some(_), None) => false,
    };
    if !untouched {
        return unknown(format!(
            "the branch moved and none of its {} newest commits is this one",
            newest.len()
        ));
    }
    let advice = match (pinned, parent) {
        (true, _) => "sending the same request again is safe: Bitbucket refuses (409) a commit whose parent is no longer the branch's head, should the first one still land".to_owned(),
        (false, Some(parent)) => format!(
            "to retry safely, pass parent={parent}: Bitbucket then refuses (409) a second commit should the first one still land"
        ),
        (false, None) => "the repository had no commit to start from; check the branch before trying again".to_owned(),
    };
    let message = format!(
        "{}; the branch still ends at the parent, so the commit was not made; {advice}",
        info.message
    );
    let retryable = pinned;
    let info = ErrorInfo {
        message,
        retryable,
        ..info
    };
    Err(match info.status {
        None => Error::Timeout(info),
        Some(_) => Error::UpstreamUnavailable(info),
    })
}

/// Whether `commit` is the one this call asked for: first parent and
/// message (Bitbucket may add a trailing newline).
fn is_ours(commit: &Commit, plan: &Plan<'_>, parent: Option<&str>) -> bool {
    let parent_matches = match (commit.parents.first(), parent) {
        (Some(first), Some(parent)) => first.starts_with(parent),
        (None, None) => true,
        _ => false,
    };
    parent_matches && commit.message.trim() == plan.message
}

/// The first written file's content at `hash` equals ours (when it is small
/// enough to read cheaply; deletions only: nothing to compare).
fn first_file_matches(upstream: &dyn Upstream, plan: &Plan<'_>, hash: &str) -> Result<bool, Error> {
    let Some((path, content)) = plan.writes.first() else {
        return Ok(true);
    };
    if content.len() > FILE_CONTENT_CHECK_BYTES {
        return Ok(true);
    }
    let mut api = ApiPath::repository(plan.workspace, plan.repo_slug)?
        .literal("src")
        .param("commit", hash)?;
    for part in path.split('/') {
        api = api.param("path", part)?;
    }
    match upstream.send(&Endpoint::get(api).header("accept", "*/*")) {
        Ok(response) => Ok(response.body == content.as_bytes()),
        Err(Error::NotFound(_)) => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Response;
    use crate::endpoint::script::Script;

    const PARENT: &str = "1111111111111111111111111111111111111111";
    const NEW: &str = "2222222222222222222222222222222222222222";

    fn request(files: &[(&str, &str)], deletions: &[&str]) -> CommitFilesRequest {
        CommitFilesRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            branch: "main".into(),
            message: "Update docs".into(),
            author: None,
            parent: None,
            files: Some(
                files
                    .iter()
                    .map(|(path, content)| FileWrite {
                        path: (*path).into(),
                        content: (*content).into(),
                    })
                    .collect(),
            ),
            deletions: Some(deletions.iter().map(|d| (*d).into()).collect()),
        }
    }

    fn field_of(result: Result<CommitFilesResult, Error>) -> String {
        match result {
            Err(Error::Validation(e)) => e.field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn created() -> Result<Response, Error> {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "location",
            format!("https://api.bitbucket.org/2.0/repositories/acme/api/commit/{NEW}")
                .parse()
                .unwrap(),
        );
        Ok(Response {
            status: 201,
            headers,
            body: Vec::new(),
        })
    }

    fn commit_json(hash: &str, parent: &str, message: &str) -> serde_json::Value {
        serde_json::json!({
            "hash": hash, "message": message, "date": "2026-12-01T10:00:00+00:00",
            "parents": [{ "hash": parent }]
        })
    }

    #[test]
    fn bad_paths_are_refused_naming_the_field() {
        let script = Script::new();
        for (files, deletions, field) in [
            (vec![("docs/../x", "a")], vec![], "files[0].path"),
            (vec![("ok.md", "a"), ("", "b")], vec![], "files[1].path"),
            (vec![], vec!["a//b"], "deletions[0]"),
            (vec![], vec!["/.git/config"], "deletions[0]"),
            (vec![("a\nb", "x")], vec![], "files[0].path"),
            (vec![("dup.md", "x")], vec!["/dup.md"], "deletions[0]"),
            (vec![], vec![], "files"),
        ] {
            assert_eq!(
                field_of(commit_files(&script, request(&files, &deletions))),
                field
            );
        }
        let mut bad_parent = request(&[("a.md", "x")], &[]);
        bad_parent.parent = Some("main".into());
        assert_eq!(field_of(commit_files(&script, bad_parent)), "parent");
        let mut bad_author = request(&[("a.md", "x")], &[]);
        bad_author.author = Some("just a name".into());
        assert_eq!(field_of(commit_files(&script, bad_author)), "author");
        assert!(script.sent.borrow().is_empty(), "nothing was sent");
    }

    #[test]
    fn the_head_is_read_and_sent_as_parents_and_the_commit_read_back() {
        let script = Script::new()
            .ok(serde_json::json!({ "target": { "hash": PARENT } }))
            .answer(created())
            .ok(commit_json(NEW, PARENT, "Update docs\n"));
        let made =
            commit_files(&script, request(&[("/docs/x.md", "# X\r\n")], &["old.md"])).unwrap();
        assert_eq!(made.commit.hash, NEW);
        assert_eq!(made.commit.parents, [PARENT]);
        assert_eq!(made.branch, "main");
        let sent = script.sent.borrow();
        assert_eq!(sent[1].path.as_str(), "/repositories/acme/api/src");
        assert!(
            sent[1]
                .content_type()
                .starts_with("multipart/form-data; boundary=")
        );
        let body = String::from_utf8(sent[1].body().unwrap().to_vec()).unwrap();
        assert!(body.contains("name=\"parents\""), "{body}");
        assert!(body.contains(PARENT));
        assert!(body.contains("name=\"/docs/x.md\"; filename=\"x.md\""));
        assert!(body.contains(
            "name=\"files\"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n/old.md\r\n"
        ));
        assert_eq!(
            sent[2].path.as_str(),
            format!("/repositories/acme/api/commit/{NEW}")
        );
    }

    #[test]
    fn a_lost_answer_finds_the_commit_on_the_branch() {
        let mut asked = request(&[("a.md", "hello")], &[]);
        asked.parent = Some(PARENT.into());
        let script = Script::new()
            .answer(Err(Error::outcome_unknown_answered(500, "boom")))
            .ok(serde_json::json!({ "values": [
                commit_json("3333333333333333333333333333333333333333", NEW, "someone else's"),
                commit_json(NEW, PARENT, "Update docs"),
            ]}))
            .answer(Ok(Response {
                status: 200,
                body: b"hello".to_vec(),
                ..Response::default()
            }));
        let made = commit_files(&script, asked).unwrap();
        assert_eq!(made.commit.hash, NEW);
        assert_eq!(script.sent.borrow().len(), 3, "the POST went once");
    }

    #[test]
    fn a_lost_answer_with_the_head_unchanged_was_not_made() {
        let lost = || Err(Error::outcome_unknown_answered(500, "boom"));
        let head_unchanged =
            serde_json::json!({ "values": [commit_json(PARENT, "0000000", "older")] });
        // Pinned parent: a second send is refused if the first lands late.
        let mut pinned = request(&[("a.md", "hello")], &[]);
        pinned.parent = Some(PARENT.into());
        let script = Script::new().answer(lost()).ok(head_unchanged.clone());
        let error = commit_files(&script, pinned).unwrap_err();
        assert_eq!(error.code(), "upstream_unavailable");
        assert!(error.retryable());
        assert_eq!(error.upstream_status(), Some(500));
        // Parent read by the component: not retryable as it stands.
        let script = Script::new()
            .ok(serde_json::json!({ "target": { "hash": PARENT } }))
            .answer(lost())
            .ok(head_unchanged);
        let error = commit_files(&script, request(&[("a.md", "hello")], &[])).unwrap_err();
        assert_eq!(error.code(), "upstream_unavailable");
        assert!(!error.retryable());
        assert!(error.message().contains(&format!("parent={PARENT}")));
        // The branch moved without our commit: unknown.
        let script = Script::new()
            .ok(serde_json::json!({ "target": { "hash": PARENT } }))
            .answer(lost())
            .ok(serde_json::json!({ "values": [commit_json(NEW, PARENT, "theirs")] }));
        let error = commit_files(&script, request(&[("a.md", "hello")], &[])).unwrap_err();
        assert_eq!(error.code(), "outcome_unknown");
        assert!(!error.retryable());
    }

    #[test]
    fn locations_name_the_commit() {
        assert_eq!(
            hash_of_location("https://api.bitbucket.org/2.0/repositories/a/b/commit/ABCDEF1234"),
            Some("abcdef1234".into())
        );
        assert_eq!(hash_of_location("https://x/2.0/repositories/a/b/src"), None);
    }
}
