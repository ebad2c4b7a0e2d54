//! Listings through the sandbox: pages, cursors, filters and sorting reach
//! Bitbucket as Bitbucket expects them.

use std::collections::HashSet;
use std::time::Duration;

use atom_runtime::host_types::{ApiToken, CredentialSecret};

use atom_test_support::{env, env_with, slugs};
use fake_bitbucket::{ADA_API_TOKEN, ADA_EMAIL, FaultKind, FaultPlan, FaultRule};
use serde_json::{Value, json};

async fn every_repository(
    env: &atom_test_support::Env,
    workspace: &str,
    size: u32,
) -> (Vec<String>, usize) {
    let (mut all, mut cursor, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let page = env
            .exec(
                "list-repositories",
                json!({ "workspace": workspace, "page": { "size": size, "cursor": cursor } }),
            )
            .await
            .expect("a page lists");
        pages += 1;
        all.extend(slugs(&page));
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            return (all, pages);
        }
        assert!(pages < 50, "the cursor never ran out");
    }
}

/// Every repository slug the fake holds in workspace `acme`.
fn acme_slugs(env: &atom_test_support::Env) -> HashSet<String> {
    env.fake
        .control()
        .repositories
        .iter()
        .filter(|r| r.workspace == "acme")
        .map(|r| r.slug.clone())
        .collect()
}

#[tokio::test]
async fn a_listing_spanning_pages_returns_every_repository_exactly_once() {
    let env = env().await;
    let expected = acme_slugs(&env);
    assert!(expected.len() > 250, "the seed spans pages");

    for size in [100, 37] {
        let (all, pages) = every_repository(&env, "acme", size).await;
        let distinct: HashSet<String> = all.iter().cloned().collect();
        assert_eq!(
            all.len(),
            distinct.len(),
            "no repository twice (page size {size})"
        );
        assert_eq!(
            distinct, expected,
            "every repository once (page size {size})"
        );
        assert_eq!(pages, expected.len().div_ceil(size as usize));
    }
    // Bitbucket's `next` was followed, never guessed: pages 2.. carry its pagelen.
    let requests = env.fake.control().requests_to("/2.0/repositories/acme");
    assert!(requests.iter().all(|r| r.param("pagelen").is_some()));
    assert!(requests.iter().any(|r| r.param("page") == Some("3")));
}

#[tokio::test]
async fn several_pages_in_one_call_go_out_a_few_at_a_time_and_resume_by_cursor() {
    let env = env().await;
    let expected = acme_slugs(&env);
    // Answers held long enough that pages fetched together overlap.
    env.fake.set_faults(FaultPlan::new(1).rule(FaultRule::route(
        "GET",
        "/2.0/repositories/acme",
        1.0,
        FaultKind::Stall(Duration::from_millis(150)),
    )));
    let before = env
        .fake
        .control()
        .requests_to("/2.0/repositories/acme")
        .len();
    env.fake.reset_most_in_flight();

    let first = env
        .exec(
            "list-repositories",
            json!({ "workspace": "acme", "page": { "size": 37, "pages": 5 } }),
        )
        .await
        .expect("five pages list");
    assert_eq!(slugs(&first).len(), 5 * 37, "five pages, not more");
    let rest = env
        .exec(
            "list-repositories",
            json!({ "workspace": "acme", "page": { "cursor": first["next_cursor"], "pages": 20 } }),
        )
        .await
        .expect("the rest lists");
    assert!(rest["next_cursor"].is_null(), "the listing ends: {rest}");
    let all: Vec<String> = slugs(&first).into_iter().chain(slugs(&rest)).collect();
    let distinct: HashSet<String> = all.iter().cloned().collect();
    assert_eq!((all.len(), distinct), (expected.len(), expected));

    // Eight pages of 37, each asked for once, and never more than four at once.
    let mut pages: Vec<u32> = env.fake.control().requests_to("/2.0/repositories/acme")[before..]
        .iter()
        .map(|r| r.param("page").map_or(1, |p| p.parse().unwrap()))
        .collect();
    pages.sort_unstable();
    assert_eq!(pages, (1..=8).collect::<Vec<_>>());
    let most = env.fake.most_in_flight();
    assert!((2..=4).contains(&most), "{most} requests in flight at once");
}

#[tokio::test]
async fn pages_that_fail_midway_lose_nothing_and_repeat_nothing() {
    let env = env().await;
    // No retries: every injected 5xx reaches the listing.
    let tenant =
        atom_test_support::tenant_for(&env.fake, "one-attempt").with_config("max-attempts", "1");
    tenant
        .set_credential(CredentialSecret::AccessToken(
            fake_bitbucket::ADA_TOKEN.into(),
        ))
        .unwrap();
    let expected = acme_slugs(&env);
    env.fake
        .set_faults(FaultPlan::new(23).rule(FaultRule::route(
            "GET",
            "/2.0/repositories/acme",
            0.25,
            FaultKind::ServerError,
        )));
    let (mut all, mut cursor, mut failed, mut cut_short) = (Vec::new(), Value::Null, 0, 0);
    for _ in 0..200 {
        let answer = atom_test_support::exec_in(
            atom_test_support::sandbox(),
            &tenant,
            "list-repositories",
            json!({ "workspace": "acme", "page": { "size": 20, "pages": 20, "cursor": cursor } }),
        )
        .await;
        let Ok(page) = answer else {
            failed += 1; // the first page of the call: the same cursor again
            continue;
        };
        let listed = slugs(&page);
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            all.extend(listed);
            break;
        }
        cut_short += usize::from(listed.len() < 20 * 20);
        all.extend(listed);
    }
    assert!(cursor.is_null(), "the listing ran out of attempts");
    let distinct: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(all.len(), distinct.len(), "a repository twice");
    assert_eq!(distinct, expected, "a repository lost");
    assert!(
        failed > 0 && cut_short > 0,
        "faults hit: {failed} failed calls, {cut_short} cut short"
    );
}

