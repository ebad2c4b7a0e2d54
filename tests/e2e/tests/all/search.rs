//! Code search through the sandbox: hits with their lines and marked
//! matches, `repo:` and `ext:` modifiers, paging that returns every hit once
//! even when Bitbucket repeats one across pages, and search being off.

use std::collections::BTreeSet;

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_test_support::{Env, env};
use serde_json::{Value, json};

const SEARCH_PATH: &str = "/2.0/workspaces/atom-labs/search/code";

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("a page has items")
}

/// `(repository, path)` of every hit.
fn hits(page: &Value) -> Vec<(String, String)> {
    items(page)
        .iter()
        .map(|h| {
            (
                h["repository"].as_str().unwrap_or_default().to_owned(),
                h["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `(repository, path)` of the fake's atom-labs files whose content or path
/// holds `term` (case-insensitive) and pass `keep`.
fn expected(
    env: &Env,
    term: &str,
    keep: impl Fn(&str, &str) -> bool,
) -> BTreeSet<(String, String)> {
    let term = term.to_lowercase();
    env.fake
        .control()
        .files
        .iter()
        .filter(|f| f.repo.starts_with("atom-labs/"))
        .filter(|f| {
            f.content.to_lowercase().contains(&term) || f.path.to_lowercase().contains(&term)
        })
        .filter(|f| keep(&f.repo, &f.path))
        .map(|f| (f.repo.clone(), f.path.clone()))
        .collect()
}

async fn search(env: &Env, query: &str, page: Value) -> Result<Value, Failure> {
    env.exec(
        "search-code",
        json!({ "workspace": "atom-labs", "query": query, "page": page }),
    )
    .await
}

#[tokio::test]
async fn hits_carry_path_repository_commit_and_marked_lines() {
    let env = env().await;
    let page = search(&env, "verify_signature", json!({ "size": 50 }))
        .await
        .unwrap();
    let found: BTreeSet<_> = hits(&page).into_iter().collect();
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(found, expected(&env, "verify_signature", |_, _| true));
    assert!(found.contains(&(
        "atom-labs/bitbucket-plugin".to_owned(),
        "src/webhooks.rs".to_owned()
    )));
    assert!(page["next_cursor"].is_null(), "one page holds all four");
    let sent = env.fake.control().requests_to(SEARCH_PATH);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("search_query"), Some("verify_signature"));

    let main_head = env
        .fake
        .control()
        .branch("atom-labs", "bitbucket-plugin", "main")
        .unwrap()
        .target
        .clone();
    let hit = items(&page)
        .iter()
        .find(|h| h["repository"] == "atom-labs/bitbucket-plugin" && h["path"] == "src/webhooks.rs")
        .unwrap();
    assert_eq!(hit["commit"], main_head.as_str(), "the commit searched");
    let file = env
        .fake
        .control()
        .files
        .iter()
        .find(|f| f.repo == "atom-labs/bitbucket-plugin" && f.path == "src/webhooks.rs")
        .cloned()
        .unwrap();
    assert_eq!(
        hit["match_count"].as_u64().unwrap() as usize,
        file.content.matches("verify_signature").count()
    );
    assert!(hit["match_count"].as_u64().unwrap() >= 1);

    let lines = hit["lines"].as_array().unwrap();
    assert!(!lines.is_empty());
    let source: Vec<&str> = file.content.lines().collect();
    let mut marked = 0;
    for line in lines {
        let number = line["line"].as_u64().unwrap() as usize;
        let segments = line["segments"].as_array().unwrap();
        let text: String = segments
            .iter()
            .map(|s| s["text"].as_str().unwrap())
            .collect();
        assert_eq!(text, source[number - 1], "line {number} is the file's");
        for segment in segments {
            if segment["is_match"] == true {
                assert_eq!(segment["text"], "verify_signature");
                marked += 1;
            } else {
                assert_eq!(segment["is_match"], false);
                assert!(
                    !segment["text"]
                        .as_str()
                        .unwrap()
                        .contains("verify_signature")
                );
            }
        }
    }
    assert_eq!(marked, hit["match_count"].as_u64().unwrap());
    assert_eq!(page["query_substituted"], false);
}

#[tokio::test]
async fn repo_and_ext_modifiers_narrow_the_hits() {
    let env = env().await;
    let everywhere = search(&env, "RetryPolicy", json!({})).await.unwrap();
    assert_eq!(items(&everywhere).len(), 2);

    let one_repo = search(&env, "verify_signature repo:bitbucket-plugin", json!({}))
        .await
        .unwrap();
    let found: BTreeSet<_> = hits(&one_repo).into_iter().collect();
    assert_eq!(
        found,
        expected(&env, "verify_signature", |repo, _| repo
            == "atom-labs/bitbucket-plugin")
    );
    assert_eq!(found.len(), 2);
    assert!(
        found
            .iter()
            .all(|(repo, _)| repo == "atom-labs/bitbucket-plugin")
    );

    let all_todo = search(&env, "TODO", json!({ "size": 100 })).await.unwrap();
    assert_eq!(items(&all_todo).len(), 11);
    let rust_todo = search(&env, "TODO ext:rs", json!({ "size": 100 }))
        .await
        .unwrap();
    let found: BTreeSet<_> = hits(&rust_todo).into_iter().collect();
    assert_eq!(
        found,
        expected(&env, "TODO", |_, path| path.ends_with(".rs"))
    );
    assert!(found.iter().all(|(_, path)| path.ends_with(".rs")));
    assert!(!found.is_empty() && found.len() < 11);

    let pagelen = search(&env, "pagelen", json!({})).await.unwrap();
    assert_eq!(
        hits(&pagelen),
        [(
            "atom-labs/bitbucket-plugin".to_owned(),
            "src/page.rs".to_owned()
        )]
    );
}

/// A page of code search straight from the fake, as Ada, bypassing the
/// component.
async fn upstream_page(env: &Env, query: &str) -> Value {
    let url = format!("{}{SEARCH_PATH}?{query}", env.fake.base_url());
    let (status, _, body) = atom_test_support::raw_get(&url, Some(fake_bitbucket::ADA_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Every hit of `query`, following `next_cursor` with pages of `size`.
async fn every_page(env: &Env, query: &str, size: u32) -> (Vec<(String, String)>, usize) {
    let (mut seen, mut cursor, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let page = search(env, query, json!({ "size": size, "cursor": cursor }))
            .await
            .unwrap();
        pages += 1;
        seen.extend(hits(&page));
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            return (seen, pages);
        }
        assert!(pages < 20, "paging never ends");
    }
}

#[tokio::test]
async fn paging_returns_every_hit_once() {
    let env = env().await;
    let whole = search(&env, "TODO", json!({ "size": 100 })).await.unwrap();
    let whole = hits(&whole);
    assert_eq!(whole.len(), 11);

    let (paged, pages) = every_page(&env, "TODO", 3).await;
    assert_eq!(pages, 4);
    assert_eq!(paged, whole, "same hits, same order");
}

#[tokio::test]
async fn a_hit_bitbucket_repeats_on_the_next_page_is_returned_once() {
    let env = env().await;
    let whole = search(&env, "TODO", json!({ "size": 100 })).await.unwrap();
    let whole = hits(&whole);
    assert_eq!(whole.len(), 11);

    env.fake.control().search_duplicates_across_pages = true;
    // The knob really repeats: page 2 as Bitbucket sends it starts with the
    // last hit of page 1.
    let first = search(&env, "TODO", json!({ "size": 3 })).await.unwrap();
    assert_eq!(hits(&first), whole[..3]);
    let upstream = upstream_page(&env, "search_query=TODO&page=2&pagelen=3").await;
    let repeated = &upstream["values"][0]["file"];
    assert_eq!(
        (
            repeated["commit"]["repository"]["full_name"]
                .as_str()
                .unwrap(),
            repeated["path"].as_str().unwrap()
        ),
        (whole[2].0.as_str(), whole[2].1.as_str()),
        "Bitbucket's page 2 repeats page 1's last hit"
    );

    let (paged, pages) = every_page(&env, "TODO", 3).await;
    assert!(pages >= 4, "{pages} pages");
    let distinct: BTreeSet<_> = paged.iter().cloned().collect();
    assert_eq!(paged.len(), distinct.len(), "no hit twice: {paged:#?}");
    assert_eq!(distinct, whole.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(paged, whole, "and in Bitbucket's order");
}

#[tokio::test]
async fn search_turned_off_says_where_to_turn_it_on() {
    let env = env().await;
    env.fake.control().search_disabled = true;
    let failure = search(&env, "TODO", json!({})).await.unwrap_err();
    match &failure {
        Failure::Integration(Error::NotFound(info)) => {
            assert!(
                info.message.contains("https://bitbucket.org/search"),
                "{}",
                info.message
            );
            assert!(info.message.contains("atom-labs"), "{}", info.message);
        }
        other => panic!("expected not-found, got {other}"),
    }
}

#[tokio::test]
async fn an_empty_query_is_refused_before_bitbucket() {
    let env = env().await;
    for query in ["", "   "] {
        let failure = search(&env, query, json!({})).await.unwrap_err();
        assert!(
            matches!(&failure, Failure::Integration(Error::Validation(v)) if v.field == "query"),
            "{failure}"
        );
    }
    assert!(env.fake.control().requests_to(SEARCH_PATH).is_empty());

    let modifiers_only = search(&env, "repo:bitbucket-plugin ext:rs", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(&modifiers_only, Failure::Integration(Error::Validation(_))),
        "{modifiers_only}"
    );

    let unknown = env
        .exec(
            "search-code",
            json!({ "workspace": "no-such-workspace", "query": "TODO" }),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, Failure::Integration(Error::NotFound(_))),
        "{unknown}"
    );
}
