//! The fake's state: accounts, workspaces, repositories, credentials, and the
//! knobs tests turn (faults, delays) and read (the request log).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct User {
    pub uuid: String,
    pub account_id: String,
    pub display_name: String,
    pub nickname: String,
    pub email: String,
    pub created_on: String,
}

#[derive(Clone, Debug)]
pub struct Membership {
    pub user_uuid: String,
    pub administrator: bool,
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub uuid: String,
    pub slug: String,
    pub name: String,
    pub is_private: bool,
    pub created_on: String,
    pub members: Vec<Membership>,
}

#[derive(Clone, Debug)]
pub struct Repository {
    pub uuid: String,
    pub workspace: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub is_private: bool,
    pub language: String,
    pub size: u64,
    pub has_issues: bool,
    pub created_on: String,
    pub updated_on: String,
    pub project_key: String,
    pub project_name: String,
    pub main_branch: String,
}

/// An answer injected ahead of the normal one.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and body instead.
    Status {
        status: u16,
        content_type: &'static str,
        body: String,
        retry_after: Option<u32>,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
}

impl Fault {
    /// Bitbucket's 429: text/plain, no JSON.
    pub fn rate_limited(retry_after: Option<u32>) -> Self {
        Fault::Status {
            status: 429,
            content_type: "text/plain",
            body: "Rate limit for this resource has been exceeded".into(),
            retry_after,
        }
    }

    pub fn unavailable() -> Self {
        Fault::Status {
            status: 503,
            content_type: "application/json",
            body: r#"{"type":"error","error":{"message":"Service Unavailable"}}"#.into(),
            retry_after: None,
        }
    }
}

/// What a test can assert about a request the fake received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// `Bearer` or `Basic`, never the credential itself.
    pub auth_scheme: Option<String>,
}

impl RecordedRequest {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub struct World {
    /// `http://127.0.0.1:PORT`, set when the server starts; links are built on it.
    pub base_url: String,
    pub users: Vec<User>,
    pub workspaces: Vec<Workspace>,
    pub repositories: Vec<Repository>,
    /// Bearer token → user uuid.
    pub bearer_tokens: HashMap<String, String>,
    /// (account e-mail, API token) → user uuid.
    pub api_tokens: HashMap<(String, String), String>,
    /// Answers to give before normal service resumes, oldest first.
    pub faults: VecDeque<Fault>,
    /// Pads `GET /user`'s display name to this many bytes (huge answers).
    pub pad_user_display_name: Option<usize>,
    pub requests: Vec<RecordedRequest>,
}

impl World {
    pub fn inject(&mut self, fault: Fault) {
        self.faults.push_back(fault);
    }

    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub fn user(&self, uuid: &str) -> Option<&User> {
        self.users.iter().find(|u| u.uuid == uuid)
    }

    /// By slug or `{uuid}`.
    pub fn workspace(&self, id: &str) -> Option<&Workspace> {
        self.workspaces
            .iter()
            .find(|w| w.slug == id || w.uuid == id)
    }

    /// By workspace (slug or uuid) and repository slug or `{uuid}`.
    pub fn repository(&self, workspace: &Workspace, id: &str) -> Option<&Repository> {
        self.repositories
            .iter()
            .find(|r| r.workspace == workspace.slug && (r.slug == id || r.uuid == id))
    }

    pub fn is_member(&self, workspace: &Workspace, user_uuid: &str) -> bool {
        workspace.members.iter().any(|m| m.user_uuid == user_uuid)
    }

    pub fn can_read(&self, repository: &Repository, user_uuid: &str) -> bool {
        !repository.is_private
            || self
                .workspace(&repository.workspace)
                .is_some_and(|w| self.is_member(w, user_uuid))
    }
}
