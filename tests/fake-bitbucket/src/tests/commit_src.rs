//! `POST R/src`: commits from form bodies, seen through history, source,
//! diff and diffstat; new branches, stale parents, forms the spec layer
//! refuses, and a write that acts before its answer is lost.

use axum::http::{Method, StatusCode};
use bytes::Bytes;

use super::{Answer, Api, SERVICE, strings, values};
use crate::{ADA_TOKEN, FaultKind, FaultPlan, FaultRule};

const BOUNDARY: &str = "test-boundary-7f3a";

/// A multipart body: `(name, Some(filename), value)` is a file field.
/// Laid out byte for byte as the component's encoder lays it out.
fn multipart(fields: &[(&str, Option<&str>, &str)]) -> Bytes {
    let mut body = String::new();
    for (name, filename, value) in fields {
        body.push_str(&format!("--{BOUNDARY}\r\n"));
        body.push_str(&format!("Content-Disposition: form-data; name=\"{name}\""));
        // Part headers as the component's `endpoint::Form` writes them.
        match filename {
            Some(filename) => body.push_str(&format!(
                "; filename=\"{filename}\"\r\nContent-Type: application/octet-stream"
            )),
            None => body.push_str("\r\nContent-Type: text/plain; charset=utf-8"),
        }
        body.push_str("\r\n\r\n");
        body.push_str(value);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    Bytes::from(body)
}

async fn commit(api: &Api, repo: &str, fields: &[(&str, Option<&str>, &str)]) -> Answer {
    api.send(
        Method::POST,
        &format!("{repo}/src"),
        Some(ADA_TOKEN),
        Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
        multipart(fields),
        &[],
    )
    .await
}

async fn head(api: &Api, repo: &str, branch: &str) -> String {
    api.get(&format!("{repo}/refs/branches/{branch}"))
        .await
        .json()["target"]["hash"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn made_hash(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.json());
    assert!(answer.body.is_empty(), "no body");
    let location = answer.header("location").expect("a Location");
    let (_, hash) = location.rsplit_once("/commit/").unwrap();
    assert!(location.contains("/2.0/repositories/acme/api-service-00/commit/"));
    hash.to_owned()
}

#[tokio::test]
async fn a_multipart_commit_writes_and_deletes_and_shows_in_history_source_and_diff() {
    let api = Api::start().await;
    let parent = head(&api, SERVICE, "main").await;
    let text = "# X\r\nline two\r\n--not-a-boundary\r\n";
    let answer = commit(
        &api,
        SERVICE,
        &[
            ("message", None, "Add docs, drop the README"),
            ("author", None, "Ada Lovelace <ada@example.com>"),
            ("branch", None, "main"),
            ("parents", None, &parent),
            ("files", None, "/README.md"),
            ("/docs/x.md", Some("x.md"), text),
        ],
    )
    .await;
    let hash = made_hash(&answer);
    assert_eq!(head(&api, SERVICE, "main").await, hash, "main moved");

    let history = api.get(&format!("{SERVICE}/commits/main")).await.json();
    let newest = &values(&history)[0];
    assert_eq!(newest["hash"], hash.as_str());
    assert_eq!(newest["message"], "Add docs, drop the README");
    assert_eq!(newest["parents"][0]["hash"], parent.as_str());
    assert_eq!(newest["author"]["raw"], "Ada Lovelace <ada@example.com>");
    assert_eq!(newest["author"]["user"]["nickname"], "ada");

    let file = api.get(&format!("{SERVICE}/src/{hash}/docs/x.md")).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, text.as_bytes());
    let gone = api.get(&format!("{SERVICE}/src/{hash}/README.md")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let before = api.get(&format!("{SERVICE}/src/{parent}/README.md")).await;
    assert_eq!(before.status, StatusCode::OK, "the parent keeps it");

    let stat = api.get(&format!("{SERVICE}/diffstat/{hash}")).await.json();
    let mut statuses: Vec<(String, String)> = values(&stat)
        .iter()
        .map(|e| {
            let path = e["new"]["path"].as_str().or(e["old"]["path"].as_str());
            (
                path.unwrap().to_owned(),
                e["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("README.md".to_owned(), "removed".to_owned()),
            ("docs/x.md".to_owned(), "added".to_owned())
        ]
    );
    let diff = api.get(&format!("{SERVICE}/diff/{hash}")).await;
    let diff = String::from_utf8(diff.body).unwrap();
    assert!(
        diff.contains("diff --git a/docs/x.md b/docs/x.md"),
        "{diff}"
    );
    assert!(diff.contains("+line two"), "{diff}");
    assert!(
        diff.contains("diff --git a/README.md b/README.md"),
        "{diff}"
    );
}

#[tokio::test]
async fn a_new_branch_starts_at_parents_and_main_stays() {
    let api = Api::start().await;
    let main = head(&api, SERVICE, "main").await;
    let answer = commit(
        &api,
        SERVICE,
        &[
            ("message", None, "Start a branch"),
            ("branch", None, "feature/from-src"),
            ("parents", None, &main),
            ("notes/a.txt", Some("a.txt"), "hello"),
        ],
    )
    .await;
    let hash = made_hash(&answer);
    assert_eq!(head(&api, SERVICE, "feature/from-src").await, hash);
    assert_eq!(head(&api, SERVICE, "main").await, main, "main untouched");
    let branches = api.get(&format!("{SERVICE}/refs/branches")).await.json();
    assert!(strings(&branches, "name").contains(&"feature/from-src".to_owned()));
    let file = api
        .get(&format!("{SERVICE}/src/feature/from-src/notes/a.txt"))
        .await;
    assert_eq!(file.body, b"hello");
}

#[tokio::test]
async fn a_stale_or_unknown_parent_is_refused_and_nothing_changes() {
    let api = Api::start().await;
    let history = api.get(&format!("{SERVICE}/commits/main")).await.json();
    let older = values(&history)[1]["hash"].as_str().unwrap().to_owned();
    let main = head(&api, SERVICE, "main").await;
    let commits_before = api.fake.control().commits.len();

    let stale = commit(
        &api,
        SERVICE,
        &[
            ("message", None, "Late"),
            ("branch", None, "main"),
            ("parents", None, &older),
            ("/a.txt", Some("a.txt"), "x"),
        ],
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.json()["type"], "error");

    let unknown = commit(
        &api,
        SERVICE,
        &[
            ("branch", None, "main"),
            ("parents", None, "0123456789abcdef0123456789abcdef01234567"),
            ("/a.txt", Some("a.txt"), "x"),
        ],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(head(&api, SERVICE, "main").await, main);
    assert_eq!(api.fake.control().commits.len(), commits_before);
}

#[tokio::test]
async fn an_urlencoded_commit_writes_text_and_a_slash_keeps_a_file_named_message() {
    let api = Api::start().await;
    let body = "message=Plain+form&%2Fmessage=a+file+called+message&branch=main";
    let answer = api
        .send(
            Method::POST,
            &format!("{SERVICE}/src"),
            Some(ADA_TOKEN),
            Some("application/x-www-form-urlencoded"),
            Bytes::from(body),
            &[],
        )
        .await;
    let hash = made_hash(&answer);
    let file = api.get(&format!("{SERVICE}/src/{hash}/message")).await;
    assert_eq!(file.body, b"a file called message");
    let commit = api.get(&format!("{SERVICE}/commit/{hash}")).await.json();
    assert_eq!(commit["message"], "Plain form");
}

#[tokio::test]
async fn the_spec_layer_checks_the_form() {
    let api = Api::start().await;
    let twice = commit(
        &api,
        SERVICE,
        &[
            ("branch", None, "main"),
            ("branch", None, "other"),
            ("/a.txt", Some("a.txt"), "x"),
        ],
    )
    .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    let found = api.fake.take_violations();
    assert!(
        found
            .iter()
            .any(|v| v.side == "request" && v.at == "form field branch"),
        "{found:?}"
    );
    let json = api
        .post(
            &format!("{SERVICE}/src"),
            serde_json::json!({ "message": "m" }),
        )
        .await;
    assert_eq!(json.status, StatusCode::BAD_REQUEST);
    let found = api.fake.take_violations();
    assert!(
        found
            .iter()
            .any(|v| v.at == "body" && v.what.contains("multipart/form-data")),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_commit_that_acts_then_answers_502_is_in_the_world_once() {
    let api = Api::start().await;
    let main = head(&api, SERVICE, "main").await;
    api.fake.set_faults(FaultPlan::new(3).rule(FaultRule::route(
        "POST",
        "/2.0/repositories/{*rest}",
        1.0,
        FaultKind::ActThen502,
    )));
    let answer = commit(
        &api,
        SERVICE,
        &[
            ("message", None, "Lost answer"),
            ("branch", None, "main"),
            ("parents", None, &main),
            ("/lost.txt", Some("lost.txt"), "made"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    api.fake.set_faults(FaultPlan::new(3));
    let world = api.fake.control();
    let made: Vec<_> = world
        .commits
        .iter()
        .filter(|c| c.repo == "acme/api-service-00" && c.message == "Lost answer")
        .collect();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].parents, [main]);
    assert_eq!(
        world.file_at_branch("acme/api-service-00", "main", "lost.txt"),
        Some(b"made".to_vec())
    );
}
