//! Repository settings, read only: the plugin's seeded branch restrictions,
//! default reviewers, downloads and permissions, and empty lists elsewhere.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::{Answer, Api, PLUGIN, SERVICE, strings, values};
use crate::GRACE_TOKEN;

impl Api {
    /// The seeded user's uuid, by nickname.
    fn uuid(&self, nickname: &str) -> String {
        self.fake
            .control()
            .user_named(nickname)
            .unwrap()
            .uuid
            .clone()
    }

    async fn get_as_grace(&self, path: &str) -> Answer {
        self.call(Method::GET, path, Some(GRACE_TOKEN), None, &[])
            .await
    }

    /// The page at `PLUGIN{tail}`, answered 200.
    async fn page(&self, tail: &str) -> Value {
        let answer = self.get(&format!("{PLUGIN}{tail}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{tail}");
        answer.json()
    }
}

#[tokio::test]
async fn branch_restrictions_list_filter_and_get() {
    let api = Api::start().await;
    let page = api.page("/branch-restrictions").await;
    assert_eq!(page["size"], 2);
    assert_eq!(
        strings(&page, "kind"),
        ["push", "require_approvals_to_merge"]
    );
    let [push, approvals] = &values(&page)[..] else {
        panic!("two restrictions: {page}");
    };
    assert_eq!(push["type"], "branchrestriction");
    assert_eq!(push["id"], 7_401);
    assert_eq!(push["pattern"], "main");
    assert_eq!(push["branch_match_kind"], "glob");
    assert_eq!(push["users"][0]["uuid"], api.uuid("ada"));
    assert!(push.get("value").is_none());
    assert_eq!(approvals["id"], 7_402);
    assert_eq!(approvals["value"], 1);

    let filtered = api
        .page("/branch-restrictions?kind=require_approvals_to_merge&pattern=main")
        .await;
    assert_eq!(values(&filtered), std::slice::from_ref(approvals));
    let none = api.page("/branch-restrictions?pattern=release/*").await;
    assert_eq!(none["size"], 0);

    let one = api.page("/branch-restrictions/7401").await;
    assert_eq!(one, *push);
    let fetched = api
        .get(push["links"]["self"]["href"].as_str().unwrap())
        .await;
    assert_eq!(fetched.json(), *push);
    for missing in ["9999", "main"] {
        let answer = api
            .get(&format!("{PLUGIN}/branch-restrictions/{missing}"))
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{missing}");
    }
    // Another repository (whose workspace Grace administers) has none, and
    // not the plugin's either.
    let service = api
        .get_as_grace(&format!("{SERVICE}/branch-restrictions"))
        .await;
    assert_eq!(service.json()["size"], 0);
    let elsewhere = api
        .get_as_grace(&format!("{SERVICE}/branch-restrictions/7401"))
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    assert!(api.fake.violations().is_empty());
}

#[tokio::test]
async fn effective_default_reviewers_add_the_projects_to_the_repositorys() {
    let api = Api::start().await;
    let own = api.page("/default-reviewers").await;
    assert_eq!(strings(&own, "display_name"), ["Grace Hopper"]);
    assert_eq!(values(&own)[0]["uuid"], api.uuid("grace"));

    let effective = api.page("/effective-default-reviewers").await;
    assert_eq!(
        strings(&effective, "reviewer_type"),
        ["repository", "project"]
    );
    assert_eq!(
        strings(&effective, "user.display_name"),
        ["Grace Hopper", "Ada Lovelace"]
    );
    assert_eq!(values(&effective)[0]["type"], "default_reviewer_and_type");

    // The service's project has no default reviewers either.
    for tail in ["/default-reviewers", "/effective-default-reviewers"] {
        let answer = api.get(&format!("{SERVICE}{tail}")).await;
        assert_eq!(answer.json()["size"], 0, "{tail}");
    }
    assert!(api.fake.violations().is_empty());
}

#[tokio::test]
async fn downloads_list_the_seeded_artifacts() {
    let api = Api::start().await;
    let page = api.page("/downloads").await;
    assert_eq!(
        strings(&page, "name"),
        [
            "bitbucket-plugin-0.9.0-x86_64-linux.tar.gz",
            "bitbucket-plugin-0.9.0.sbom.json"
        ]
    );
    let [archive, sbom] = &values(&page)[..] else {
        panic!("two downloads: {page}");
    };
    assert_eq!(archive["size"], 4_812_733);
    assert_eq!(archive["downloads"], 37);
    assert_eq!(archive["user"]["nickname"], "ada");
    assert_eq!(sbom["size"], 18_244);
    assert_eq!(sbom["user"]["nickname"], "grace");
    assert!(archive["created_on"].as_str() < sbom["created_on"].as_str());
    assert!(
        archive["links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/downloads/bitbucket-plugin-0.9.0-x86_64-linux.tar.gz")
    );
    let service = api.get(&format!("{SERVICE}/downloads")).await;
    assert_eq!(service.json()["size"], 0);
    assert!(api.fake.violations().is_empty());
}

#[tokio::test]
async fn permissions_list_explicit_grants_to_admins_only() {
    let api = Api::start().await;
    let users = api.page("/permissions-config/users").await;
    assert_eq!(
        strings(&users, "user.display_name"),
        ["Ada Lovelace", "Grace Hopper"]
    );
    assert_eq!(strings(&users, "permission"), ["admin", "write"]);
    assert_eq!(values(&users)[0]["type"], "repository_user_permission");
    assert_eq!(
        values(&users)[0]["repository"]["full_name"],
        "atom-labs/bitbucket-plugin"
    );
    let groups = api.page("/permissions-config/groups").await;
    let [developers] = &values(&groups)[..] else {
        panic!("one group: {groups}");
    };
    assert_eq!(developers["type"], "repository_group_permission");
    assert_eq!(developers["permission"], "write");
    assert_eq!(developers["group"]["slug"], "developers");
    assert_eq!(developers["group"]["full_slug"], "atom-labs:developers");

    // Grace writes to the repository but administers neither it nor its workspace.
    for tail in [
        "/permissions-config/users",
        "/permissions-config/groups",
        "/branch-restrictions",
        "/branch-restrictions/7401",
    ] {
        let refused = api.get_as_grace(&format!("{PLUGIN}{tail}")).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{tail}");
    }
    // Reviewers and downloads answer anyone who reads the repository.
    let read = api.get_as_grace(&format!("{PLUGIN}/downloads")).await;
    assert_eq!(read.status, StatusCode::OK);
    // Ada is a member of the service's workspace, not its admin.
    let outside = api
        .get(&format!("{SERVICE}/permissions-config/users"))
        .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);
    let service = api
        .get_as_grace(&format!("{SERVICE}/permissions-config/users"))
        .await;
    assert_eq!(service.json()["size"], 0);
    assert!(api.fake.violations().is_empty());
}