#[tokio::test]
async fn filter_and_sort_reach_bitbucket_and_shape_the_answer() {
    let env = env().await;
    let q = r#"name ~ "api" AND language = "rust""#;
    let page = env
        .exec(
            "list-repositories",
            json!({ "workspace": "acme", "page": { "q": q, "sort": "-updated_on", "size": 50 } }),
        )
        .await
        .expect("filtered listing");

    let request = env
        .fake
        .control()
        .requests_to("/2.0/repositories/acme")
        .pop()
        .expect("one request");
    assert_eq!(request.param("q"), Some(q));
    assert_eq!(request.param("sort"), Some("-updated_on"));
    assert_eq!(request.param("pagelen"), Some("50"));

    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|r| r["slug"].as_str().unwrap().contains("api") && r["language"] == "rust")
    );
    let updated: Vec<&str> = items
        .iter()
        .map(|r| r["updated_on"].as_str().unwrap())
        .collect();
    let mut newest_first = updated.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(updated, newest_first);

    // The filter travels with the cursor: page two is still filtered.
    let page = env
        .exec(
            "list-repositories",
            json!({ "workspace": "acme", "page": { "q": "name ~ \"service\"", "size": 10 } }),
        )
        .await
        .unwrap();
    let next = env
        .exec(
            "list-repositories",
            json!({ "workspace": "acme", "page": { "cursor": page["next_cursor"] } }),
        )
        .await
        .unwrap();
    assert!(slugs(&next).iter().all(|s| s.contains("service")));
    assert!(slugs(&next).iter().all(|s| !slugs(&page).contains(s)));
}

#[tokio::test]
async fn workspaces_come_from_the_user_endpoint_unwrapped() {
    let env = env().await;
    let page = env
        .exec("list-workspaces", json!({}))
        .await
        .expect("workspaces list");
    let slugs: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["acme", "ada", "atom-labs"],
        "Ada's workspaces, not Umbrella's"
    );
    let acme = &page["items"][0];
    assert_eq!(acme["name"], "Acme Corporation");
    assert_eq!(acme["administrator"], false);
    assert!(acme["uuid"].as_str().unwrap().starts_with('{'));

    let admin_only = env
        .exec("list-workspaces", json!({ "administrator": true }))
        .await
        .unwrap();
    assert_eq!(admin_only["items"].as_array().unwrap().len(), 2);

    let control = env.fake.control();
    assert!(
        control.requests_to("/2.0/workspaces").is_empty(),
        "the removed endpoint is never called"
    );
    assert_eq!(control.requests_to("/2.0/user/workspaces").len(), 2);
}

#[tokio::test]
async fn a_repository_by_uuid_and_with_an_api_token() {
    let env = env_with(CredentialSecret::ApiToken(ApiToken {
        email: ADA_EMAIL.to_owned(),
        token: ADA_API_TOKEN.to_owned(),
    }))
    .await;
    let (workspace_uuid, repo_uuid) = {
        let control = env.fake.control();
        let ws = control.workspace("atom-labs").unwrap().uuid.clone();
        let repo = control
            .repositories
            .iter()
            .find(|r| r.slug == "bitbucket-plugin")
            .unwrap()
            .uuid
            .clone();
        (ws, repo)
    };
    let repo = env
        .exec(
            "get-repository",
            json!({ "workspace": workspace_uuid, "repo_slug": repo_uuid }),
        )
        .await
        .expect("braces survive the trip");
    assert_eq!(repo["full_name"], "atom-labs/bitbucket-plugin");
    assert_eq!(repo["main_branch"], "main");
    assert_eq!(repo["project_key"], "ATOM");
    assert_eq!(repo["is_private"], true);
    assert!(
        repo["clone_https"]
            .as_str()
            .unwrap()
            .ends_with("/atom-labs/bitbucket-plugin.git")
    );

    let request = env.fake.control().requests.last().cloned().unwrap();
    assert_eq!(
        request.auth_scheme.as_deref(),
        Some("Basic"),
        "API tokens go as Basic with the e-mail"
    );
    let encoded = |uuid: &str| uuid.replace('{', "%7B").replace('}', "%7D");
    assert_eq!(
        request.path,
        format!(
            "/2.0/repositories/{}/{}",
            encoded(&workspace_uuid),
            encoded(&repo_uuid)
        )
    );
}

/// A listing asks Bitbucket for the fields it reads only (a partial
/// response), and loses none the contract returns: each listed repository
/// is the one `get-repository` answers from the whole object.
#[tokio::test]
async fn a_listing_asks_only_for_what_it_reads_and_loses_nothing() {
    let env = env().await;
    let page = env
        .exec(
            "list-repositories",
            json!({ "workspace": "atom-labs", "page": { "size": 6 } }),
        )
        .await
        .expect("a page");
    let request = env.fake.control().requests.last().cloned().unwrap();
    let fields = request
        .query
        .iter()
        .find(|(key, _)| key == "fields")
        .map(|(_, value)| value.clone())
        .expect("the listing sends fields");
    assert!(fields.contains("values.links.clone"), "{fields}");
    assert!(!fields.contains("owner"), "{fields}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "{page}");
    for listed in items {
        let whole = env
            .exec(
                "get-repository",
                json!({ "workspace": "atom-labs", "repo_slug": listed["slug"] }),
            )
            .await
            .expect("the repository");
        assert_eq!(listed, &whole);
    }
    assert!(env.fake.violations().is_empty());
}
