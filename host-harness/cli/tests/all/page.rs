//! The integration page in real Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over WebDriver (fantoccini), against `serve`
//! and the fake. Screenshots of every tab land in
//! `target/tmp/page-screenshots/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::Gateway;
use fake_bitbucket::{FakeBitbucket, Fault};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const TABS: [&str; 8] = [
    "overview",
    "workspaces",
    "repositories",
    "pull-requests",
    "pipelines",
    "issues",
    "code-search",
    "settings",
];
const WAIT: Duration = Duration::from_secs(20);

/// chromedriver on a free loopback port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child =
            Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver runs (.ci/run installs Debian's chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, url }
    }

    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions"],
            }),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver's browser log (console messages and page errors).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

async fn severe_console_messages(browser: &Client) -> Vec<String> {
    let log = browser.issue_cmd(BrowserLog).await.unwrap_or(Value::Null);
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("page-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn sign_in(browser: &Client, gateway: &Gateway, hash: &str) {
    browser
        .goto(&gateway.url(&format!("/{hash}")))
        .await
        .unwrap();
    let key = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("input[type=password]"))
        .await
        .unwrap();
    key.send_keys(&gateway.acme_key).await.unwrap();
    key.send_keys("\u{E007}").await.unwrap(); // Enter
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[role=tablist] [data-tab=overview]"))
        .await
        .unwrap();
}

