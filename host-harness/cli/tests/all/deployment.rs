//! A deployment of several `serve` replicas on one PostgreSQL (tenants,
//! keys, sealed credentials, leases, waits) and one Redis (sessions,
//! logins, replays, budget, slots, fan-out), against the fake: any replica
//! serves any request. The PostgreSQL server is the machine's (each test in
//! its own schema); the Redis server is the test's own, on its own port and
//! with its append-only file in the test's directory, so a test can kill and
//! restart it without touching anyone else's.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{answer, harness_on, read_until, receiver, run, spawn_with};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket, FaultKind, FaultPlan, FaultRule, GRACE_TOKEN};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The operator's credential every replica is started with.
const OPERATOR_TOKEN: &str = "operator-token-for-the-deployment-tests-0123456789";

fn postgres_base() -> String {
    std::env::var("ATOM_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn random_hex() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A schema of its own in the machine's PostgreSQL, dropped at the end.
struct Schema {
    name: String,
}

impl Schema {
    async fn create() -> Self {
        let name = format!("atom_deploy_{}", random_hex());
        let sql = format!("CREATE SCHEMA {name}");
        tokio::task::spawn_blocking(move || psql(&sql))
            .await
            .unwrap();
        Self { name }
    }

    /// The store URL of this schema, through `host_port` (the server, or a
    /// proxy in front of it).
    fn url_via(&self, host_port: &str) -> String {
        let base = postgres_base().replace("127.0.0.1:5432", host_port);
        format!("{base}?options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // On a thread of its own: the sync client must not run on a thread
        // that drives the test's runtime.
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = std::thread::spawn(move || psql(&sql)).join();
    }
}

fn psql(sql: &str) {
    let mut client = postgres::Client::connect(&postgres_base(), postgres::NoTls)
        .expect("the test PostgreSQL answers (scripts/test starts it)");
    client.batch_execute(sql).unwrap();
}

/// The test's own Redis: append-only with a sync per write, as the
/// deployment page configures it, so a restart keeps what was acknowledged.
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
        };
        redis.run().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        self.child = Some(child);
        let port = self.port;
        let answered = tokio::task::spawn_blocking(move || {
            (0..100).any(|_| {
                let pong = TcpStream::connect(("127.0.0.1", port))
                    .ok()
                    .and_then(|mut s| {
                        s.write_all(b"PING\r\n").ok()?;
                        let mut reply = [0u8; 7];
                        s.read_exact(&mut reply).ok()?;
                        Some(reply.starts_with(b"+PONG"))
                    });
                pong == Some(true) || {
                    std::thread::sleep(Duration::from_millis(50));
                    false
                }
            })
        })
        .await
        .unwrap();
        assert!(answered, "redis-server did not start on {port}");
    }

    /// Killed outright: what a crash does.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore.
struct Cuttable {
    addr: String,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Cuttable {
    async fn to(upstream: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (serving, kept) = (up.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !serving.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused at once
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                kept.lock().unwrap().push(task.abort_handle());
            }
        });
        Self { addr, up, open }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.open.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

struct Replica {
    child: Child,
    base: String,
}

impl Replica {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replicas of `serve` sharing one store and one Redis; tenants `acme`
/// (Ada's token) and `globex`, registered through the CLI on PostgreSQL.
struct Deployment {
    replicas: Vec<Replica>,
    acme_key: String,
    store: String,
    dir: tempfile::TempDir,
    redis: Redis,
    next: AtomicUsize,
    _schema: Schema,
}

impl Deployment {
    async fn start(fake: &FakeBitbucket, replicas: usize, extra: &[&str]) -> Self {
        let schema = Schema::create().await;
        Self::start_via(fake, replicas, extra, schema, "127.0.0.1:5432").await
    }

    async fn start_via(
        fake: &FakeBitbucket,
        replicas: usize,
        extra: &[&str],
        schema: Schema,
        postgres: &str,
    ) -> Self {
        fake.control().allow_loopback_webhooks = true;
        let dir = tempfile::tempdir().unwrap();
        let store = schema.url_via(postgres);
        let redis = Redis::start().await;
        run(harness_on(&dir, &store).args(["keys", "init"]));
        let acme_key = run(harness_on(&dir, &store).args(["tenants", "add", "acme"]));
        run(harness_on(&dir, &store).args(["tenants", "add", "globex"]));
        run(harness_on(&dir, &store)
            .args(["--tenant", "acme", "auth", "add-token"])
            .args(["--kind", "access-token"])
            .env("BITBUCKET_ACCESS_TOKEN", ADA_TOKEN));
        let prefix = format!("atom-test-{}", random_hex());
        let mut flags = vec!["--redis", redis.url().leak(), "--redis-prefix"];
        flags.push(prefix.leak());
        flags.extend_from_slice(extra);
        let started = futures_util::future::join_all((0..replicas).map(|_| {
            spawn_with(
                harness_on(&dir, &store),
                fake,
                &flags,
                &[("ATOM_OPERATOR_TOKEN", OPERATOR_TOKEN)],
            )
        }))
        .await;
        Self {
            replicas: started
                .into_iter()
                .map(|(child, base, _)| Replica { child, base })
                .collect(),
            acme_key: acme_key.trim().to_owned(),
            store,
            dir,
            redis,
            next: AtomicUsize::new(0),
            _schema: schema,
        }
    }

    /// The next replica, round robin: what a load balancer does.
    fn any(&self) -> &Replica {
        &self.replicas[self.next.fetch_add(1, Ordering::Relaxed) % self.replicas.len()]
    }

    /// A call as acme, never answered from a replica's cache: these tests
    /// are about what replicas share, and a cached answer needs none of it.
    async fn call(&self, replica: &Replica, operation: &str, params: Value) -> (StatusCode, Value) {
        self.send(replica, operation, params, false).await
    }

    /// A read the replica may answer from its cache.
    async fn read_cached(
        &self,
        replica: &Replica,
        operation: &str,
        params: Value,
    ) -> (StatusCode, Value) {
        self.send(replica, operation, params, true).await
    }

    async fn send(
        &self,
        replica: &Replica,
        operation: &str,
        params: Value,
        cached: bool,
    ) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new()
            .post(replica.url(&format!("/v1/operations/{operation}")))
            .bearer_auth(&self.acme_key)
            .header("content-type", "application/json")
            .body(params.to_string());
        if !cached {
            request = request.header("cache-control", "no-cache");
        }
        let (status, _, body) = answer(request.send().await.unwrap()).await;
        (status, body)
    }

    async fn operator(
        &self,
        replica: &Replica,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .request(method, replica.url(path))
            .bearer_auth(OPERATOR_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let (status, _, body) = answer(response).await;
        (status, body)
    }

    /// A browser session for acme opened on `replica`: its cookie pair and
    /// its CSRF token.
    async fn open_session(&self, replica: &Replica) -> (String, String) {
        let opened = reqwest::Client::new()
            .post(replica.url("/v1/session"))
            .bearer_auth(&self.acme_key)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let cookie = opened.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let (status, _, session) = answer(opened).await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        (cookie, session["csrf_token"].as_str().unwrap().to_owned())
    }

    async fn ready(&self, replica: &Replica) -> StatusCode {
        reqwest::get(replica.url("/readyz")).await.unwrap().status()
    }

    /// Waits up to ten seconds for `replica`'s `/readyz` to say `want`.
    async fn until_ready(&self, replica: &Replica, want: StatusCode) {
        for _ in 0..100 {
            if self.ready(replica).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("/readyz never answered {want}");
    }
}

/// The webhook secret made through the operator API, and acme's hook for
/// `events` at `intake`'s `/bitbucket/webhooks/acme`.
async fn hook_up(deployment: &Deployment, intake: &Replica, events: &[&str]) {
    let (status, made) = deployment
        .operator(
            deployment.any(),
            reqwest::Method::PUT,
            "/operator/v1/tenants/acme/webhook-secret",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let hook = json!({
        "workspace": "atom-labs", "repo_slug": "bitbucket-plugin",
        "url": intake.url("/bitbucket/webhooks/acme"),
        "events": events,
        "secret": made["secret"],
    });
    let (status, created) = deployment
        .call(deployment.any(), "create-webhook", hook)
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
}

async fn open_pull_request(deployment: &Deployment, title: &str) -> (u64, String) {
    let (status, created) = deployment
        .call(
            deployment.any(),
            "create-pull-request",
            json!({
                "workspace": "atom-labs", "repo_slug": "bitbucket-plugin",
                "title": title, "source_branch": "feature/search-v2", "destination_branch": "main",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    (
        created["id"].as_u64().unwrap(),
        created["source_commit"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn any_replica_serves_a_session_a_login_and_an_event_another_one_began() {
    let fake = FakeBitbucket::start().await.unwrap();
    let (forward_to, forwarded) = receiver().await;
    let deployment = Deployment::start(&fake, 3, &["--forward-events-to", &forward_to]).await;
    let [first, second, third] = &deployment.replicas[..] else {
        unreachable!()
    };

    // A browser session opened on the first works on the second and third.
    let (cookie, csrf) = deployment.open_session(first).await;
    let read = reqwest::Client::new()
        .get(second.url("/v1/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (_, _, read) = answer(read).await;
    assert_eq!(read["tenant"], "acme", "{read}");
    let acted = reqwest::Client::new()
        .post(third.url("/v1/operations/get-current-user"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, _, user) = answer(acted).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["display_name"], "Ada Lovelace");

    // An OAuth login started on the first completes on the second, once.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = reqwest::Client::new()
        .get(first.url("/bitbucket/oauth/start"))
        .bearer_auth(&deployment.acme_key)
        .send()
        .await
        .unwrap();
    let state_cookie = started.headers()["set-cookie"].to_str().unwrap();
    let state_cookie = state_cookie.split(';').next().unwrap().to_owned();
    let (status, _, started) = answer(started).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let consent = no_redirects
        .get(started["authorization_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let query = location.query().unwrap().to_owned();
    let callback = |replica: &Replica| {
        no_redirects
            .get(replica.url(&format!("/bitbucket/oauth/callback?{query}")))
            .header("cookie", &state_cookie)
            .send()
    };
    let landed = callback(second).await.unwrap();
    assert_eq!(landed.headers()["location"], "/?oauth=connected#settings");
    let again = callback(third).await.unwrap();
    assert_eq!(
        again.headers()["location"],
        "/?oauth_error=validation#settings",
        "a state completes once across the deployment"
    );
    assert_eq!(
        fake.control()
            .requests_to("/site/oauth2/access_token")
            .len(),
        1
    );

    // A write through one replica makes the others forget their cached reads.
    let issues = json!({"workspace": "atom-labs", "repo_slug": "bitbucket-plugin"});
    let titles = |listing: &Value| -> Vec<String> {
        listing["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, before) = deployment
        .read_cached(second, "list-issues", issues.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let (status, created) = deployment
        .call(
            first,
            "create-issue",
            json!({"workspace": "atom-labs", "repo_slug": "bitbucket-plugin",
                   "title": "Filed on the first replica"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let mut after = Value::Null;
    for _ in 0..50 {
        after = deployment
            .read_cached(second, "list-issues", issues.clone())
            .await
            .1;
        if titles(&after).contains(&"Filed on the first replica".to_owned()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        titles(&after).contains(&"Filed on the first replica".to_owned()),
        "the second replica still answers its cached listing: {after}"
    );
    assert_eq!(titles(&after).len(), titles(&before).len() + 1);

    // A delivery to the first reaches a stream held on the second; its
    // replay is refused by the third.
    let mut stream = reqwest::Client::new()
        .get(second.url("/bitbucket/events"))
        .bearer_auth(&deployment.acme_key)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    hook_up(&deployment, first, &["pullrequest:created"]).await;
    open_pull_request(&deployment, "Hooked across replicas").await;
    let seen = read_until(
        &mut stream,
        "Hooked across replicas",
        Duration::from_secs(10),
    )
    .await;
    assert!(seen.contains("event: pullrequest:created"), "{seen}");
    let delivery = fake.wait_for_deliveries(1, Duration::from_secs(5)).await[0].clone();
    assert_eq!(delivery.status, Some(200), "{delivery:?}");
    let mut replay = reqwest::Client::new()
        .post(third.url("/bitbucket/webhooks/acme"))
        .body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        replay = replay.header(name, value);
    }
    assert_eq!(replay.send().await.unwrap().status(), StatusCode::CONFLICT);
    // ATOM hears of it once, from the replica that accepted it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = forwarded.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["event"]["event_key"], "pullrequest:created");
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_replicas_racing_an_expired_token_refresh_it_once() {
    use atom_runtime::CredentialStore as _;
    use atom_runtime::host_types::{CredentialSecret, OauthTokens};

    let fake = FakeBitbucket::start().await.unwrap();
    let deployment = Deployment::start(&fake, 8, &[]).await;
    let tokens = crate::common::ada_tokens(&fake).await;
    let keyring = atom_store::Keyring::load_file(&deployment.dir.path().join("store.key")).unwrap();
    let store =
        atom_store::open_postgres(&deployment.store, keyring, atom_store::DEFAULT_CONNECTION)
            .unwrap()
            .credentials;
    let secret = CredentialSecret::Oauth(OauthTokens {
        access_token: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh_token: tokens["refresh_token"].as_str().map(str::to_owned),
        expires_at: Some(1),
        scopes: Vec::new(),
    });
    let version = store.get("acme").unwrap().map_or(0, |c| c.version);
    let before = store.replace("acme", version, secret).unwrap();
    fake.control().oauth.expire_access_tokens();

    let calls = deployment
        .replicas
        .iter()
        .map(|replica| deployment.call(replica, "get-current-user", json!({})));
    for (status, user) in futures_util::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{user}");
        assert_eq!(user["display_name"], "Ada Lovelace");
    }
    assert_eq!(
        fake.control().oauth.refresh_requests(),
        1,
        "one refresh for eight replicas"
    );
    assert_eq!(store.get("acme").unwrap().unwrap().version, before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_upstream_budget_trips_once_for_the_deployment() {
    let fake = FakeBitbucket::start().await.unwrap();
    let deployment = Deployment::start(&fake, 3, &["--upstream-budget-per-hour", "5"]).await;
    let mut answered = 0;
    let refusal = loop {
        let (status, body) = deployment
            .call(deployment.any(), "get-current-user", json!({}))
            .await;
        match status {
            StatusCode::OK => answered += 1,
            _ => break (status, body),
        }
        assert!(answered <= 15, "three budgets were spent, not one");
    };
    assert_eq!(refusal.0, StatusCode::TOO_MANY_REQUESTS, "{}", refusal.1);
    assert_eq!(refusal.1["error"]["code"], "rate_limited");
    assert_eq!(answered, 5, "one budget of five for three replicas");
    assert_eq!(fake.control().requests_to("/2.0/user").len(), 5);
    for replica in &deployment.replicas {
        let (status, _) = deployment
            .call(replica, "get-current-user", json!({}))
            .await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "every replica refuses"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_replica_and_a_restarted_redis_lose_nothing_acknowledged() {
    let fake = FakeBitbucket::start().await.unwrap();
    let mut deployment = Deployment::start(&fake, 3, &["--merge-poll-secs", "1"]).await;
    let doomed = &deployment.replicas[0];

    // Acknowledged by the replica about to die: a session, a merge wait.
    let (cookie, _) = deployment.open_session(doomed).await;
    let (id, commit) = open_pull_request(&deployment, "Survives its replica").await;
    let asked = reqwest::Client::new()
        .post(doomed.url(&format!(
            "/bitbucket/repositories/atom-labs/bitbucket-plugin/pull-requests/{id}/merge-when-green"
        )))
        .bearer_auth(&deployment.acme_key)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let (status, _, wait) = answer(asked).await;
    assert_eq!(status, StatusCode::CREATED, "{wait}");
    assert_eq!(wait["wait"]["state"], "waiting", "{wait}");
    // …and a delivery it accepted.
    hook_up(&deployment, doomed, &["pullrequest:updated"]).await;
    let (status, _) = deployment
        .call(
            deployment.any(),
            "update-pull-request",
            json!({"workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": id,
                   "description": "delivered before the crash"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let delivery = fake.wait_for_deliveries(1, Duration::from_secs(5)).await[0].clone();
    assert_eq!(delivery.status, Some(200), "{delivery:?}");

    // Killed in the middle of a call: that call was never acknowledged.
    fake.set_faults(FaultPlan::new(1).rule(FaultRule::route(
        "GET",
        "/2.0/user",
        1.0,
        FaultKind::Stall(Duration::from_secs(30)),
    )));
    let in_flight = tokio::spawn({
        let url = doomed.url("/v1/operations/get-current-user");
        let key = deployment.acme_key.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut doomed = deployment.replicas.remove(0);
    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the killed call got no answer"
    );
    fake.set_faults(FaultPlan::new(1));

    let survivor = &deployment.replicas[0];

    // Redis crashes and comes back.
    deployment.redis.kill();
    deployment.redis.run().await;
    deployment.until_ready(survivor, StatusCode::OK).await;

    // The session still opens the gateway, the delivery is still a replay.
    let read = reqwest::Client::new()
        .get(survivor.url("/v1/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (_, _, read) = answer(read).await;
    assert_eq!(read["tenant"], "acme", "the session survived: {read}");
    let mut replay = reqwest::Client::new()
        .post(survivor.url("/bitbucket/webhooks/acme"))
        .body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        replay = replay.header(name, value);
    }
    assert_eq!(replay.send().await.unwrap().status(), StatusCode::CONFLICT);

    // The wait the dead replica took is finished by the others: green and
    // approved, the pull request is merged.
    for (path, body) in [
        (
            format!("/repositories/atom-labs/bitbucket-plugin/commit/{commit}/statuses/build"),
            json!({"key": "ci-build", "state": "SUCCESSFUL", "url": "https://ci.example/build/1"})
                .to_string(),
        ),
        (
            format!("/repositories/atom-labs/bitbucket-plugin/pullrequests/{id}/approve"),
            String::new(),
        ),
    ] {
        let mut request = reqwest::Client::new()
            .post(format!("{}{path}", fake.api_base_url()))
            .bearer_auth(GRACE_TOKEN);
        if !body.is_empty() {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        assert!(request.send().await.unwrap().status().is_success());
    }
    let wait_id = wait["wait"]["id"].as_str().unwrap().to_owned();
    let mut last = Value::Null;
    for _ in 0..100 {
        let looked = reqwest::Client::new()
            .get(survivor.url(&format!("/bitbucket/merge-waits/{wait_id}")))
            .bearer_auth(&deployment.acme_key)
            .send()
            .await
            .unwrap();
        last = answer(looked).await.2;
        if last["wait"]["state"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["wait"]["state"], "done", "{last}");
    let (_, pull_request) = deployment
        .call(
            survivor,
            "get-pull-request",
            json!({"workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": id}),
        )
        .await;
    assert_eq!(pull_request["state"], "merged", "{pull_request}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_or_postgresql_calls_are_service_down_until_they_return() {
    let fake = FakeBitbucket::start().await.unwrap();
    let postgres = Cuttable::to("127.0.0.1:5432").await;
    let schema = Schema::create().await;
    let mut deployment = Deployment::start_via(&fake, 1, &[], schema, &postgres.addr).await;
    let replica = &deployment.replicas[0];
    let user = json!({});
    assert_eq!(
        deployment
            .call(replica, "get-current-user", user.clone())
            .await
            .0,
        StatusCode::OK
    );

    let refused = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "service_down", "{body}");
        assert_eq!(body["error"]["retryable"], true, "{body}");
    };
    deployment.redis.kill();
    assert_eq!(
        deployment.ready(replica).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    refused(
        deployment
            .call(replica, "get-current-user", user.clone())
            .await,
    );
    deployment.redis.run().await;
    deployment.until_ready(replica, StatusCode::OK).await;
    assert_eq!(
        deployment
            .call(replica, "get-current-user", user.clone())
            .await
            .0,
        StatusCode::OK
    );

    postgres.cut();
    assert_eq!(
        deployment.ready(replica).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    refused(
        deployment
            .call(replica, "get-current-user", user.clone())
            .await,
    );
    postgres.restore();
    deployment.until_ready(replica, StatusCode::OK).await;
    assert_eq!(
        deployment.call(replica, "get-current-user", user).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_api_onboards_a_tenant_on_any_replica_and_refuses_browsers_and_tenants() {
    let fake = FakeBitbucket::start().await.unwrap();
    let deployment = Deployment::start(&fake, 2, &[]).await;
    let [first, second] = &deployment.replicas[..] else {
        unreachable!()
    };
    let (status, added) = deployment
        .operator(
            first,
            reqwest::Method::POST,
            "/operator/v1/tenants",
            json!({"name": "initech"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let key = added["api_key"].as_str().unwrap().to_owned();
    // The new key works on the other replica at once, and on both from
    // then on, each remembering that it checked it.
    for replica in [second, first, second, first] {
        let (status, _, _) = answer(
            reqwest::Client::new()
                .get(replica.url("/v1/operations"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }

    let add = |replica, name: &str| {
        deployment.operator(
            replica,
            reqwest::Method::POST,
            "/operator/v1/tenants",
            json!({ "name": name }),
        )
    };
    let (status, again) = add(second, "initech").await;
    assert_eq!(
        (status, &again["error"]["code"]),
        (StatusCode::CONFLICT, &json!("conflict"))
    );
    let (status, bad) = add(second, "no spaces").await;
    assert_eq!(
        (status, &bad["error"]["field"]),
        (StatusCode::BAD_REQUEST, &json!("name"))
    );

    let (status, rotated) = deployment
        .operator(
            second,
            reqwest::Method::POST,
            "/operator/v1/tenants/initech/key",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    // At once where it was rotated; on the other replica as soon as
    // PostgreSQL tells it, a few milliseconds later.
    let refused = |replica: &'_ Replica| {
        let url = replica.url("/v1/operations");
        let key = key.clone();
        async move {
            let old = reqwest::Client::new()
                .get(url)
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            old.status() == StatusCode::UNAUTHORIZED
        }
    };
    assert!(
        refused(second).await,
        "the rotated key stopped where rotated"
    );
    let mut told = false;
    for _ in 0..50 {
        if refused(first).await {
            told = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(told, "the rotated key stopped on the other replica");

    let (_, listed) = deployment
        .operator(
            first,
            reqwest::Method::GET,
            "/operator/v1/tenants",
            json!({}),
        )
        .await;
    let names: Vec<&str> = listed["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "globex", "initech"]);
    let (status, _) = deployment
        .operator(
            first,
            reqwest::Method::DELETE,
            "/operator/v1/tenants/initech",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = deployment
        .operator(
            second,
            reqwest::Method::DELETE,
            "/operator/v1/tenants/nobody",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Not with a tenant's key, not from a browser, not without the token.
    let as_tenant = reqwest::Client::new()
        .get(first.url("/operator/v1/tenants"))
        .bearer_auth(&deployment.acme_key)
        .send()
        .await
        .unwrap();
    assert_eq!(as_tenant.status(), StatusCode::UNAUTHORIZED);
    let from_browser = reqwest::Client::new()
        .get(first.url("/operator/v1/tenants"))
        .bearer_auth(OPERATOR_TOKEN)
        .header("sec-fetch-mode", "cors")
        .send()
        .await
        .unwrap();
    assert_eq!(from_browser.status(), StatusCode::FORBIDDEN);
    let (status, _, body) = answer(
        reqwest::Client::new()
            .post(first.url("/operator/v1/tenants"))
            .header("content-type", "application/json")
            .body(r#"{"name":"hooli"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

/// Rotating the keys that seal the store while two replicas serve from it:
/// a key added everywhere first, the rows re-sealed, then the old key
/// dropped; every call in between is answered.
#[tokio::test(flavor = "multi_thread")]
async fn keys_rotate_across_replicas_without_a_failed_call() {
    let fake = FakeBitbucket::start().await.unwrap();
    let deployment = Deployment::start(&fake, 2, &[]).await;
    let keys = || harness_on(&deployment.dir, &deployment.store);
    let both_answer = || async {
        for replica in &deployment.replicas {
            let (status, user) = deployment
                .call(replica, "get-current-user", json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{user}");
        }
    };
    // Sealed with key 1, and left there until the re-sealing.
    run(keys().args(["tenants", "webhook-secret", "globex"]));
    both_answer().await;

    // 1. A new current key, the old one kept: nothing re-sealed yet.
    let added = run(keys().args(["keys", "add"]));
    assert!(added.contains("key version 2 is current"), "{added}");
    // What is written now is sealed with the new key, which the replicas
    // read from the key file when they meet it.
    run(keys()
        .args(["--tenant", "acme", "auth", "add-token"])
        .args(["--kind", "access-token"])
        .env("BITBUCKET_ACCESS_TOKEN", ADA_TOKEN));
    both_answer().await;

    // 3 before 2 is refused: globex's webhook secret is still under key 1.
    let early = keys().args(["keys", "retire"]).output().unwrap();
    assert!(!early.status.success());
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("keys reseal"),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );

    // 2. Every row re-sealed with key 2, 3. key 1 dropped.
    let resealed = run(keys().args(["keys", "reseal"]));
    assert!(
        resealed.contains("re-sealed 1 credentials with key version 2"),
        "{resealed}"
    );
    let retired = run(keys().args(["keys", "retire"]));
    assert!(retired.contains("key version 2 is current"), "{retired}");
    let file = std::fs::read_to_string(deployment.dir.path().join("store.key")).unwrap();
    let versions: Vec<&str> = file
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(
        versions.len(),
        1,
        "only the current key is left: {versions:?}"
    );
    assert!(versions[0].starts_with("2:"), "{versions:?}");
    both_answer().await;
}
