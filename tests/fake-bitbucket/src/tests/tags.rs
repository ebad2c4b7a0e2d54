//! Tags: the seeded releases, natural sort, creating and deleting.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Api, PLUGIN, SERVICE, strings, values};
use crate::Commit;
use crate::world::Resolved;

#[tokio::test]
async fn tags_list_lightweight_and_annotated_and_sort_naturally() {
    let api = Api::start().await;
    let page = api.get(&format!("{PLUGIN}/refs/tags")).await.json();
    assert_eq!(strings(&page, "name"), ["v0.1.0", "v0.2.0", "v0.9.0"]);
    let [light, annotated, _] = &values(&page)[..] else {
        panic!("three tags: {page}");
    };
    assert_eq!(light["type"], "tag");
    assert_eq!(light["target"]["message"], "Add e2e tests against the fake");
    for absent in ["message", "date", "tagger"] {
        assert_eq!(light.get(absent), Some(&Value::Null), "{absent}");
    }
    assert_eq!(annotated["target"]["message"], "Update CHANGELOG");
    assert!(
        annotated["message"]
            .as_str()
            .unwrap()
            .starts_with("Release 0.2.0")
    );
    assert_eq!(annotated["tagger"]["type"], "author");
    assert_eq!(annotated["tagger"]["raw"], "Ada Lovelace <ada@example.com>");
    assert_eq!(annotated["tagger"]["user"]["nickname"], "ada");
    // Tagged an hour after the commit.
    assert!(annotated["date"].as_str() > annotated["target"]["date"].as_str());

    // The tag's `commits` link lists history from the tagged commit.
    let hash = annotated["target"]["hash"].as_str().unwrap();
    let history = api
        .get(annotated["links"]["commits"]["href"].as_str().unwrap())
        .await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(values(&history.json())[0]["hash"], hash);

    let one = api.get(&format!("{PLUGIN}/refs/tags/v0.2.0")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json(), *annotated);
    let missing = api.get(&format!("{PLUGIN}/refs/tags/v9.9.9")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["message"], "Tag not found");

    // `git tag --list` order is lexical; `sort=name` is natural.
    let made = api
        .post(
            &format!("{PLUGIN}/refs/tags"),
            json!({ "name": "v0.10.0", "target": { "hash": hash } }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let url = format!("{PLUGIN}/refs/tags");
    assert_eq!(
        strings(&api.get(&url).await.json(), "name"),
        ["v0.1.0", "v0.10.0", "v0.2.0", "v0.9.0"]
    );
    assert_eq!(
        strings(&api.get(&format!("{url}?sort=name")).await.json(), "name"),
        ["v0.1.0", "v0.2.0", "v0.9.0", "v0.10.0"]
    );
    assert_eq!(
        strings(&api.get(&format!("{url}?sort=-name")).await.json(), "name"),
        ["v0.10.0", "v0.9.0", "v0.2.0", "v0.1.0"]
    );
    let q = "q=message%20~%20%22Release%22&sort=-target.date";
    assert_eq!(
        strings(&api.get(&format!("{url}?{q}")).await.json(), "name"),
        ["v0.9.0", "v0.2.0"]
    );
    let q = format!("q=target.hash%20%3D%20%22{hash}%22&pagelen=1");
    let page = api.get(&format!("{url}?{q}")).await.json();
    assert_eq!(page["size"], 2);
    assert_eq!(strings(&page, "name"), ["v0.10.0"]);
    assert!(page["next"].as_str().unwrap().contains("page=2"));
    let refused = api.get(&format!("{url}?q=owner%20%3D%20%22x%22")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    let anonymous = api.call(Method::GET, &url, None, None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(api.fake.violations().is_empty());
}

#[tokio::test]
async fn tags_are_created_annotated_once_and_deleted() {
    let api = Api::start().await;
    let url = format!("{SERVICE}/refs/tags");
    let head = api
        .fake
        .control()
        .branch("acme", "api-service-00", "main")
        .unwrap()
        .target
        .clone();

    let annotated = api
        .post(
            &url,
            json!({ "name": "v1.0.0", "target": { "hash": &head[..10] }, "message": "First stable release" }),
        )
        .await;
    assert_eq!(annotated.status, StatusCode::CREATED);
    let tag = annotated.json();
    assert_eq!(tag["type"], "tag");
    assert_eq!(tag["name"], "v1.0.0");
    assert_eq!(tag["target"]["hash"], head.as_str());
    assert_eq!(tag["message"], "First stable release");
    assert_eq!(tag["tagger"]["user"]["nickname"], "ada");
    assert!(tag["date"].is_string());
    assert_eq!(api.get(&format!("{url}/v1.0.0")).await.json(), tag);

    // Without a message, Bitbucket writes one: its tags are all annotated.
    let plain = api
        .post(
            &url,
            json!({ "name": "release/2026.11", "target": { "hash": head } }),
        )
        .await;
    assert_eq!(plain.status, StatusCode::CREATED);
    assert_eq!(
        plain.json()["message"],
        format!("Added tag release/2026.11 for changeset {}", &head[..12])
    );
    assert_eq!(
        api.get(&format!("{url}/release/2026.11")).await.json()["name"],
        "release/2026.11"
    );

    let refused = |body: Value| {
        let api = &api;
        let url = &url;
        async move {
            let answer = api.post(url, body).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST);
            answer.json()["error"].clone()
        }
    };
    let again = refused(json!({ "name": "v1.0.0", "target": { "hash": head } })).await;
    assert_eq!(again["message"], "Tag \"v1.0.0\" already exists.");
    for bad in ["has space", "v1..0", "x.lock", "-v1"] {
        let error = refused(json!({ "name": bad, "target": { "hash": head } })).await;
        assert!(error["fields"]["name"].is_array(), "{bad}: {error}");
    }
    let nameless = refused(json!({ "target": { "hash": head } })).await;
    assert!(nameless["fields"]["name"].is_array());
    let aimless = refused(json!({ "name": "v2" })).await;
    assert!(aimless["fields"]["target"].is_array());
    let unknown = refused(
        json!({ "name": "v2", "target": { "hash": "0123456789abcdef0123456789abcdef01234567" } }),
    )
    .await;
    assert!(unknown["fields"]["target"].is_array());
    // A second commit that shares main's first seven digits.
    {
        let mut world = api.fake.control();
        let twin = format!("{}{}", &head[..7], "0".repeat(33));
        world.commits.push(Commit {
            repo: "acme/api-service-00".into(),
            hash: twin,
            message: "Twin".into(),
            author: None,
            author_raw: "Twin <twin@example.com>".into(),
            date: 0,
            parents: Vec::new(),
            paths: Vec::new(),
            tree: Arc::default(),
        });
        assert!(matches!(
            world.resolve_hash("acme/api-service-00", &head[..7]),
            Resolved::Ambiguous
        ));
    }
    let ambiguous = refused(json!({ "name": "v2", "target": { "hash": &head[..7] } })).await;
    assert!(ambiguous["fields"]["target"].is_array());
    assert!(ambiguous["message"].as_str().unwrap().contains("ambiguous"));

    assert_eq!(
        api.delete(&format!("{url}/v1.0.0")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get(&format!("{url}/v1.0.0")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.delete(&format!("{url}/v1.0.0")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.delete(&format!("{url}/release%2F2026.11")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.fake.control().tags.len(), 6, "the seeded ones remain");

    // Tagging writes: Ada reads Umbrella's public repository, but is no member.
    let outsider = api
        .post(
            "/2.0/repositories/umbrella/public-site/refs/tags",
            json!({ "name": "v1", "target": { "hash": head } }),
        )
        .await;
    assert_eq!(outsider.status, StatusCode::FORBIDDEN);
    assert!(api.fake.violations().is_empty());
}
