//! Source browsing, file history, diffs, diffstats and patches, over the
//! trees the seeded commits record. Pull request #4 (feature/login →
//! develop) is the reviewable one: a renamed, a removed, two added (one
//! binary) and a modified file, and a very large generated one.

use std::collections::BTreeMap;

use axum::http::StatusCode;

use super::{Api, PLUGIN, SERVICE, strings, values};

#[tokio::test]
async fn src_redirects_to_the_main_head_and_lists_pages_of_entries() {
    let api = Api::start().await;
    let head = api
        .get(&format!("{PLUGIN}/refs/branches/main"))
        .await
        .json()["target"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = api.get(&format!("{PLUGIN}/src")).await;
    assert_eq!(root.status, StatusCode::FOUND);
    let location = root.header("location").unwrap().to_owned();
    assert!(location.ends_with(&format!("/src/{head}/")), "{location}");

    let first = api.get(&format!("{location}?pagelen=3")).await;
    assert_eq!(first.status, StatusCode::OK);
    let first = first.json();
    assert_eq!(first["pagelen"], 3);
    let entries = values(&first);
    assert_eq!(entries.len(), 3);
    // Directories first, then files, by name.
    assert_eq!(entries[0]["type"], "commit_directory");
    assert_eq!(entries[0]["path"], "src");
    assert_eq!(entries[0]["commit"]["hash"], head.as_str());
    let next = first["next"].as_str().unwrap().to_owned();
    let second = api.get(&next).await.json();
    assert_eq!(second["page"], 2);
    let all: Vec<String> = [strings(&first, "path"), strings(&second, "path")].concat();
    assert!(all.iter().any(|p| p == ".gitignore"), "{all:?}");

    let src = api
        .get(&format!("{PLUGIN}/src/main/src/?pagelen=100"))
        .await
        .json();
    let paths = strings(&src, "path");
    assert!(paths.contains(&"src/transport.rs".to_owned()), "{paths:?}");
    let file = values(&src)
        .into_iter()
        .find(|e| e["path"] == "src/transport.rs")
        .unwrap();
    assert_eq!(file["type"], "commit_file");
    assert_eq!(file["mimetype"], "text/x-rust");
    assert!(file["size"].as_u64().unwrap() > 100);

    // max_depth walks down; q filters the listing.
    let deep = api
        .get(&format!(
            "{PLUGIN}/src/main/?max_depth=3&pagelen=100&q=path%20~%20%22auth%22"
        ))
        .await
        .json();
    let deep_paths = strings(&deep, "path");
    assert!(
        deep_paths.contains(&"src/auth.rs".to_owned()),
        "{deep_paths:?}"
    );
}

#[tokio::test]
async fn a_file_answers_its_bytes_or_its_meta_and_a_missing_path_404s() {
    let api = Api::start().await;
    let readme = api.get(&format!("{SERVICE}/src/main/README.md")).await;
    assert_eq!(readme.status, StatusCode::OK);
    assert_eq!(readme.header("content-type"), Some("text/markdown"));
    assert!(
        String::from_utf8(readme.body.clone())
            .unwrap()
            .starts_with("# ")
    );

    let meta = api
        .get(&format!("{SERVICE}/src/main/README.md?format=meta"))
        .await;
    assert_eq!(meta.status, StatusCode::OK);
    let meta = meta.json();
    assert_eq!(meta["type"], "commit_file");
    assert_eq!(meta["path"], "README.md");
    assert_eq!(meta["size"], readme.body.len());

    // A branch name with a slash, and a binary file.
    let png = api
        .get(&format!(
            "{PLUGIN}/src/feature/login/docs/images/consent-screen.png"
        ))
        .await;
    assert_eq!(png.status, StatusCode::OK);
    assert_eq!(png.header("content-type"), Some("image/png"));
    assert!(png.body.starts_with(b"\x89PNG") && png.body.contains(&0));

    let dir_meta = api
        .get(&format!("{PLUGIN}/src/main/src/?format=meta"))
        .await;
    assert_eq!(dir_meta.json()["type"], "commit_directory");

    let missing = api.get(&format!("{PLUGIN}/src/main/src/nope.rs")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json()["error"]["message"],
        "No such file or directory: src/nope.rs"
    );
    let no_commit = api.get(&format!("{PLUGIN}/src/0000000000/README.md")).await;
    assert_eq!(no_commit.status, StatusCode::NOT_FOUND);
    // A plain repository has a README and a couple of files.
    let plain = api
        .get("/2.0/repositories/acme/billing-service-00/src/main/")
        .await
        .json();
    assert!(strings(&plain, "path").contains(&"README.md".to_owned()));
}

#[tokio::test]
async fn file_history_is_newest_first_and_follows_a_rename() {
    let api = Api::start().await;
    let history = api
        .get(&format!(
            "{PLUGIN}/filehistory/feature/login/src/util/path.rs"
        ))
        .await;
    assert_eq!(history.status, StatusCode::OK);
    let history = history.json();
    assert_eq!(
        strings(&history, "path"),
        ["src/util/path.rs", "src/path.rs"]
    );
    assert_eq!(
        strings(&history, "commit.message")[0],
        "Move path helpers under src/util"
    );
    let plain = api
        .get(&format!(
            "{PLUGIN}/filehistory/feature/login/src/util/path.rs?renames=false"
        ))
        .await
        .json();
    assert_eq!(strings(&plain, "path"), ["src/util/path.rs"]);

    let readme = api
        .get(&format!("{PLUGIN}/filehistory/main/README.md"))
        .await
        .json();
    let dates = strings(&readme, "commit.date");
    assert_eq!(dates.len(), 3, "the three commits that touched it");
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted);
}

