//! `atom-harness mcp` as an MCP client starts it: the binary over its
//! stdin and stdout, against the fake Bitbucket, spoken to by rmcp's client.

use std::process::Stdio;

use atom_mcp::rmcp::model::{
    CallToolRequestParams, CallToolResult, GetPromptRequestParams, ReadResourceRequestParams,
    ResourceContents, Tool,
};
use atom_mcp::rmcp::service::RunningService;
use atom_mcp::rmcp::{RoleClient, ServiceExt};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket};

use crate::common::Gateway;
use serde_json::{Value, json};

/// The server as a child process of this test, and a client session with it.
async fn connect(fake: &FakeBitbucket, extra: &[&str]) -> RunningService<RoleClient, ()> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_atom-harness"))
        .arg("--store")
        .arg(dir.path().join("store.sqlite3"))
        .arg("--key-file")
        .arg(dir.path().join("store.key"))
        .args(["--allow-host", &fake.addr().to_string()])
        .args(["--config", &format!("api-base-url={}", fake.api_base_url())])
        .arg("mcp")
        .args(extra)
        .env("BITBUCKET_ACCESS_TOKEN", ADA_TOKEN)
        .env_remove("ATOM_COMPONENT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stdin = child.stdin.take().unwrap();
    // The child lives as long as the session: its pipes close with it.
    tokio::spawn(async move {
        let _ = child.wait().await;
        drop(dir);
    });
    ().serve((stdout, stdin))
        .await
        .expect("the server initialises")
}

fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_owned())
        .with_arguments(arguments.as_object().unwrap().clone())
}

fn tool<'t>(tools: &'t [Tool], name: &str) -> &'t Tool {
    tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name} is a tool"))
}

fn structured(result: &CallToolResult) -> &Value {
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_is_an_annotated_tool_over_stdio() {
    let fake = FakeBitbucket::start().await.unwrap();
    let client = connect(&fake, &[]).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(info.server_info.as_ref().unwrap().name, "atom-bitbucket");

    let tools = client.list_all_tools().await.unwrap();
    // Every operation but the OAuth exchanges, which are the host's.
    assert!(tools.len() >= 60, "{}", tools.len());
    assert!(tools.iter().all(|t| !t.name.starts_with("auth-")));
    let merge = tool(&tools, "merge-pull-request");
    let hints = merge.annotations.as_ref().unwrap();
    assert_eq!(merge.title.as_deref(), Some("Merge pull request"));
    assert_eq!(
        (hints.read_only_hint, hints.destructive_hint),
        (Some(false), Some(true))
    );
    let diff = tool(&tools, "get-pull-request-diff");
    let hints = diff.annotations.as_ref().unwrap();
    assert_eq!(
        (hints.read_only_hint, hints.idempotent_hint),
        (Some(true), Some(true))
    );
    assert!(diff.output_schema.is_some());
    assert!(diff.input_schema.get("properties").is_some());

    let answer = client
        .call_tool(call(
            "get-review-bundle",
            json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": 4, "max_bytes": 4096 }),
        ))
        .await
        .unwrap();
    assert_eq!(answer.is_error, Some(false), "{answer:?}");
    let bundle = structured(&answer);
    assert_eq!(bundle["pull_request"]["id"], 4);
    assert!(bundle["diff_bytes"].as_u64().unwrap() <= 4096);

    let missing = client
        .call_tool(call(
            "get-repository",
            json!({ "workspace": "atom-labs", "repo_slug": "no-such-repo" }),
        ))
        .await
        .unwrap();
    assert_eq!(missing.is_error, Some(true));
    assert_eq!(structured(&missing)["error"]["code"], "not_found");
    let invalid = client
        .call_tool(call("get-repository", json!({ "workspace": "atom-labs" })))
        .await
        .unwrap();
    assert_eq!(structured(&invalid)["error"]["code"], "validation");
    assert_eq!(structured(&invalid)["error"]["field"], "repo_slug");

    // A prompt starts from the operation it is built on.
    let prompts = client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "review-pull-request",
            "explain-failed-pipeline",
            "summarise-open-work"
        ]
    );
    let review = client
        .get_prompt(
            GetPromptRequestParams::new("review-pull-request").with_arguments(
                json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": "4" })
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let text = serde_json::to_value(&review.messages[0])
        .unwrap()
        .to_string();
    assert!(
        text.contains("Review pull request #4 of atom-labs/bitbucket-plugin"),
        "{text}"
    );
    assert!(
        text.contains("token-responses.ndjson"),
        "the bundle's diffstat is in it"
    );
    let missing = client
        .get_prompt(GetPromptRequestParams::new("review-pull-request"))
        .await;
    assert!(missing.is_err(), "the pull request is required");

    // Resources: a pull request and a file at a branch, by URI. Over stdio
    // nothing tells the server a resource changed: no subscriptions.
    let resources = client.peer_info().unwrap().capabilities.resources.clone();
    assert_eq!(resources.expect("resources").subscribe, None);
    let templates = client.list_all_resource_templates().await.unwrap();
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "bitbucket://{workspace}/{repo_slug}/src/{revision}/{+path}")
    );
    let read = |uri: &str| ReadResourceRequestParams::new(uri);
    let text = |contents: &ResourceContents| match contents {
        ResourceContents::TextResourceContents { text, .. } => {
            serde_json::from_str::<Value>(text).unwrap()
        }
        other => panic!("text expected, got {other:?}"),
    };
    let pr = client
        .read_resource(read(
            "bitbucket://atom-labs/bitbucket-plugin/pull-requests/4",
        ))
        .await
        .unwrap();
    assert_eq!(text(&pr.contents[0])["id"], 4);
    let file = client
        .read_resource(read(
            "bitbucket://atom-labs/bitbucket-plugin/src/main/README.md",
        ))
        .await
        .unwrap();
    let file = text(&file.contents[0]);
    assert_eq!(file["path"], "README.md");
    assert!(file["content"].as_str().unwrap().len() > 10, "{file}");
    let nowhere = client
        .read_resource(read("bitbucket://atom-labs/bitbucket-plugin/nowhere"))
        .await;
    assert!(nowhere.is_err(), "a URI no template takes");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_lists_and_runs_only_reads() {
    let fake = FakeBitbucket::start().await.unwrap();
    let client = connect(&fake, &["--read-only"]).await;
    let tools = client.list_all_tools().await.unwrap();
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().unwrap().read_only_hint == Some(true))
    );
    assert!(tools.iter().any(|t| t.name == "get-pull-request-diff"));
    let refused = client
        .call_tool(call(
            "approve-pull-request",
            json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": 4 }),
        ))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(structured(&refused)["error"]["code"], "read_only");
    assert!(
        fake.control().requests.iter().all(|r| r.method == "GET"),
        "nothing but reads reached Bitbucket"
    );
    client.cancel().await.unwrap();
}

