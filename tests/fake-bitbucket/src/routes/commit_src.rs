//! `POST R/src`: a commit from a form of files, as the spec's description
//! of the operation tells it.
//!
//! Meta fields `message`, `author`, `parents`, `branch` and `files`; every
//! other field is a file whose name is its path (absolute from the root,
//! leading `/` or not). A multipart field with a `filename` is always a file,
//! so `/message` or a file field named `message` writes a file. A path in
//! `files` with no field of its own is deleted.
//!
//! Where the commit goes (the `branch` parameter's description): on an
//! existing branch, `parents` (when sent) must be its head, else 409; a new
//! branch starts at `parents`, or at the main branch's head; no `branch`
//! means the main branch. The branch moves (or is created) and a repo:push
//! tells of it. The answer is 201 with the commit's URL in `Location` and no
//! body.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{open_repository, require_write};
use crate::form::{self, Field};
use crate::render::RefKind;
use crate::world::{Branch, Commit, Resolved, World};
use crate::{Shared, errors, events, lock};

/// The spec's meta fields; every other name is a path.
pub const META_FIELDS: [&str; 5] = ["message", "author", "parents", "files", "branch"];

/// What live writes when `message` is omitted ("a canned string", the spec);
/// the fake's wording.
const CANNED_MESSAGE: &str = "Commit made through the API";

/// What a new branch may merge with (as a branch created through the refs API).
const NEW_BRANCH_STRATEGIES: [&str; 3] = ["merge_commit", "squash", "fast_forward"];

pub async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fields = form::parse(content_type.as_deref(), body)
        .await
        .map_err(|why| errors::error(400, &why))?;
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let repo = repository.full_name();
    let asked = read_form(&fields)?;

    let branch_name = asked
        .branch
        .clone()
        .unwrap_or_else(|| repository.main_branch.clone());
    if !super::branches::valid_name(&branch_name) {
        return Err(errors::field_error(
            "branch",
            &format!("\"{branch_name}\" is not a valid branch name."),
        ));
    }
    let parents = match &asked.parents {
        None => None,
        Some(hash) => Some(match world.resolve_hash(&repo, hash) {
            Resolved::Found(full) => full,
            Resolved::Ambiguous => {
                return Err(errors::field_error(
                    "parents",
                    &format!("The commit hash \"{hash}\" is ambiguous."),
                ));
            }
            Resolved::Missing => {
                return Err(errors::field_error(
                    "parents",
                    &format!("The commit \"{hash}\" does not exist."),
                ));
            }
        }),
    };
    let existing = world
        .branch_in(&repo, &branch_name)
        .map(|b| b.target.clone());
    let parent = match (&existing, parents) {
        (Some(head), Some(parent)) if *head != parent => {
            return Err(errors::error(
                409,
                &format!(
                    "The parent \"{parent}\" is not the head of branch \"{branch_name}\" ({head}): it changed since."
                ),
            ));
        }
        (Some(head), _) => Some(head.clone()),
        (None, Some(parent)) => Some(parent),
        (None, None) => world
            .branch_in(&repo, &repository.main_branch)
            .map(|b| b.target.clone()),
    };

    let parent_tree = parent
        .as_ref()
        .map(|p| world.tree_at(&repo, p))
        .unwrap_or_default();
    let mut tree = (*parent_tree).clone();
    let mut paths = Vec::new();
    for (path, content) in &asked.writes {
        let blob: Arc<[u8]> = Arc::from(content.as_slice());
        if tree.get(path) != Some(&blob) {
            paths.push(path.clone());
        }
        tree.insert(path.clone(), blob);
    }
    for path in &asked.deletions {
        if tree.remove(path).is_some() {
            paths.push(path.clone());
        }
    }
    paths.sort();
    paths.dedup();

    let now = world.now();
    let account = world.user(&user).cloned();
    let author_raw = asked.author.clone().unwrap_or_else(|| {
        account
            .as_ref()
            .map(|u| format!("{} <{}>", u.display_name, u.email))
            .unwrap_or_default()
    });
    let author = author_email(&author_raw).and_then(|email| {
        world
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
            .map(|u| u.uuid.clone())
    });
    let hash = world.add_commit(Commit {
        repo: repo.clone(),
        hash: String::new(),
        message: asked
            .message
            .clone()
            .unwrap_or_else(|| CANNED_MESSAGE.to_owned()),
        author,
        author_raw,
        date: now,
        parents: parent.iter().cloned().collect(),
        paths,
        tree: Arc::new(tree),
    });
    match world
        .branches
        .iter_mut()
        .find(|b| b.repo == repo && b.name == branch_name)
    {
        Some(branch) => branch.target = hash.clone(),
        None => world.branches.push(Branch {
            repo: repo.clone(),
            name: branch_name.clone(),
            target: hash.clone(),
            merge_strategies: NEW_BRANCH_STRATEGIES.map(str::to_owned).to_vec(),
            default_merge_strategy: "merge_commit".into(),
        }),
    }
    let change = events::push_change(
        &world,
        RefKind::Branch,
        &repo,
        &branch_name,
        existing.as_deref(),
        Some(&hash),
        std::slice::from_ref(&hash),
    );
    events::push(&mut world, &repo, &user, vec![change]);

    let location = format!("{}/2.0/repositories/{repo}/commit/{hash}", world.base_url);
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// A form's fields, sorted into meta data, files to write and paths to
/// delete.
struct Asked {
    message: Option<String>,
    author: Option<String>,
    parents: Option<String>,
    branch: Option<String>,
    /// Paths without a leading `/`.
    writes: Vec<(String, Vec<u8>)>,
    deletions: Vec<String>,
}