/// Per file of a unified diff: its header lines and its hunks, each hunk
/// checked against its `@@` counts.
fn split_diff(text: &str) -> BTreeMap<String, (Vec<String>, Vec<Vec<String>>)> {
    let mut files: BTreeMap<String, (Vec<String>, Vec<Vec<String>>)> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("diff --git a/") {
            current = rest.split(" b/").nth(1).unwrap().to_owned();
            files
                .entry(current.clone())
                .or_default()
                .0
                .push(line.to_owned());
        } else if line.starts_with("@@") {
            files
                .get_mut(&current)
                .unwrap()
                .1
                .push(vec![line.to_owned()]);
        } else if let Some(hunk) = files.get_mut(&current).unwrap().1.last_mut() {
            hunk.push(line.to_owned());
        } else {
            files.get_mut(&current).unwrap().0.push(line.to_owned());
        }
    }
    for (path, (_, hunks)) in &files {
        for hunk in hunks {
            let header = &hunk[0];
            let nums: Vec<&str> = header
                .trim_start_matches("@@ -")
                .split(" @@")
                .next()
                .unwrap()
                .split(" +")
                .collect();
            let len = |r: &str| {
                r.split_once(',')
                    .map_or(1, |(_, l)| l.parse::<usize>().unwrap())
            };
            let old = hunk[1..]
                .iter()
                .filter(|l| l.starts_with(' ') || l.starts_with('-'))
                .count();
            let new = hunk[1..]
                .iter()
                .filter(|l| l.starts_with(' ') || l.starts_with('+'))
                .count();
            assert_eq!((old, new), (len(nums[0]), len(nums[1])), "{path}: {header}");
        }
    }
    files
}

fn counts(hunks: &[Vec<String>]) -> (usize, usize) {
    let lines = hunks.iter().flat_map(|h| h[1..].iter());
    lines.fold((0, 0), |(a, r), l| {
        (
            a + usize::from(l.starts_with('+')),
            r + usize::from(l.starts_with('-')),
        )
    })
}