/// One JSON-RPC message to `/mcp` as a Streamable HTTP client sends it;
/// the answer's JSON (from a JSON body or the first SSE `data:` line) and
/// the session id the server gave.
async fn post_mcp(
    gateway: &Gateway,
    key: Option<&str>,
    session: Option<&str>,
    origin: Option<&str>,
    message: Value,
) -> (reqwest::StatusCode, Option<String>, Value) {
    send_mcp(mcp_request(gateway, key, session, origin, message)).await
}

fn mcp_request(
    gateway: &Gateway,
    key: Option<&str>,
    session: Option<&str>,
    origin: Option<&str>,
    message: Value,
) -> reqwest::RequestBuilder {
    let mut request = reqwest::Client::new()
        .post(gateway.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(message.to_string());
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request
}

async fn send_mcp(
    request: reqwest::RequestBuilder,
) -> (reqwest::StatusCode, Option<String>, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .find_map(|data| serde_json::from_str(data.trim()).ok())
            .unwrap_or(Value::Null)
    });
    (status, session, json)
}

/// `initialize` and `notifications/initialized`: the session's id.
async fn open_session(gateway: &Gateway, key: &str) -> String {
    let (status, session, answer) = post_mcp(
        gateway,
        Some(key),
        None,
        None,
        json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "e2e", "version": "1" } } }),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{answer}");
    assert!(
        answer["result"]["capabilities"]["tools"].is_object(),
        "{answer}"
    );
    let session = session.expect("a session id");
    let (status, _, _) = post_mcp(
        gateway,
        Some(key),
        Some(&session),
        None,
        json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
    )
    .await;
    assert!(status.is_success(), "{status}");
    session
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_serves_mcp_to_a_tenants_key_and_keeps_tenants_apart() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "e2e", "version": "1" } } });

    let (status, _, _) = post_mcp(&gateway, None, None, None, initialize.clone()).await;
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "a key is needed");
    let (status, _, _) = post_mcp(
        &gateway,
        Some(&gateway.acme_key),
        None,
        Some("http://evil.example"),
        initialize.clone(),
    )
    .await;
    assert_eq!(
        status,
        reqwest::StatusCode::FORBIDDEN,
        "a foreign Origin is refused"
    );

    let session = open_session(&gateway, &gateway.acme_key).await;
    let (_, _, listed) = post_mcp(
        &gateway,
        Some(&gateway.acme_key),
        Some(&session),
        None,
        json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }),
    )
    .await;
    let tools = listed["result"]["tools"].as_array().expect("tools");
    let merge = tools
        .iter()
        .find(|t| t["name"] == "merge-pull-request")
        .expect("merge is a tool");
    assert_eq!(merge["annotations"]["destructiveHint"], true, "{merge}");
    assert_eq!(merge["annotations"]["readOnlyHint"], false);

    let call = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "get-pull-request",
        "arguments": { "workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": 4 } } });
    let (_, _, answer) = post_mcp(
        &gateway,
        Some(&gateway.acme_key),
        Some(&session),
        None,
        call.clone(),
    )
    .await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(answer["result"]["structuredContent"]["id"], 4);
    // The same read again comes from the gateway's cache, unless the
    // request says `Cache-Control: no-cache`.
    let upstream = || fake.control().requests.len();
    let before = upstream();
    let (_, _, again) = post_mcp(
        &gateway,
        Some(&gateway.acme_key),
        Some(&session),
        None,
        call.clone(),
    )
    .await;
    assert_eq!(again["result"]["structuredContent"]["id"], 4, "{again}");
    let sent: Vec<String> = fake.control().requests[before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        upstream(),
        before,
        "answered from the cache, the scopes too: {sent:?}"
    );
    let fresh = mcp_request(
        &gateway,
        Some(&gateway.acme_key),
        Some(&session),
        None,
        call.clone(),
    )
    .header("cache-control", "no-cache");
    let (_, _, fresh) = send_mcp(fresh).await;
    assert_eq!(fresh["result"]["structuredContent"]["id"], 4, "{fresh}");
    assert!(upstream() > before, "a fresh read reached Bitbucket");

    // Another tenant's key cannot ride acme's session.
    let (status, _, stolen) = post_mcp(
        &gateway,
        Some(&gateway.globex_key),
        Some(&session),
        None,
        call,
    )
    .await;
    assert!(
        !status.is_success() || stolen["result"]["structuredContent"].is_null(),
        "{status} {stolen}"
    );
    assert!(!stolen.to_string().contains("OAuth"), "{stolen}");
}
