//! Upstream JSON shapes shared by several areas.

use serde::Deserialize;

use crate::types::{Account, AccountRef, Commit};

#[derive(Deserialize, Default)]
pub struct Href {
    pub href: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct Links {
    pub html: Option<Href>,
    pub avatar: Option<Href>,
    pub clone: Option<Vec<Href>>,
}

impl Links {
    pub fn html(links: &Option<Links>) -> Option<String> {
        links.as_ref()?.html.as_ref()?.href.clone()
    }
}

/// `account` / `user` / `team`: who did something.
#[derive(Deserialize)]
pub struct ApiAccount {
    pub uuid: Option<String>,
    pub account_id: Option<String>,
    pub display_name: Option<String>,
    pub nickname: Option<String>,
    pub account_status: Option<String>,
    pub created_on: Option<String>,
    pub links: Option<Links>,
}

impl ApiAccount {
    /// Who did something, when Bitbucket did not say.
    pub fn unknown() -> AccountRef {
        AccountRef {
            uuid: None,
            account_id: None,
            display_name: String::new(),
            nickname: None,
        }
    }

    pub fn into_ref(self) -> AccountRef {
        AccountRef {
            display_name: self
                .display_name
                .or_else(|| self.nickname.clone())
                .unwrap_or_default(),
            uuid: self.uuid,
            account_id: self.account_id,
            nickname: self.nickname,
        }
    }

    pub fn into_account(self) -> Account {
        let avatar_url = self
            .links
            .as_ref()
            .and_then(|l| l.avatar.as_ref()?.href.clone());
        Account {
            web_url: Links::html(&self.links),
            avatar_url,
            uuid: self.uuid.unwrap_or_default(),
            account_id: self.account_id,
            display_name: self.display_name.unwrap_or_default(),
            nickname: self.nickname,
            account_status: self.account_status,
            created_on: self.created_on,
        }
    }
}

/// `{"hash": …}` and friends: anything that only needs its hash.
#[derive(Deserialize)]
pub struct Hashed {
    pub hash: Option<String>,
}

/// `{"name": …}`: branches inside other objects.
#[derive(Deserialize)]
pub struct Named {
    pub name: Option<String>,
}

/// `{"full_name": …}`: repositories inside other objects.
#[derive(Deserialize)]
pub struct RepositoryName {
    pub full_name: Option<String>,
}

/// `{"raw": …}`: rendered text fields (`content`, `summary`, `message`).
#[derive(Deserialize)]
pub struct Text {
    pub raw: Option<String>,
}

/// The `commit` definition.
#[derive(Deserialize, Default)]
pub struct ApiCommit {
    pub hash: Option<String>,
    pub date: Option<String>,
    pub message: Option<String>,
    pub author: Option<ApiAuthor>,
    #[serde(default)]
    pub parents: Vec<Hashed>,
    pub links: Option<Links>,
}

#[derive(Deserialize)]
pub struct ApiAuthor {
    pub raw: Option<String>,
    pub user: Option<ApiAccount>,
}

impl ApiCommit {
    pub fn into_commit(self) -> Commit {
        let (author_raw, author) = match self.author {
            Some(author) => (author.raw, author.user.map(ApiAccount::into_ref)),
            None => (None, None),
        };
        Commit {
            hash: self.hash.unwrap_or_default(),
            date: self.date,
            message: self.message.unwrap_or_default(),
            author_raw,
            author,
            parents: self.parents.into_iter().filter_map(|p| p.hash).collect(),
            web_url: Links::html(&self.links),
        }
    }
}

pub fn account_refs(accounts: Vec<ApiAccount>) -> Vec<AccountRef> {
    accounts.into_iter().map(ApiAccount::into_ref).collect()
}

/// An optional text parameter: absent is fine, given but empty is refused.
pub fn optional<'a>(
    field: &str,
    value: Option<&'a str>,
) -> Result<Option<&'a str>, crate::error::Error> {
    value.map(|v| required(field, v)).transpose()
}

/// Refuses an empty required text parameter, naming it.
pub fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, crate::error::Error> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err(crate::error::Error::validation(field, "must not be empty"))
    } else {
        Ok(trimmed)
    }
}