#[tokio::test]
async fn the_reviewable_pull_request_diff_has_every_kind_of_change() {
    let api = Api::start().await;
    // The new side first: feature/login compared with develop.
    let answer = api
        .get(&format!("{PLUGIN}/diff/feature/login..develop"))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/plain"));
    let text = String::from_utf8(answer.body.clone()).unwrap();
    assert!(
        text.len() > 300_000,
        "the large file is far over any budget"
    );
    let files = split_diff(&text);

    let (header, hunks) = &files["src/util/path.rs"];
    assert_eq!(
        header[..4],
        [
            "diff --git a/src/path.rs b/src/util/path.rs",
            "similarity index 100%",
            "rename from src/path.rs",
            "rename to src/util/path.rs"
        ]
    );
    assert!(hunks.is_empty());

    let (header, hunks) = &files["src/issues.rs"];
    assert_eq!(header[1], "deleted file mode 100644");
    assert!(header.contains(&"+++ /dev/null".to_owned()));
    assert_eq!(hunks.len(), 1);
    assert!(hunks[0][0].starts_with("@@ -1,") && hunks[0][0].ends_with("+0,0 @@"));
    assert!(hunks[0][1..].iter().all(|l| l.starts_with('-')));

    let (header, hunks) = &files["docs/oauth.md"];
    assert_eq!(header[1], "new file mode 100644");
    assert!(header.contains(&"--- /dev/null".to_owned()));
    assert!(hunks[0][0].starts_with("@@ -0,0 +1,"));

    let (header, hunks) = &files["docs/images/consent-screen.png"];
    assert!(header.contains(
        &"Binary files /dev/null and b/docs/images/consent-screen.png differ".to_owned()
    ));
    assert!(hunks.is_empty());

    let (header, hunks) = &files["src/auth.rs"];
    assert!(header[1].starts_with("index ") && header[1].ends_with(" 100644"));
    assert!(hunks.len() >= 2, "several hunks: {hunks:?}");
    for hunk in hunks {
        // Three lines of context around each change.
        assert!(hunk[1].starts_with(' ') && hunk.last().unwrap().starts_with(' '));
    }

    let (_, hunks) = &files["tests/fixtures/token-responses.ndjson"];
    assert_eq!(counts(hunks), (3_000, 0));

    // path narrows it; context=0 drops the context lines.
    let only = api
        .get(&format!(
            "{PLUGIN}/diff/feature/login..develop?path=src/auth.rs&context=0"
        ))
        .await;
    let only = split_diff(&String::from_utf8(only.body).unwrap());
    assert_eq!(only.keys().collect::<Vec<_>>(), ["src/auth.rs"]);
    assert!(
        only["src/auth.rs"]
            .1
            .iter()
            .all(|h| h[1..].iter().all(|l| !l.starts_with(' ')))
    );
    // binary=false leaves the PNG out; renames=false shows a delete and an add.
    let plain = api
        .get(&format!(
            "{PLUGIN}/diff/feature/login..develop?binary=false&renames=false"
        ))
        .await;
    let plain = split_diff(&String::from_utf8(plain.body).unwrap());
    assert!(!plain.contains_key("docs/images/consent-screen.png"));
    assert_eq!(plain["src/path.rs"].0[1], "deleted file mode 100644");
    assert_eq!(plain["src/util/path.rs"].0[1], "new file mode 100644");

    // The diffstat says the same, file by file.
    let stat = api
        .get(&format!("{PLUGIN}/diffstat/feature/login..develop"))
        .await;
    assert_eq!(stat.status, StatusCode::OK);
    let stat = stat.json();
    assert_eq!(stat["pagelen"], 500);
    let mut statuses = BTreeMap::new();
    for entry in values(&stat) {
        let path = entry["new"]["path"]
            .as_str()
            .or(entry["old"]["path"].as_str())
            .unwrap()
            .to_owned();
        let (added, removed) = counts(&files[&path].1);
        assert_eq!(entry["lines_added"], added, "{path}");
        assert_eq!(entry["lines_removed"], removed, "{path}");
        statuses.insert(path, entry["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses["src/util/path.rs"], "renamed");
    assert_eq!(statuses["src/issues.rs"], "removed");
    assert_eq!(statuses["docs/oauth.md"], "added");
    assert_eq!(statuses["docs/images/consent-screen.png"], "added");
    assert_eq!(statuses["src/auth.rs"], "modified");
    assert_eq!(statuses.len(), files.len());
    let renamed = values(&stat)
        .into_iter()
        .find(|e| e["status"] == "renamed")
        .unwrap();
    assert_eq!(renamed["old"]["path"], "src/path.rs");
}

#[tokio::test]
async fn a_single_commit_diffs_against_its_parent_and_patches_carry_headers() {
    let api = Api::start().await;
    let head = api
        .get(&format!("{PLUGIN}/commits/feature/login?pagelen=5"))
        .await
        .json();
    let auth = values(&head)
        .into_iter()
        .find(|c| c["message"] == "Split the token store out of auth.rs")
        .unwrap();
    let hash = auth["hash"].as_str().unwrap();
    let diff = api.get(&format!("{PLUGIN}/diff/{}", &hash[..12])).await;
    let files = split_diff(&String::from_utf8(diff.body).unwrap());
    assert_eq!(files.keys().collect::<Vec<_>>(), ["src/auth.rs"]);

    let patch = api.get(&format!("{PLUGIN}/patch/{hash}")).await;
    assert_eq!(patch.status, StatusCode::OK);
    let patch = String::from_utf8(patch.body).unwrap();
    assert!(patch.starts_with(&format!("From {hash} Mon Sep 17 00:00:00 2001\n")));
    assert!(patch.contains("Subject: [PATCH] Split the token store out of auth.rs\n"));
    assert!(patch.contains("diff --git a/src/auth.rs b/src/auth.rs\n"));

    let series = api
        .get(&format!("{PLUGIN}/patch/release/2026.11..main"))
        .await;
    let series = String::from_utf8(series.body).unwrap();
    assert!(series.contains("Subject: [PATCH 1/2] Bump version to 2026.11.0"));
    assert!(series.contains("Subject: [PATCH 2/2] Update CHANGELOG for 2026.11"));

    let missing = api.get(&format!("{PLUGIN}/diff/nope..main")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
