//! Upstream JSON shapes shared by several areas.

use serde::Deserialize;

use crate::types::{Account, AccountRef};

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
    #[expect(
        dead_code,
        reason = "used by the areas that embed accounts (pull requests, pipelines)"
    )]
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
