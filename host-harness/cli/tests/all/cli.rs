//! The binary a newcomer runs first: `atom-harness demo` and `operations`.

use std::process::Command;

use serde_json::json;

fn harness() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atom-harness"));
    command
        .env_remove("BITBUCKET_ACCESS_TOKEN")
        .env_remove("BITBUCKET_API_TOKEN")
        .env_remove("BITBUCKET_EMAIL")
        .env_remove("ATOM_COMPONENT");
    command
}

#[test]
fn the_demo_lists_every_acme_repository_across_pages() {
    let output = harness().arg("demo").output().expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("263 distinct repositories in 3 pages"),
        "{stdout}"
    );
    assert!(stdout.contains("connected as Ada Lovelace"), "{stdout}");
    assert!(stdout.contains("error: not_found"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_serve_opens_the_page_with_a_key_that_works() {
    use std::io::{BufRead, BufReader};

    let mut child = harness()
        .args(["demo", "--serve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the demo runs");
    let stdout = child.stdout.take().unwrap();
    let (url, key) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let url = lines
            .find_map(|l| l.split_once("open ").map(|(_, url)| url.trim().to_owned()))
            .expect("the page's URL is printed");
        let key = lines
            .find_map(|l| l.trim().starts_with("atom_").then(|| l.trim().to_owned()))
            .expect("a key is printed");
        std::thread::spawn(move || lines.for_each(drop));
        (url, key)
    })
    .await
    .unwrap();
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/assets/app.js"));
    let client = reqwest::Client::new();
    let user = client
        .get(format!("{url}bitbucket/user"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(user.contains("Ada Lovelace"), "{user}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn operations_are_listed_and_failed_calls_say_why() {
    let output = harness()
        .arg("operations")
        .output()
        .expect("operations runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("list-repositories") && l.contains("read")),
        "a row per operation with its complexity as a word: {stdout}"
    );
    let output = harness()
        .args(["operations", "--output", "json"])
        .output()
        .expect("operations runs");
    let operations: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("one JSON array");
    let merge = operations
        .iter()
        .find(|op| op["name"] == "merge-pull-request")
        .expect("merge is listed");
    assert_eq!(merge["complexity"], "critical");
    assert_eq!(merge["complexity_level"], 4);
    assert!(merge["parameters_schema"].is_object());
    assert_eq!(merge["title"], "Merge pull request");
    assert_eq!(
        (&merge["read_only"], &merge["destructive"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(merge["scopes"], json!(["pullrequest:write"]));
    let diff = operations
        .iter()
        .find(|op| op["name"] == "get-pull-request-diff")
        .expect("the diff is listed");
    assert_eq!(
        (
            &diff["read_only"],
            &diff["destructive"],
            &diff["idempotent"]
        ),
        (&json!(true), &json!(false), &json!(true))
    );
    assert_eq!(diff["scopes"], json!(["pullrequest"]));

    // No credential in the environment: refused before anything leaves the machine.
    let output = harness()
        .args(["call", "list-repositories", "workspace=acme"])
        .output()
        .expect("call runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: auth_invalid"), "{stderr}");

    let output = harness()
        .args(["call", "list-repositories", "page.size=5"])
        .env("BITBUCKET_ACCESS_TOKEN", "not-used")
        .output()
        .expect("call runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: validation") && stderr.contains("workspace"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-used"), "the token is never printed");
}

mod credentials {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use fake_bitbucket::{ADA_TOKEN, FakeBitbucket, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET};

    use super::harness;

    struct Setup {
        fake: FakeBitbucket,
        dir: tempfile::TempDir,
    }

    impl Setup {
        async fn new() -> Self {
            Self {
                fake: FakeBitbucket::start().await.unwrap(),
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn cli(&self, args: &[&str]) -> Command {
            let mut command = harness();
            command
                .arg("--store")
                .arg(self.dir.path().join("store.sqlite3"))
                .arg("--key-file")
                .arg(self.dir.path().join("store.key"))
                .args(["--allow-host", &self.fake.addr().to_string()])
                .args([
                    "--config",
                    &format!("api-base-url={}", self.fake.api_base_url()),
                ])
                .args([
                    "--config",
                    &format!("oauth-base-url={}", self.fake.base_url()),
                ])
                .args(args)
                .env_remove("ATOM_CREDENTIAL_KEYS")
                .env("ATOM_OAUTH_CLIENT_ID", OAUTH_CLIENT_ID)
                .env("ATOM_OAUTH_CLIENT_SECRET", OAUTH_CLIENT_SECRET);
            command
        }

        /// Runs off the async runtime so the fake keeps answering.
        async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
            let mut command = self.cli(args);
            for (k, v) in env {
                command.env(k, v);
            }
            let output = tokio::task::spawn_blocking(move || command.output().unwrap())
                .await
                .unwrap();
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn tokens_are_stored_sealed_used_rotated_and_never_printed() {
        let setup = Setup::new().await;
        let (ok, _, err) = setup.run(&["call", "get-current-user"], &[]).await;
        assert!(
            !ok && err.contains("auth_invalid"),
            "nothing stored yet: {err}"
        );

        assert!(setup.run(&["keys", "init"], &[]).await.0);
        let (ok, out, err) = setup
            .run(
                &["auth", "add-token", "--kind", "access-token"],
                &[("BITBUCKET_ACCESS_TOKEN", ADA_TOKEN)],
            )
            .await;
        assert!(ok, "{err}");
        assert!(!out.contains(ADA_TOKEN) && !err.contains(ADA_TOKEN));

        // Every log level on, the component's and the host's: still no token.
        let (ok, out, err) = setup
            .run(
                &["call", "get-current-user"],
                &[(
                    "RUST_LOG",
                    "trace,cranelift_codegen=off,regalloc2=off,wasmtime_internal_cranelift=off",
                )],
            )
            .await;
        assert!(ok, "the stored token is used: {err}");
        assert!(out.contains("Ada Lovelace"));
        assert!(
            err.contains("bitbucket request"),
            "the guest's request log is there"
        );
        assert!(
            !err.contains(ADA_TOKEN) && !out.contains(ADA_TOKEN),
            "no token in any log line"
        );

        let (ok, out, _) = setup.run(&["auth", "status"], &[]).await;
        assert!(
            ok && out.contains("access token") && !out.contains(ADA_TOKEN),
            "{out}"
        );
        let (ok, out, err) = setup.run(&["keys", "rotate"], &[]).await;
        assert!(ok && out.contains("re-sealed 1"), "{out}{err}");
        assert!(
            setup.run(&["call", "get-current-user"], &[]).await.0,
            "still readable after rotation"
        );

        let raw = std::fs::read(setup.dir.path().join("store.sqlite3")).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains(ADA_TOKEN));

        assert!(setup.run(&["auth", "logout"], &[]).await.0);
        let (_, out, _) = setup.run(&["auth", "status"], &[]).await;
        assert!(out.contains("no credential"), "{out}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn auth_login_completes_through_the_local_callback() {
        let setup = Setup::new().await;
        assert!(setup.run(&["keys", "init"], &[]).await.0);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = setup
            .cli(&[
                "auth",
                "login",
                "--port",
                &port.to_string(),
                "--wait-secs",
                "30",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (url, rest) = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let url = lines
                .by_ref()
                .map_while(Result::ok)
                .find_map(|l| l.trim().starts_with("http").then(|| l.trim().to_owned()))
                .expect("the authorize URL is printed");
            (url, lines)
        })
        .await
        .unwrap();

        // The browser: Bitbucket's consent redirect, then the local callback.
        let consent = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&url)
            .send()
            .await
            .unwrap();
        let location = consent.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("http://127.0.0.1:{port}/callback?")),
            "{location}"
        );
        let (_, page) = http_get(&location).await;
        assert!(page.contains("You can close this window"), "{page}");

        let (status, rest) = tokio::task::spawn_blocking(move || {
            (
                child.wait().unwrap(),
                rest.map_while(Result::ok).collect::<Vec<_>>().join("\n"),
            )
        })
        .await
        .unwrap();
        assert!(status.success(), "{rest}");
        assert!(rest.contains("Logged in"), "{rest}");
        let (_, out, _) = setup.run(&["auth", "status"], &[]).await;
        assert!(
            out.contains("OAuth 2.0") && out.contains("refresh token stored"),
            "{out}"
        );
        let (ok, out, _) = setup.run(&["call", "list-workspaces"], &[]).await;
        assert!(ok && out.contains("atom-labs"), "{out}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn call_all_follows_every_cursor_and_tables_read_as_rows() {
        let setup = Setup::new().await;
        let token = [("BITBUCKET_ACCESS_TOKEN", ADA_TOKEN)];
        let (ok, out, err) = setup
            .run(
                &[
                    "call",
                    "list-repositories",
                    "workspace=acme",
                    "page.size=100",
                    "--all",
                ],
                &token,
            )
            .await;
        assert!(ok, "{err}");
        let items: Vec<serde_json::Value> =
            serde_json::from_str(&out).expect("--all prints one JSON array");
        let slugs: std::collections::HashSet<_> =
            items.iter().filter_map(|r| r["slug"].as_str()).collect();
        assert_eq!((items.len(), slugs.len()), (263, 263), "every page, once");
        assert!(!err.contains(ADA_TOKEN) && !out.contains(ADA_TOKEN));

        let (ok, out, err) = setup
            .run(&["call", "list-workspaces", "--output", "table"], &token)
            .await;
        assert!(ok, "{err}");
        let header = out
            .lines()
            .find(|l| l.contains("slug"))
            .expect("a header row");
        assert!(header.contains("name"), "{out}");
        assert!(out.lines().any(|l| l.contains("atom-labs")), "{out}");
        assert!(
            serde_json::from_str::<serde_json::Value>(&out).is_err(),
            "a table, not JSON"
        );

        let (ok, out, err) = setup
            .run(&["call", "get-current-user", "--all"], &token)
            .await;
        assert!(
            !ok && out.is_empty() && err.contains("not a listing"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn insights_print_a_row_per_repository_and_write_each_chart_as_svg() {
        let setup = Setup::new().await;
        let token = [("BITBUCKET_ACCESS_TOKEN", ADA_TOKEN)];
        let charts = setup.dir.path().join("charts");
        let (ok, out, err) = setup
            .run(
                &[
                    "insights",
                    "atom-labs",
                    "--repos",
                    "atom-core,web-console",
                    "--weeks",
                    "16",
                    "--until",
                    "2026-11-23T00:00:00Z",
                    "--charts",
                    charts.to_str().unwrap(),
                ],
                &token,
            )
            .await;
        assert!(ok, "{err}");
        assert!(
            out.starts_with("atom-labs · 16 weeks from 2026-08-03 to 2026-11-23"),
            "{out}"
        );
        let row = |name: &str| {
            out.lines()
                .find(|l| l.contains(name))
                .unwrap_or_else(|| panic!("a row for {name}: {out}"))
                .to_owned()
        };
        assert!(row("atom-core").contains("(elite)"), "{out}");
        assert!(row("web-console").contains("(low)"), "{out}");
        assert!(row("all repositories").contains('%'), "{out}");
        assert!(out.contains("needs attention: web-console"), "{out}");
        for name in [
            "deployments",
            "pipeline-duration",
            "pipeline-success",
            "review-flow",
        ] {
            let svg = std::fs::read_to_string(charts.join(format!("{name}.svg")))
                .unwrap_or_else(|e| panic!("{name}.svg: {e}"));
            assert!(
                svg.starts_with("<svg") && svg.contains("<desc"),
                "{name}: {svg}"
            );
            assert!(err.contains(&format!("{name}.svg")), "{err}");
        }

        let (ok, out, err) = setup
            .run(&["insights", "atom-labs", "--weeks", "30"], &token)
            .await;
        assert!(!ok && out.is_empty(), "{out}");
        assert!(err.contains("weeks") && err.contains("1 to 26"), "{err}");
    }

    /// Eight `atom-harness` processes share a store whose OAuth token has
    /// expired: the store's lease lets one of them refresh, the others wait
    /// and use what it stored. Bitbucket rotates refresh tokens, so a second
    /// refresh with the same token would fail and ask for a reconnect.
    #[tokio::test(flavor = "multi_thread")]
    async fn eight_processes_racing_an_expired_token_refresh_it_once() {
        use atom_runtime::CredentialStore;
        use atom_runtime::host_types::{CredentialSecret, OauthTokens};
        use atom_store::{Keyring, SqliteCredentialStore};

        let setup = Setup::new().await;
        assert!(setup.run(&["keys", "init"], &[]).await.0);
        let tokens = crate::common::ada_tokens(&setup.fake).await;
        let keyring = Keyring::load_file(&setup.dir.path().join("store.key")).unwrap();
        let store =
            SqliteCredentialStore::open(&setup.dir.path().join("store.sqlite3"), keyring).unwrap();
        store
            .replace(
                "default",
                0,
                CredentialSecret::Oauth(OauthTokens {
                    access_token: tokens["access_token"].as_str().unwrap().to_owned(),
                    refresh_token: tokens["refresh_token"].as_str().map(str::to_owned),
                    expires_at: Some(1),
                    scopes: Vec::new(),
                }),
            )
            .unwrap();
        setup.fake.control().oauth.expire_access_tokens();

        let racers: Vec<_> = (0..8)
            .map(|_| {
                setup
                    .cli(&["call", "get-current-user"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs = tokio::task::spawn_blocking(move || {
            racers
                .into_iter()
                .map(|racer| racer.wait_with_output().unwrap())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        for output in outputs {
            assert!(
                output.status.success()
                    && String::from_utf8_lossy(&output.stdout).contains("Ada Lovelace"),
                "a process failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert_eq!(
            setup.fake.control().oauth.refresh_requests(),
            1,
            "one refresh for eight processes"
        );
        assert_eq!(store.get("default").unwrap().unwrap().version, 2);
    }

    /// `serve` allocates from a pool sized by its admission limits: with
    /// room for two calls at once, eight slow requests all get answers (two
    /// at a time, the rest queued), none fails to find an instance, and
    /// Bitbucket never sees more than two.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_served_gateway_has_an_instance_for_every_call_it_admits() {
        use std::io::{BufRead, BufReader};
        use std::time::Duration;

        use atom_runtime::CredentialStore;
        use atom_runtime::host_types::CredentialSecret;
        use atom_store::{
            Keyring, SqliteCredentialStore, SqliteTenantRegistry, TenantRegistry as _,
        };
        use fake_bitbucket::{FaultKind, FaultPlan, FaultRule};

        let setup = Setup::new().await;
        assert!(setup.run(&["keys", "init"], &[]).await.0);
        let path = setup.dir.path().join("store.sqlite3");
        let keyring = Keyring::load_file(&setup.dir.path().join("store.key")).unwrap();
        let key = SqliteTenantRegistry::open(&path)
            .unwrap()
            .add("acme")
            .unwrap()
            .key
            .to_string();
        SqliteCredentialStore::open(&path, keyring)
            .unwrap()
            .replace("acme", 0, CredentialSecret::AccessToken(ADA_TOKEN.into()))
            .unwrap();
        setup
            .fake
            .set_faults(FaultPlan::new(1).rule(FaultRule::route(
                "GET",
                "/2.0/user",
                1.0,
                FaultKind::Stall(Duration::from_millis(200)),
            )));

        let mut gateway = setup
            .cli(&["serve", "--listen", "127.0.0.1:0"])
            .args(["--memory-mib", "64", "--memory-budget-mib", "128"])
            .args(["--queue-wait-ms", "20000"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = gateway.stderr.take().unwrap();
        let base = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
            let base = lines
                .find_map(|l| {
                    l.split_once("gateway on ")
                        .map(|(_, url)| url.trim().to_owned())
                })
                .expect("the gateway starts");
            std::thread::spawn(move || lines.for_each(drop));
            base
        })
        .await
        .unwrap();
        setup.fake.reset_most_in_flight();

        let client = reqwest::Client::new();
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let request = client
                .post(format!("{base}/atom/v1/execute"))
                .bearer_auth(&key)
                .header("cache-control", "no-cache")
                .header("content-type", "application/json")
                .body(r#"{"operation":"get-current-user","parameters":{}}"#);
            calls.spawn(async move {
                let answer = request.send().await.unwrap();
                (answer.status(), answer.text().await.unwrap())
            });
        }
        let answers = calls.join_all().await;
        gateway.kill().unwrap();
        gateway.wait().unwrap();
        for (status, body) in answers {
            assert!(
                status.is_success() && body.contains("Ada Lovelace"),
                "{status}: {body}"
            );
        }
        assert_eq!(
            setup.fake.most_in_flight(),
            2,
            "two calls at once, as admitted"
        );
    }

    async fn http_get(url: &str) -> (u16, String) {
        let response = reqwest::get(url).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_rotation_under_a_running_gateway_keeps_credentials_readable() {
    use crate::common::{Gateway, harness, run};

    let fake = fake_bitbucket::FakeBitbucket::start().await.unwrap();
    // No read cache: every call must open the stored credential.
    let gateway = Gateway::start(&fake, &["--cache-ttl-secs", "0"]).await;
    let me = || gateway.call(&gateway.acme_key, "/v1/operations/get-current-user", "{}");
    let (status, _, body) = me().await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");

    let rotated = run(harness(&gateway.dir).args(["keys", "rotate"]));
    assert!(rotated.contains("key version 2"), "{rotated}");

    let (status, _, body) = me().await;
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "after the rotation: {body}"
    );
    assert_eq!(body["display_name"], "Ada Lovelace");
}