fn read_form(fields: &[Field]) -> Result<Asked, Response> {
    let mut asked = Asked {
        message: None,
        author: None,
        parents: None,
        branch: None,
        writes: Vec::new(),
        deletions: Vec::new(),
    };
    let mut listed = Vec::new();
    for field in fields {
        let is_file = field.filename.is_some() || !META_FIELDS.contains(&field.name.as_str());
        if is_file {
            let path = repo_path(&field.name)?;
            if asked.writes.iter().any(|(p, _)| *p == path) {
                return Err(errors::error(
                    400,
                    &format!("The file \"{path}\" is uploaded more than once."),
                ));
            }
            asked.writes.push((path, field.value.clone()));
            continue;
        }
        let text = String::from_utf8(field.value.clone())
            .map_err(|_| errors::field_error(&field.name, "This field must be UTF-8 text."))?;
        let once = |slot: &mut Option<String>, text: String| {
            if slot.is_some() {
                let why = match field.name.as_str() {
                    "parents" => "Only a single SHA1 is accepted.",
                    _ => "This field cannot be repeated.",
                };
                return Err(errors::field_error(&field.name, why));
            }
            *slot = Some(text);
            Ok(())
        };
        match field.name.as_str() {
            "message" => once(&mut asked.message, text)?,
            "author" => once(&mut asked.author, text.trim().to_owned())?,
            "parents" => once(&mut asked.parents, text.trim().to_owned())?,
            "branch" => once(&mut asked.branch, text.trim().to_owned())?,
            _ => listed.push(repo_path(&text)?),
        }
    }
    for path in listed {
        if !asked.writes.iter().any(|(p, _)| *p == path) && !asked.deletions.contains(&path) {
            asked.deletions.push(path);
        }
    }
    if asked.branch.as_deref() == Some("") {
        return Err(errors::field_error(
            "branch",
            "This field may not be blank.",
        ));
    }
    if let Some(author) = &asked.author
        && author_email(author).is_none()
    {
        return Err(errors::field_error(
            "author",
            "The author must be of the form \"Name <email>\".",
        ));
    }
    Ok(asked)
}

/// A repository path from a field name or a `files` value: absolute from
/// the root whatever its leading `/`; 400 for one git cannot hold.
fn repo_path(name: &str) -> Result<String, Response> {
    let path = name.strip_prefix('/').unwrap_or(name);
    let bad = path.is_empty()
        || path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == ".." || part == ".git")
        || path.chars().any(char::is_control);
    if bad {
        return Err(errors::error(
            400,
            &format!("\"{name}\" is not a valid path in a repository."),
        ));
    }
    Ok(path.to_owned())
}

/// The e-mail of `Name <email>`.
fn author_email(raw: &str) -> Option<&str> {
    let (name, rest) = raw.split_once('<')?;
    let email = rest.strip_suffix('>')?;
    (!name.trim().is_empty() && email.contains('@')).then_some(email)
}

/// `World` helpers the e2e tests use to look at what a commit made.
impl World {
    /// The file `path` as of the head of `branch`, if both exist.
    pub fn file_at_branch(&self, repo: &str, branch: &str, path: &str) -> Option<Vec<u8>> {
        let head = self.branch_in(repo, branch)?;
        self.tree_at(repo, &head.target)
            .get(path)
            .map(|blob| blob.to_vec())
    }
}
