//! Repositories of a workspace: `GET /repositories/{workspace}[/{repo_slug}]`,
//! and `POST`/`PUT`/`DELETE /repositories/{workspace}/{repo_slug}`.
//!
//! The cross-workspace `GET /repositories` was removed in 2026 (CHANGE-2770).

use serde::{Deserialize, Serialize};

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{Links, Named};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::reconcile::reconcile;
use crate::types::{
    CreateRepositoryRequest, DeleteRepositoryRequest, ListRepositoriesRequest, RepoRef, RepoRole,
    Repository, RepositoryPage, UpdateRepositoryRequest,
};

#[derive(Deserialize)]
pub struct ApiRepository {
    uuid: Option<String>,
    slug: Option<String>,
    name: Option<String>,
    full_name: Option<String>,
    description: Option<String>,
    is_private: Option<bool>,
    mainbranch: Option<Named>,
    language: Option<String>,
    size: Option<u64>,
    has_issues: Option<bool>,
    created_on: Option<String>,
    updated_on: Option<String>,
    project: Option<ApiProject>,
    workspace: Option<Slugged>,
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Slugged {
    slug: Option<String>,
}

#[derive(Deserialize)]
struct ApiProject {
    key: Option<String>,
}

impl ApiRepository {
    pub fn into_repository(self) -> Repository {
        let full_name = self.full_name.unwrap_or_default();
        let (owner, tail) = full_name
            .split_once('/')
            .unwrap_or(("", full_name.as_str()));
        let clone_https = self
            .links
            .as_ref()
            .and_then(|l| l.clone.as_ref())
            .and_then(|c| c.iter().find(|h| h.name.as_deref() == Some("https")))
            .and_then(|h| h.href.clone());
        Repository {
            uuid: self.uuid.unwrap_or_default(),
            slug: self.slug.unwrap_or_else(|| tail.to_owned()),
            name: self.name.unwrap_or_else(|| tail.to_owned()),
            workspace: self
                .workspace
                .and_then(|w| w.slug)
                .unwrap_or_else(|| owner.to_owned()),
            project_key: self.project.and_then(|p| p.key),
            description: self.description.unwrap_or_default(),
            is_private: self.is_private.unwrap_or(true),
            main_branch: self.mainbranch.and_then(|b| b.name),
            language: self.language.filter(|l| !l.is_empty()),
            size_bytes: self.size,
            has_issues: self.has_issues,
            created_on: self.created_on,
            updated_on: self.updated_on,
            web_url: Links::html(&self.links),
            clone_https,
            full_name,
        }
    }
}

/// What [`ApiRepository`] reads of each repository, and the page's own
/// fields: a listing's repositories come without their owner, the links it
/// does not read and the rest. A page of 100 of the fake's repositories is
/// 66 KB instead of 113 KB; live Bitbucket's carry a dozen more links each.
const LISTED_FIELDS: &str = "size,page,pagelen,next,values.uuid,values.slug,values.name,\
values.full_name,values.description,values.is_private,values.mainbranch.name,values.language,\
values.size,values.has_issues,values.created_on,values.updated_on,values.project.key,\
values.workspace.slug,values.links.html,values.links.clone";

pub fn list(
    upstream: &dyn Upstream,
    request: ListRepositoriesRequest,
) -> Result<RepositoryPage, Error> {
    let endpoint =
        Endpoint::get(ApiPath::new("repositories").param("workspace", &request.workspace)?)
            .query_opt("role", request.role.map(RepoRole::wire_name));
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        request.page.as_ref(),
        Listing::new("repositories", &["role"]).fields(LISTED_FIELDS),
        ApiRepository::into_repository,
    )?;
    Ok(RepositoryPage { items, next_cursor })
}

pub fn get(upstream: &dyn Upstream, request: RepoRef) -> Result<Repository, Error> {
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?;
    let repository: ApiRepository = upstream.json(&Endpoint::get(path))?;
    Ok(repository.into_repository())
}

#[derive(Serialize)]
struct Key<'a> {
    key: &'a str,
}

/// The fields a create or an update sends; absent ones are left out.
#[derive(Serialize, Default)]
struct RepositoryBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    scm: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_private: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<Key<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_issues: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_wiki: Option<bool>,
}

/// A slug as Bitbucket makes them: it refuses others, or silently rewrites
/// them, and a rewritten slug would not be where the caller looks.
fn check_slug(slug: &str) -> Result<(), Error> {
    let fits = !slug.is_empty()
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        && !slug.starts_with('.');
    if fits {
        Ok(())
    } else {
        Err(Error::validation(
            "repo_slug",
            "use lowercase letters, digits, '-', '_' and '.'",
        ))
    }
}

pub fn create(
    upstream: &dyn Upstream,
    request: CreateRepositoryRequest,
) -> Result<Repository, Error> {
    check_slug(&request.repo_slug)?;
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?;
    let body = RepositoryBody {
        scm: Some("git"),
        name: request.name.as_deref(),
        description: request.description.as_deref(),
        is_private: Some(request.is_private),
        project: request.project_key.as_deref().map(|key| Key { key }),
        language: request.language.as_deref(),
        has_issues: request.has_issues,
        has_wiki: request.has_wiki,
    };
    let created = upstream
        .json::<ApiRepository>(&Endpoint::post(path).json(&body)?)
        .map(ApiRepository::into_repository);
    // A slug is unique in its workspace and Bitbucket refuses to create one
    // that exists: the repository read back is this call's.
    reconcile(created, || {
        let reference = RepoRef {
            workspace: request.workspace.clone(),
            repo_slug: request.repo_slug.clone(),
        };
        match get(upstream, reference) {
            Ok(found) => Ok(Some(found)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    })
}

pub fn update(
    upstream: &dyn Upstream,
    request: UpdateRepositoryRequest,
) -> Result<Repository, Error> {
    let body = RepositoryBody {
        name: request.name.as_deref(),
        description: request.description.as_deref(),
        is_private: request.is_private,
        project: request.project_key.as_deref().map(|key| Key { key }),
        language: request.language.as_deref(),
        has_issues: request.has_issues,
        has_wiki: request.has_wiki,
        ..RepositoryBody::default()
    };
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?;
    let updated: ApiRepository = upstream.json(&Endpoint::put(path).json(&body)?)?;
    Ok(updated.into_repository())
}

pub fn delete(upstream: &dyn Upstream, request: DeleteRepositoryRequest) -> Result<RepoRef, Error> {
    let full_name = format!("{}/{}", request.workspace.trim(), request.repo_slug.trim());
    if request.confirm_full_name.trim() != full_name {
        return Err(Error::validation(
            "confirm_full_name",
            format!(
                "must repeat the repository's full name, {}, to delete it",
                crate::quote::quote(&full_name)
            ),
        ));
    }
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?;
    upstream.send(&Endpoint::delete(path))?;
    Ok(RepoRef {
        workspace: request.workspace,
        repo_slug: request.repo_slug,
    })
}