async fn open_tab(browser: &Client, tab: &str) {
    browser
        .find(Locator::Css(&format!("[role=tablist] [data-tab='{tab}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the element's text contains `needle`; answers the text.
async fn wait_for_text(browser: &Client, css: &str, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(element) = browser.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if text.contains(needle) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("'{needle}' never appeared in {css}; last text: {last}");
}

/// A form that opens from its button, opened.
async fn open_form(browser: &Client, form: &str, button: &str) -> fantoccini::elements::Element {
    let form = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(form))
        .await
        .unwrap();
    if !form.is_displayed().await.unwrap_or(false) {
        browser
            .find(Locator::Css(button))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    form
}

/// Picks `value` in the form's select `name`, once the page has filled it.
async fn choose(form: &fantoccini::elements::Element, name: &str, value: &str) {
    let select = form
        .find(Locator::Css(&format!("[name={name}]")))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while select.select_by_value(value).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never offered {value}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn setup() -> (FakeBitbucket, Gateway, Driver, Client) {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &["--cache-ttl-secs", "0"]).await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    (fake, gateway, driver, browser)
}

const REPO_HASH: &str = "#overview?ws=atom-labs&repo=bitbucket-plugin";

#[tokio::test(flavor = "multi_thread")]
async fn every_tab_shows_the_fakes_data_and_fits_a_phone() {
    let (_fake, gateway, _driver, browser) = setup().await;
    sign_in(&browser, &gateway, REPO_HASH).await;

    let expectations = [
        ("overview", "#tab-overview", "Ada Lovelace"),
        ("workspaces", "[data-testid=workspace-list]", "atom-labs"),
        (
            "repositories",
            "[data-testid=repo-row][data-slug='bitbucket-plugin']",
            "",
        ),
        (
            "pull-requests",
            "[data-testid=pr-list]",
            "Add OAuth 2.0 login flow",
        ),
        ("pipelines", "[data-testid=pipeline-list]", "#"),
        ("issues", "[data-testid=issue-list]", ""),
        ("code-search", "#tab-code-search", ""),
        ("settings", "#tab-settings", ""),
    ];
    let dir = screenshots();
    for (tab, css, needle) in expectations {
        open_tab(&browser, tab).await;
        wait_for_text(&browser, css, needle).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(
            dir.join(format!("{tab}.png")),
            browser.screenshot().await.unwrap(),
        )
        .unwrap();
    }

    // Code search highlights its matches.
    open_tab(&browser, "code-search").await;
    let query = browser
        .find(Locator::Css("[data-testid=search-query]"))
        .await
        .unwrap();
    query.send_keys("verify_signature\u{E007}").await.unwrap();
    wait_for_text(&browser, "[data-testid=search-results]", "webhooks.rs").await;
    let marks = browser
        .find_all(Locator::Css("[data-testid=search-results] mark"))
        .await
        .unwrap();
    assert!(!marks.is_empty(), "matches are highlighted");
    std::fs::write(dir.join("search.png"), browser.screenshot().await.unwrap()).unwrap();

    // A phone's width: nothing scrolls sideways on any tab.
    browser.set_window_size(390, 844).await.unwrap();
    for tab in TABS {
        open_tab(&browser, tab).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let overflow = browser
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{tab} scrolls sideways by {overflow} px at 390 px"
        );
    }
    std::fs::write(
        dir.join("overview-390.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_pull_request_shows_in_the_list_and_a_pipeline_runs_to_success() {
    let (_fake, gateway, _driver, browser) = setup().await;
    sign_in(
        &browser,
        &gateway,
        "#pull-requests?ws=atom-labs&repo=bitbucket-plugin",
    )
    .await;

    open_tab(&browser, "pull-requests").await;
    wait_for_text(
        &browser,
        "[data-testid=pr-list]",
        "Add OAuth 2.0 login flow",
    )
    .await;
    let form = open_form(&browser, "#new-pr-form", "[data-testid=new-pr-button]").await;
    form.find(Locator::Css("[name=title]"))
        .await
        .unwrap()
        .send_keys("Ship search v2 from the page")
        .await
        .unwrap();
    // The branch pickers fill from the repository's branches.
    choose(&form, "source_branch", "feature/search-v2").await;
    choose(&form, "destination_branch", "main").await;
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(
        &browser,
        "[data-testid=pr-list]",
        "Ship search v2 from the page",
    )
    .await;
    std::fs::write(
        screenshots().join("pull-requests-created.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    run_pipeline_on_main(&browser).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = match browser
            .find(Locator::Css("[data-testid=pipeline-status]"))
            .await
        {
            Ok(element) => element.attr("data-status").await.unwrap_or_default(),
            Err(_) => None,
        };
        if status.as_deref() == Some("successful") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pipeline stayed {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    std::fs::write(
        screenshots().join("pipelines-run.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();
    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_errors_read_as_a_person_wants_them() {
    let (fake, gateway, _driver, browser) = setup().await;
    sign_in(&browser, &gateway, REPO_HASH).await;
    // Overview settled, its dashboard's fan-out included: from here a
    // search is the only request upstream.
    wait_for_text(&browser, "#tab-overview", "Ada Lovelace").await;
    dashboard_drawn(&browser).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    open_tab(&browser, "code-search").await;
    fake.control().inject(Fault::Status {
        status: 404,
        content_type: "application/json",
        body: r#"{"type": "error", "error": {"message": "No workspace with identifier 'atom-labs'."}}"#.into(),
        retry_after: None,
    });
    let query = browser
        .find(Locator::Css("[data-testid=search-query]"))
        .await
        .unwrap();
    query.send_keys("TODO\u{E007}").await.unwrap();
    let shown = wait_for_text(&browser, "[data-testid=error]", "Not found").await;
    assert!(!shown.contains("{\""), "a sentence, not JSON: {shown}");
    fake.control().faults.clear();

    // Bitbucket rate-limits the next requests: the page says until when.
    browser
        .goto(&gateway.url("/#issues?ws=atom-labs&repo=bitbucket-plugin"))
        .await
        .unwrap();
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[role=tablist]"))
        .await
        .unwrap();
    for _ in 0..6 {
        fake.control().inject(Fault::rate_limited(Some(120)));
    }
    open_tab(&browser, "issues").await;
    wait_for_text(&browser, "[data-testid=error]", "Rate-limited until").await;
    std::fs::write(
        screenshots().join("error.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();
    fake.control().faults.clear();
    browser.close().await.unwrap();
}

/// The page copies no catalogue: the webhook form offers exactly the events
/// `GET /v1/capabilities` publishes, the pull request states are the ones
/// `GET /v1/operations` allows, and every module is served as script.
#[tokio::test(flavor = "multi_thread")]
async fn the_page_offers_what_the_component_publishes() {
    let (_fake, gateway, _driver, browser) = setup().await;
    let client = reqwest::Client::new();
    let (_, _, capabilities) = crate::common::answer(
        client
            .get(gateway.url("/v1/capabilities"))
            .bearer_auth(&gateway.acme_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let published: Vec<String> =
        serde_json::from_value(capabilities["webhook_events"].clone()).unwrap();
    assert!(published.contains(&"repo:push".to_owned()), "{published:?}");

    sign_in(&browser, &gateway, REPO_HASH).await;
    open_tab(&browser, "settings").await;
    let boxes = |selector: &str| {
        format!(
            "return [...document.querySelectorAll('[data-testid=new-webhook-form] [name=events]{selector}')]\
             .map((box) => box.value);"
        )
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    let offered = loop {
        let values = browser.execute(&boxes(""), vec![]).await.unwrap();
        let values: Vec<String> = serde_json::from_value(values).unwrap();
        if !values.is_empty() || tokio::time::Instant::now() > deadline {
            break values;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(offered, published);
    let checked = browser.execute(&boxes(":checked"), vec![]).await.unwrap();
    assert_eq!(checked, json!(["repo:push"]), "the form starts with a push");

    // The pull request states are the ones list-pull-requests' schema allows.
    let (_, _, operations) = crate::common::answer(
        client
            .get(gateway.url("/v1/operations"))
            .bearer_auth(&gateway.acme_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let schema = &operations
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["name"] == "list-pull-requests")
        .unwrap()["parameters_schema"];
    let state = schema["properties"]["states"]["items"]["$ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("#/$defs/");
    let states = &schema["$defs"][state]["enum"];
    open_tab(&browser, "pull-requests").await;
    wait_for_text(
        &browser,
        "[data-testid=pr-list]",
        "Add OAuth 2.0 login flow",
    )
    .await;
    let offered = browser
        .execute(
            "return [...document.querySelectorAll('#pr-state option')].map((o) => o.value);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(&offered, states);

    for name in ["app.js", "api.js", "settings.js"] {
        let response = client
            .get(gateway.url(&format!("/assets/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let content_type = &response.headers()["content-type"];
        assert!(
            content_type
                .to_str()
                .unwrap()
                .starts_with("text/javascript"),
            "{name}: {content_type:?}"
        );
    }
    let missing = client
        .get(gateway.url("/assets/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}

/// The text of every element `css` matches, once there is at least one.
async fn texts(browser: &Client, css: &str) -> Vec<String> {
    let script =
        format!("return [...document.querySelectorAll({css:?})].map((e) => e.textContent.trim());");
    let values = browser.execute(&script, vec![]).await.unwrap();
    serde_json::from_value(values).unwrap()
}

/// With 57 issues, the list starts with the newest and "Load more" reaches
/// the oldest, each once.
#[tokio::test(flavor = "multi_thread")]
async fn issues_start_newest_and_load_more_reaches_the_oldest() {
    let (fake, gateway, _driver, browser) = setup().await;
    {
        let mut world = fake.control();
        let seeded: Vec<_> = world
            .issues
            .iter()
            .filter(|i| i.repo == "atom-labs/bitbucket-plugin")
            .cloned()
            .collect();
        let last = seeded.iter().max_by_key(|i| i.id).unwrap().clone();
        for id in last.id + 1..=57 {
            let mut issue = last.clone();
            issue.id = id;
            issue.title = format!("Seeded issue {id}");
            issue.created_on = last.created_on + (id - last.id) * 3_600;
            issue.updated_on = issue.created_on;
            world.issues.push(issue);
        }
    }
    sign_in(
        &browser,
        &gateway,
        "#issues?ws=atom-labs&repo=bitbucket-plugin",
    )
    .await;
    open_tab(&browser, "issues").await;
    wait_for_text(&browser, "[data-testid=issue-list]", "#57 ").await;
    let shown = texts(&browser, "[data-testid=issue-row] .title").await;
    assert!(shown[0].starts_with("#57 "), "newest first: {shown:?}");
    assert_eq!(shown.len(), 50);
    browser
        .find(Locator::Css(
            "[data-testid=issue-list] [data-testid=load-more]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&browser, "[data-testid=issue-list]", "#1 ").await;
    let shown = texts(&browser, "[data-testid=issue-row] .title").await;
    let ids: Vec<u64> = shown
        .iter()
        .map(|t| t[1..t.find(' ').unwrap()].parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=57).rev().collect::<Vec<_>>());
    assert!(
        browser
            .find(Locator::Css(
                "[data-testid=issue-list] [data-testid=load-more]"
            ))
            .await
            .is_err(),
        "nothing more after the oldest"
    );
    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}

/// With the gateway's read cache on, a followed run ends with its steps'
/// final states, not the ones cached while it was pending.
#[tokio::test(flavor = "multi_thread")]
async fn a_followed_run_shows_its_steps_final_states_through_the_cache() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &["--cache-ttl-secs", "60"]).await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    sign_in(
        &browser,
        &gateway,
        "#pipelines?ws=atom-labs&repo=bitbucket-plugin",
    )
    .await;
    run_pipeline_on_main(&browser).await;
    let statuses = "return [...document.querySelectorAll('[data-testid=step-row]')].map((r) => r.dataset.status);";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let run = match browser
            .find(Locator::Css("[data-testid=pipeline-status]"))
            .await
        {
            Ok(element) => element.attr("data-status").await.unwrap_or_default(),
            Err(_) => None,
        };
        let steps: Vec<String> =
            serde_json::from_value(browser.execute(statuses, vec![]).await.unwrap()).unwrap();
        if run.as_deref() == Some("successful")
            && !steps.is_empty()
            && steps.iter().all(|s| s == "successful")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run is {run:?}, its steps {steps:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    browser.close().await.unwrap();
}

/// A first visit logs nothing (no 401 for the session probe), and the
/// first screen after signing in shows the repository that moved last, not
/// whichever name sorts first.
#[tokio::test(flavor = "multi_thread")]
async fn the_first_screen_shows_the_latest_repository_and_a_first_visit_logs_nothing() {
    let (_fake, gateway, _driver, browser) = setup().await;
    browser.goto(&gateway.url("/")).await.unwrap();
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("input[type=password]"))
        .await
        .unwrap();
    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "a first visit logs: {errors:#?}");

    let (_, _, latest) = crate::common::answer(
        reqwest::Client::new()
            .get(gateway.url("/bitbucket/repositories?workspace=acme&sort=-updated_on&size=1"))
            .bearer_auth(&gateway.acme_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let latest = latest["repositories"][0]["slug"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(latest, "api-client-00");
    sign_in(&browser, &gateway, "").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let chosen = browser
            .execute(
                "return document.getElementById('repo-select').value;",
                vec![],
            )
            .await
            .unwrap();
        if chosen == json!(latest) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first screen chose {chosen}, not {latest}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The latest repository is one with activity, so the first screen's
    // figures are not all zero.
    let open_prs = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("[data-testid=stat-open-prs] .value"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        open_prs.parse::<u32>().is_ok_and(|n| n > 0),
        "the first screen shows {open_prs} open pull requests"
    );
    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}

/// Runs the pipeline on `main` from the Pipelines tab's form.
async fn run_pipeline_on_main(browser: &Client) {
    open_tab(browser, "pipelines").await;
    let run = open_form(
        browser,
        "#run-pipeline-form",
        "[data-testid=run-pipeline-button]",
    )
    .await;
    choose(&run, "branch", "main").await;
    run.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks what `css` matches.
async fn click(browser: &Client, css: &str) {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Settings on a gateway without an OAuth client: Connect explains in place
/// what to do instead; deleting a webhook and disconnecting ask first; the
/// OAuth callback's return is told beside the buttons.
#[tokio::test(flavor = "multi_thread")]
async fn settings_explain_missing_oauth_and_ask_before_deleting_or_disconnecting() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start_with(
        &fake,
        &["--cache-ttl-secs", "0"],
        &[("ATOM_OAUTH_CLIENT_ID", "")],
    )
    .await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    let client = reqwest::Client::new();
    let hook_url = gateway.url("/bitbucket/webhooks/acme");
    let created = client
        .post(gateway.url("/bitbucket/repositories/atom-labs/bitbucket-plugin/webhooks"))
        .bearer_auth(&gateway.acme_key)
        .header("content-type", "application/json")
        .body(json!({ "url": hook_url, "events": ["repo:push"] }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    sign_in(
        &browser,
        &gateway,
        "#settings?ws=atom-labs&repo=bitbucket-plugin",
    )
    .await;
    open_tab(&browser, "settings").await;
    click(&browser, "[data-testid=oauth-connect]").await;
    let note = wait_for_text(
        &browser,
        "[data-testid=oauth-note]",
        "OAuth is not configured for this gateway",
    )
    .await;
    assert!(note.contains("auth add-token"), "{note}");
    let connect = browser
        .find(Locator::Css("[data-testid=oauth-connect]"))
        .await
        .unwrap();
    assert!(!connect.is_enabled().await.unwrap(), "no dead button");
    let banner = browser
        .execute(
            "return document.getElementById('error-banner').hidden;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(banner, json!(true), "no banner off-screen");

    // Deleting a webhook asks; Cancel keeps it, confirming deletes it.
    let row = "[data-testid=webhook-row] .title";
    wait_for_text(&browser, "[data-testid=webhook-list]", &hook_url).await;
    click(&browser, "[data-testid=webhook-delete]").await;
    click(&browser, "[data-testid=confirm-cancel]").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(texts(&browser, row).await, vec![hook_url.clone()]);
    click(&browser, "[data-testid=webhook-delete]").await;
    click(&browser, "[data-testid=confirm-ok]").await;
    wait_for_text(&browser, "[data-testid=webhook-list]", "No webhooks").await;

    // Disconnect asks, then the gateway holds no credential for acme.
    click(&browser, "[data-testid=oauth-disconnect]").await;
    click(&browser, "[data-testid=confirm-ok]").await;
    wait_for_text(&browser, "[data-testid=oauth-note]", "Disconnected").await;
    let (_, _, health) = crate::common::answer(
        client
            .get(gateway.url("/bitbucket/health"))
            .bearer_auth(&gateway.acme_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(health["status"], "healthy", "{health}");

    // The OAuth callback's return, told where the person looks.
    browser
        .goto(&gateway.url("/?oauth_error=validation#settings"))
        .await
        .unwrap();
    wait_for_text(
        &browser,
        "[data-testid=oauth-note]",
        "expired or was already used",
    )
    .await;
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.query(), None, "the notice is shown once: {url}");
    browser.close().await.unwrap();
}

// FIXME: fixture title. The fake's reviewable pull request (a modified, an
// added, a deleted, a renamed, a binary and a very large file; a failed and
// a successful build; comments, one inline; tasks) is found by this title.
const REVIEWABLE_PR: &str = "Add OAuth 2.0 login flow";

/// A pull request's review: its files open one at a time onto their diff,
/// its unresolved threads and its builds show, all comments group into
/// threads with their anchors; the whole still fits a phone. Then a
/// repository's source: a directory, and a file's text.
#[tokio::test(flavor = "multi_thread")]
async fn a_pull_requests_review_and_a_repositorys_source_read_in_the_page() {
    let (_fake, gateway, _driver, browser) = setup().await;
    sign_in(
        &browser,
        &gateway,
        "#pull-requests?ws=atom-labs&repo=bitbucket-plugin",
    )
    .await;
    open_tab(&browser, "pull-requests").await;
    wait_for_text(&browser, "[data-testid=pr-list]", REVIEWABLE_PR).await;
    let id = browser
        .execute(
            "return [...document.querySelectorAll('[data-testid=pr-row]')]\
             .find((row) => row.textContent.includes(arguments[0]))?.dataset.id ?? null;",
            vec![json!(REVIEWABLE_PR)],
        )
        .await
        .unwrap();
    let id = id
        .as_str()
        .expect("the reviewable pull request is listed")
        .to_owned();
    click(
        &browser,
        &format!("[data-testid=pr-row][data-id='{id}'] .row-open"),
    )
    .await;

    // Every changed file is listed folded, the binary one said to be so;
    // opening one loads its diff.
    wait_for_text(&browser, "#pr-files", "binary").await;
    let toggle = "#pr-files [data-change='modified'] .file-toggle";
    let folded = browser
        .find(Locator::Css(toggle))
        .await
        .unwrap()
        .attr("aria-expanded")
        .await
        .unwrap();
    assert_eq!(folded.as_deref(), Some("false"), "files start folded");
    click(&browser, toggle).await;
    wait_for_text(&browser, "#pr-files .diff-line.add", "+").await;
    let expanded = browser
        .find(Locator::Css(toggle))
        .await
        .unwrap()
        .attr("aria-expanded")
        .await
        .unwrap();
    assert_eq!(expanded.as_deref(), Some("true"));

    // The failed build, and the bundle's unresolved threads.
    wait_for_text(&browser, "#pr-statuses", "Failed").await;
    browser
        .find(Locator::Css(
            "#pr-statuses [data-testid=build-status][data-state=failed]",
        ))
        .await
        .expect("the failed build is marked failed");
    wait_for_text(&browser, "#pr-threads [data-testid=comment-thread]", "").await;
    // All comments, grouped into threads; an inline one shows `path:line`.
    click(&browser, "#pr-all-comments").await;
    wait_for_text(&browser, "#pr-comments-title", "All comments").await;
    let anchor = wait_for_text(&browser, "#pr-threads .comment-anchor", ":").await;
    assert!(
        anchor
            .rsplit(':')
            .next()
            .is_some_and(|line| line.parse::<u32>().is_ok()),
        "an inline comment's anchor is path:line, not {anchor}"
    );
    std::fs::write(
        screenshots().join("pull-request-review.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    // At a phone's width the diff scrolls inside its box, not the page.
    browser.set_window_size(390, 844).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let overflow = browser
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the review scrolls sideways by {overflow} px at 390 px"
    );
    browser.set_window_size(1280, 900).await.unwrap();

    // The repository's source at its main branch: a directory, then a file.
    open_tab(&browser, "repositories").await;
    click(
        &browser,
        "[data-testid=repo-row][data-slug='bitbucket-plugin'] .row-open",
    )
    .await;
    wait_for_text(&browser, "#src-list", "src/").await;
    click(
        &browser,
        "#src-list [data-testid=src-entry][data-kind=directory][data-path='src'] .row-open",
    )
    .await;
    wait_for_text(&browser, "#src-crumbs", "src").await;
    wait_for_text(&browser, "#src-list", "lib.rs").await;
    click(
        &browser,
        "#src-list [data-testid=src-entry][data-path='src/lib.rs'] .row-open",
    )
    .await;
    // The fixtures' Rust files open with this doc comment.
    wait_for_text(&browser, "#src-file-content", "Bitbucket Cloud client").await;
    std::fs::write(
        screenshots().join("repository-source.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}

/// Waits until no element `css` reads `text`.
async fn gone_from(browser: &Client, css: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let listed = texts(browser, css).await;
        if !listed.iter().any(|t| t == text) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{text} still listed: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Fills the form's text field `name`.
async fn type_into(form: &fantoccini::elements::Element, name: &str, text: &str) {
    let field = form
        .find(Locator::Css(&format!("[name={name}]")))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// A repository's detail makes a branch from its main branch and a tag at
/// that branch, both as Bitbucket (the fake) then holds them, and deletes
/// them after asking; the main branch offers no delete.
#[tokio::test(flavor = "multi_thread")]
async fn branches_and_tags_are_made_and_deleted_from_a_repositorys_detail() {
    let (fake, gateway, _driver, browser) = setup().await;
    sign_in(&browser, &gateway, REPO_HASH).await;
    open_tab(&browser, "repositories").await;
    click(
        &browser,
        "[data-testid=repo-row][data-slug='bitbucket-plugin'] .row-open",
    )
    .await;
    wait_for_text(&browser, "[data-testid=branch-list]", "develop").await;
    wait_for_text(&browser, "[data-testid=tag-list]", "v0.2.0").await;
    let main_deletes = browser
        .find_all(Locator::Css(
            "[data-testid=branch-row][data-name='main'] [data-testid=branch-delete]",
        ))
        .await
        .unwrap();
    assert!(main_deletes.is_empty(), "the main branch offers no delete");

    let branch_form = open_form(&browser, "[data-testid=new-branch-form]", "").await;
    // The form starts at the main branch.
    let target = branch_form
        .find(Locator::Css("[name=target]"))
        .await
        .unwrap();
    assert_eq!(target.prop("value").await.unwrap().as_deref(), Some("main"));
    type_into(&branch_form, "name", "feature/from-the-page").await;
    click(&browser, "[data-testid=new-branch-submit]").await;
    wait_for_text(
        &browser,
        "[data-testid=branch-list]",
        "feature/from-the-page",
    )
    .await;
    let main_head = {
        let world = fake.control();
        let head = |name: &str| {
            world
                .branches
                .iter()
                .find(|b| b.repo == "atom-labs/bitbucket-plugin" && b.name == name)
                .map(|b| b.target.clone())
        };
        assert_eq!(head("feature/from-the-page"), head("main"));
        head("main").unwrap()
    };

    let tag_form = open_form(&browser, "[data-testid=new-tag-form]", "").await;
    type_into(&tag_form, "name", "v9.0.0").await;
    type_into(&tag_form, "target", "feature/from-the-page").await;
    type_into(&tag_form, "message", "Made in the page").await;
    click(&browser, "[data-testid=new-tag-submit]").await;
    wait_for_text(&browser, "[data-testid=tag-list]", "v9.0.0").await;
    {
        let world = fake.control();
        let tag = world
            .tags
            .iter()
            .find(|t| t.repo == "atom-labs/bitbucket-plugin" && t.name == "v9.0.0")
            .expect("the tag exists");
        assert_eq!(tag.target, main_head);
        assert_eq!(
            tag.annotation.as_ref().map(|a| a.message.as_str()),
            Some("Made in the page")
        );
    }

    // Deleting asks: Cancel keeps the branch, confirming deletes it.
    let branch_delete =
        "[data-testid=branch-row][data-name='feature/from-the-page'] [data-testid=branch-delete]";
    click(&browser, branch_delete).await;
    click(&browser, "[data-testid=confirm-cancel]").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = |name: &str| {
        fake.control()
            .branches
            .iter()
            .any(|b| b.repo == "atom-labs/bitbucket-plugin" && b.name == name)
    };
    assert!(kept("feature/from-the-page"), "Cancel keeps it");
    click(&browser, branch_delete).await;
    click(&browser, "[data-testid=confirm-ok]").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while kept("feature/from-the-page") {
        assert!(tokio::time::Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gone_from(
        &browser,
        "[data-testid=branch-row] .title",
        "feature/from-the-page",
    )
    .await;

    click(
        &browser,
        "[data-testid=tag-row][data-name='v9.0.0'] [data-testid=tag-delete]",
    )
    .await;
    click(&browser, "[data-testid=confirm-ok]").await;
    gone_from(&browser, "[data-testid=tag-row] .title", "v9.0.0").await;
    assert!(
        !fake
            .control()
            .tags
            .iter()
            .any(|t| t.repo == "atom-labs/bitbucket-plugin" && t.name == "v9.0.0")
    );
    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}

/// Pipelines shows each environment's latest deployment; a pull request
/// asked to merge when green shows what it waits for, and is cancelled.
#[tokio::test(flavor = "multi_thread")]
async fn deployments_show_per_environment_and_a_merge_when_green_waits_visibly_until_cancelled() {
    let (fake, gateway, _driver, browser) = setup().await;
    sign_in(&browser, &gateway, REPO_HASH).await;
    open_tab(&browser, "pipelines").await;
    let row = |env: &str| format!("[data-testid=environment-row][data-environment='{env}']");
    // The seeded history: Staging deployed twice and Production twice, its
    // latest a success; nothing ever went to Test.
    let production = wait_for_text(&browser, &row("Production"), "2 deployments").await;
    assert!(production.contains("successful"), "{production}");
    wait_for_text(&browser, &row("Staging"), "2 deployments").await;
    wait_for_text(&browser, &row("Test"), "never deployed").await;

    open_tab(&browser, "pull-requests").await;
    click(&browser, "[data-testid=pr-row][data-id='6'] .row-open").await;
    wait_for_text(&browser, "[data-testid=pr-title]", "Release 2026.11").await;
    click(&browser, "[data-testid=pr-merge-when-green]").await;
    click(&browser, "[data-testid=confirm-ok]").await;
    let waiting = wait_for_text(
        &browser,
        "[data-testid=merge-wait-status]",
        "Waiting to merge when green",
    )
    .await;
    assert!(
        waiting.contains("no build has reported yet")
            && waiting.contains("more approvals are required"),
        "{waiting}"
    );
    click(&browser, "[data-testid=merge-wait-cancel]").await;
    wait_for_text(&browser, "[data-testid=merge-wait-status]", "cancelled").await;
    let listed = reqwest::Client::new()
        .get(gateway.url("/bitbucket/merge-waits"))
        .bearer_auth(&gateway.acme_key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["waits"][0]["state"], "cancelled", "{listed}");
    assert_eq!(listed["waits"][0]["pull_request_id"], 6);
    let state = format!(
        "{:?}",
        fake.control()
            .pull_request("atom-labs", "bitbucket-plugin", 6)
            .unwrap()
            .state
    );
    assert_eq!(state, "Open");
    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}

/// The chart `<img>`s of the dashboard: whether each has loaded, and its alt.
/// Waits until every chart of the dashboard has loaded: with the cache
/// off, each is a fan-out upstream of its own.
async fn dashboard_drawn(browser: &Client) -> Vec<(bool, String)> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let charts = dashboard_charts(browser).await;
        if charts.len() >= 2 && charts.iter().all(|(loaded, _)| *loaded) {
            return charts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the charts never loaded: {charts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn dashboard_charts(browser: &Client) -> Vec<(bool, String)> {
    let found = browser
        .execute(
            "return [...document.querySelectorAll('[data-testid=insights-chart] img')]
                .map((img) => [img.complete && img.naturalWidth > 0, img.alt]);",
            vec![],
        )
        .await
        .unwrap();
    found
        .as_array()
        .into_iter()
        .flatten()
        .map(|pair| {
            (
                pair[0].as_bool().unwrap_or(false),
                pair[1].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The Overview as a dashboard people look at: the four DORA measures with
/// their bands, the gateway's charts loaded with text alternatives that
/// carry the figures, what needs attention, and all of it on a phone.
/// With `ATOM_UPDATE_SCREENSHOTS=1` its screenshot replaces
/// `docs/screenshots/dashboard.png`.
#[tokio::test(flavor = "multi_thread")]
async fn the_overview_is_a_delivery_dashboard_that_fits_a_phone() {
    let fake = FakeBitbucket::start().await.unwrap();
    // The read cache on, as deployed: the charts reuse the dashboard's answer.
    let gateway = Gateway::start(&fake, &[]).await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    sign_in(&browser, &gateway, "#overview?ws=atom-labs").await;

    for measure in [
        "dora-deployment-frequency",
        "dora-lead-time",
        "dora-change-failure-rate",
        "dora-time-to-restore",
    ] {
        let band = wait_for_text(
            &browser,
            &format!("[data-testid={measure}] [data-testid=dora-band]"),
            " band",
        )
        .await;
        assert!(
            ["Elite band", "High band", "Medium band", "Low band"].contains(&band.as_str()),
            "{measure} shows '{band}'"
        );
        let card = wait_for_text(&browser, &format!("[data-testid={measure}]"), "").await;
        assert!(
            card.chars().any(|c| c.is_ascii_digit()),
            "{measure}: {card}"
        );
    }

    let charts = dashboard_drawn(&browser).await;
    for (loaded, alt) in &charts {
        assert!(*loaded, "every chart loads: {charts:?}");
        assert!(
            alt.chars().any(|c| c.is_ascii_digit()),
            "an alt that states figures: '{alt}'"
        );
    }
    let captions = texts(&browser, "[data-testid=insights-chart] figcaption").await;
    assert!(captions.iter().all(|c| !c.is_empty()), "{captions:?}");

    wait_for_text(&browser, "[data-testid=attention-list]", "").await;
    let attention = texts(&browser, "[data-testid=attention-row]").await;
    assert!(
        !attention.is_empty() && attention.iter().all(|row| !row.is_empty()),
        "the fake's history needs attention somewhere: {attention:?}"
    );
    let repositories = texts(&browser, "[data-testid=insights-repo-row]").await;
    assert_eq!(
        repositories.len(),
        12,
        "every repository of atom-labs: {repositories:?}"
    );
    for slug in ["atom-core", "infra-live", "web-console"] {
        assert!(
            repositories.iter().any(|row| row.contains(slug)),
            "{slug}: {repositories:?}"
        );
    }
    let partial = browser
        .find(Locator::Css("[data-testid=insights-partial]"))
        .await
        .unwrap();
    assert!(
        !partial.is_displayed().await.unwrap(),
        "atom-labs is read whole"
    );

    // The whole Overview in one picture: the window as tall as the page.
    let height = browser
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(900)
        .clamp(900, 6000) as u32;
    browser.set_window_size(1280, height + 120).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shot = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join("dashboard.png"), &shot).unwrap();
    if std::env::var("ATOM_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::write(docs.join("dashboard.png"), &shot).unwrap();
    }

    // A workspace larger than the dashboard's sample says what it left out.
    browser
        .execute("location.hash = '#overview?ws=acme';", vec![])
        .await
        .unwrap();
    let notice = wait_for_text(&browser, "[data-testid=insights-partial]", "not sampled").await;
    assert!(notice.starts_with("Partial figures."), "{notice}");
    assert!(!notice.contains("null"), "{notice}");

    browser.set_window_size(390, 844).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let overflow = browser
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the dashboard scrolls sideways by {overflow} px at 390 px"
    );
    std::fs::write(
        screenshots().join("dashboard-390.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();

    let errors = severe_console_messages(&browser).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await.unwrap();
}
