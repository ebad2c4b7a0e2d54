//! Projects: listed and got per workspace, seen by members and, when
//! public, by everyone, and the very ones repositories say they are in.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};

use super::{Api, strings, values};
use crate::render::encode_braces;
use crate::{GRACE_TOKEN, Project};

#[tokio::test]
async fn projects_list_and_get() {
    let api = Api::start().await;
    let page = api.get("/2.0/workspaces/acme/projects").await.json();
    assert_eq!(strings(&page, "key"), ["PLAT", "PAY", "WEB"]);
    assert_eq!(strings(&page, "name"), ["Platform", "Payments", "Web"]);
    let plat = &values(&page)[0];
    assert_eq!(plat["type"], "project");
    assert_eq!(plat["is_private"], false);
    assert_eq!(plat["has_publicly_visible_repos"], true);
    assert_eq!(plat["owner"]["username"], "acme");
    assert_eq!(values(&page)[1]["is_private"], true);

    let one = api.get("/2.0/workspaces/acme/projects/PLAT").await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json(), *plat);
    let acme = api.fake.control().workspace("acme").unwrap().uuid.clone();
    let by_uuid = format!("/2.0/workspaces/{}/projects/PAY", encode_braces(&acme));
    assert_eq!(api.get(&by_uuid).await.json()["key"], "PAY");

    let missing = api.get("/2.0/workspaces/acme/projects/NOPE").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["message"], "Project not found");
    let nowhere = api.get("/2.0/workspaces/nope/projects").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    let paged = api
        .get("/2.0/workspaces/acme/projects?pagelen=2&page=2")
        .await
        .json();
    assert_eq!(strings(&paged, "key"), ["WEB"]);
    assert_eq!(paged["size"], 3);
    // The spec gives the listing no `q`: a caller's filter is its violation.
    api.get("/2.0/workspaces/acme/projects?q=key%3D%22PLAT%22")
        .await;
    let found = api.fake.take_violations();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].at, "query parameter q");
    let anonymous = api
        .call(
            Method::GET,
            "/2.0/workspaces/acme/projects",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(api.fake.violations().is_empty());
}

/// As with repositories, an outsider sees a workspace's public projects.
#[tokio::test]
async fn outsiders_see_public_projects_only() {
    let api = Api::start().await;
    {
        let mut world = api.fake.control();
        let lab = Project {
            uuid: "{0b5c0e4e-0000-4000-8000-0000000000ab}".into(),
            workspace: "umbrella".into(),
            key: "LAB".into(),
            name: "Laboratory".into(),
            description: "Not for visitors".into(),
            is_private: true,
            created_on: "2024-02-01T00:00:00.000000+00:00".into(),
            updated_on: "2024-02-01T00:00:00.000000+00:00".into(),
        };
        world.projects.push(lab);
    }
    // Ada belongs to acme and atom-labs, not to Umbrella.
    let outside = api.get("/2.0/workspaces/umbrella/projects").await.json();
    assert_eq!(strings(&outside, "key"), ["PER"]);
    assert_eq!(
        api.get("/2.0/workspaces/umbrella/projects/LAB")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/2.0/workspaces/umbrella/projects/PER")
            .await
            .status,
        StatusCode::OK
    );
    // Grace is no member of Ada's personal workspace; its project is public.
    let personal = api
        .call(
            Method::GET,
            "/2.0/workspaces/ada/projects",
            Some(GRACE_TOKEN),
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(strings(&personal, "key"), ["PER"]);
    assert!(api.fake.violations().is_empty());
}

/// Every repository's `project` is one its workspace lists, with the same
/// uuid and name.
#[tokio::test]
async fn every_repository_names_a_listed_project() {
    let api = Api::start().await;
    {
        let world = api.fake.control();
        for r in &world.repositories {
            assert!(world.project_of(r).is_some(), "{}", r.full_name());
        }
    }
    let slugs: Vec<String> = api
        .fake
        .control()
        .workspaces
        .iter()
        .map(|w| w.slug.clone())
        .collect();
    for slug in slugs {
        let listed: BTreeMap<String, serde_json::Value> = values(
            &api.get(&format!("/2.0/workspaces/{slug}/projects"))
                .await
                .json(),
        )
        .into_iter()
        .map(|p| (p["key"].as_str().unwrap().to_owned(), p))
        .collect();
        let mut url = format!("/2.0/repositories/{slug}?pagelen=100");
        let mut seen = 0;
        loop {
            let page = api.get(&url).await.json();
            for repository in values(&page) {
                let project = &repository["project"];
                let key = project["key"].as_str().unwrap();
                let own = listed
                    .get(key)
                    .unwrap_or_else(|| panic!("{slug}: {key} is not listed"));
                assert_eq!(project["uuid"], own["uuid"], "{slug}/{key}");
                assert_eq!(project["name"], own["name"], "{slug}/{key}");
                seen += 1;
            }
            match page["next"].as_str() {
                Some(next) => url = next.to_owned(),
                None => break,
            }
        }
        assert!(seen > 0, "{slug} lists repositories");
    }
    assert!(api.fake.violations().is_empty());
}

/// The spec's `security` asks OAuth tokens for `project`, which
/// `project:admin` covers.
#[tokio::test]
async fn projects_need_the_project_scope() {
    let api = Api::start().await;
    {
        let mut world = api.fake.control();
        let ada = world.user_named("ada").unwrap().uuid.clone();
        for (token, scope) in [
            ("oauth-project-admin", "project:admin"),
            ("oauth-repository", "repository"),
        ] {
            world.bearer_tokens.insert(token.into(), ada.clone());
            world
                .oauth
                .access_scopes
                .insert(token.into(), vec![scope.to_owned()]);
        }
    }
    for path in [
        "/2.0/workspaces/acme/projects",
        "/2.0/workspaces/acme/projects/PLAT",
    ] {
        let granted = api
            .call(Method::GET, path, Some("oauth-project-admin"), None, &[])
            .await;
        assert_eq!(granted.status, StatusCode::OK, "{path}");
        let refused = api
            .call(Method::GET, path, Some("oauth-repository"), None, &[])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            refused.json()["error"]["detail"]["required"],
            serde_json::json!(["project"])
        );
    }
    assert!(api.fake.violations().is_empty());
}
