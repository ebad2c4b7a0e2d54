//! The MCP server as a client sees it: rmcp's own client over an in-memory
//! duplex, against a fake backend of four operations.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atom_mcp::rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, ErrorCode, Implementation, ProtocolVersion,
};
use atom_mcp::rmcp::service::{RequestContext, RunningService};
use atom_mcp::rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData, RoleClient, ServiceExt,
};
use atom_mcp::{Backend, CallError, LISTING_HINT, McpServer, ServerOptions, ToolSpec};
use serde_json::{Value, json};

fn object(properties: Value) -> Value {
    json!({ "type": "object", "properties": properties, "additionalProperties": false })
}

fn spec(
    name: &str,
    title: &str,
    output: Value,
    facts: (bool, bool, bool),
    scope: &str,
) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        title: title.into(),
        description: format!("{title}."),
        input_schema: object(json!({ "workspace": { "type": "string" } })),
        output_schema: output,
        read_only: facts.0,
        destructive: facts.1,
        idempotent: facts.2,
        open_world: true,
        scopes: vec![scope.into()],
    }
}

fn specs() -> Vec<ToolSpec> {
    vec![
        spec(
            "get-repository",
            "Get a repository",
            object(json!({ "slug": { "type": "string" } })),
            (true, false, true),
            "repository",
        ),
        spec(
            "list-repositories",
            "List repositories",
            object(json!({
                "items": { "type": "array" },
                "next_cursor": { "type": ["string", "null"] },
            })),
            (true, false, true),
            "repository",
        ),
        spec(
            "create-issue",
            "Create an issue",
            object(json!({ "id": { "type": "integer" } })),
            (false, false, false),
            "issue:write",
        ),
        spec(
            "delete-branch",
            "Delete a branch",
            object(json!({ "deleted": { "type": "boolean" } })),
            (false, true, true),
            "repository:write",
        ),
    ]
}

#[derive(Default)]
pub(crate) struct Fake {
    pub(crate) usable: Option<Vec<String>>,
    /// How long each call takes.
    pub(crate) delay: Duration,
    pub(crate) calls: Mutex<Vec<(String, Value)>>,
}

impl Fake {
    pub(crate) fn calls(&self) -> Vec<String> {
        let calls = self.calls.lock().unwrap();
        calls.iter().map(|(name, _)| name.clone()).collect()
    }
}

impl Backend for Fake {
    async fn tools(&self) -> Result<Vec<ToolSpec>, CallError> {
        Ok(specs())
    }

    async fn usable(&self) -> Result<Option<Vec<String>>, CallError> {
        Ok(self.usable.clone())
    }

    async fn call(&self, name: &str, params_json: String) -> Result<String, CallError> {
        let params: Value = serde_json::from_str(&params_json).expect("params are JSON");
        tokio::time::sleep(self.delay).await;
        self.calls
            .lock()
            .unwrap()
            .push((name.to_owned(), params.clone()));
        match (name, params["workspace"].as_str()) {
            ("get-repository", Some("acme")) => Ok(json!({ "slug": "widgets" }).to_string()),
            ("get-repository", _) => Err(CallError {
                code: "not_found".into(),
                message: "no such workspace".into(),
                retryable: false,
                retry_after_seconds: None,
                field: Some("workspace".into()),
                details: Value::Null,
            }),
            ("list-repositories", _) => Err(CallError {
                retryable: true,
                retry_after_seconds: Some(30),
                ..CallError::new("rate_limited", "Bitbucket's hourly allowance is spent")
            }),
            ("create-issue", _) => Ok(json!({ "id": 7 }).to_string()),
            ("delete-branch", _) => Ok(json!({ "deleted": true }).to_string()),
            _ => Err(CallError::internal("unexpected")),
        }
    }
}

/// A client that declares elicitation and answers every confirmation with
/// `action`, counting the questions.
struct Confirming {
    action: ElicitationAction,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Confirming {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.asked.lock().unwrap().push(message);
        }
        Ok(ElicitResult::new(self.action.clone()))
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("confirming-test-client", "1.0.0"),
        )
    }
}

pub(crate) fn options(read_only: bool) -> ServerOptions {
    ServerOptions {
        read_only,
        instructions: "Bitbucket Cloud for tenant acme.".into(),
        name: "atom-bitbucket".into(),
        version: "0.5.0".into(),
        ..ServerOptions::default()
    }
}

/// The server over `backend`, running on one end of an in-memory duplex;
/// the other end is the client's.
fn serve(backend: Arc<Fake>, options: ServerOptions) -> tokio::io::DuplexStream {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = McpServer::new(backend, options);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    client_io
}

pub(crate) async fn connect<C: ClientHandler>(
    backend: Arc<Fake>,
    options: ServerOptions,
    client: C,
) -> RunningService<RoleClient, C> {
    client
        .serve(serve(backend, options))
        .await
        .expect("the client initialises")
}

/// A client of the 2026-07-28 revision: `server/discover`, no `initialize`.
pub(crate) async fn connect_2026<C: ClientHandler>(
    backend: Arc<Fake>,
    options: ServerOptions,
    client: C,
) -> RunningService<RoleClient, C> {
    client
        .serve_with_lifecycle(
            serve(backend, options),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("discover")
}

pub(crate) fn call(name: &str, workspace: &str) -> CallToolRequestParams {
    let arguments = json!({ "workspace": workspace });
    CallToolRequestParams::new(name.to_owned())
        .with_arguments(arguments.as_object().unwrap().clone())
}

fn error_of(result: &CallToolResult) -> &Value {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    &result
        .structured_content
        .as_ref()
        .expect("structured error")["error"]
}

#[tokio::test]
async fn initialize_names_the_server_and_its_tools_capability() {
    let client = connect(Arc::new(Fake::default()), options(false), ()).await;
    let info = client.peer_info().expect("server info");
    let server = info.server_info.as_ref().expect("serverInfo");
    assert_eq!(server.name, "atom-bitbucket");
    assert_eq!(server.version, "0.5.0");
    assert_eq!(
        info.instructions.as_deref(),
        Some("Bitbucket Cloud for tenant acme.")
    );
    assert!(info.capabilities.tools.is_some());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn tools_carry_titles_schemas_annotations_and_the_listing_hint() {
    let client = connect(Arc::new(Fake::default()), options(false), ()).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "get-repository",
            "list-repositories",
            "create-issue",
            "delete-branch"
        ]
    );
    for (tool, spec) in tools.iter().zip(specs()) {
        assert_eq!(tool.title.as_deref(), Some(spec.title.as_str()));
        assert_eq!(
            Value::Object((*tool.input_schema).clone()),
            spec.input_schema
        );
        let output = tool.output_schema.as_ref().expect("output schema");
        assert_eq!(Value::Object((**output).clone()), spec.output_schema);
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(
            annotations.read_only_hint,
            Some(spec.read_only),
            "{}",
            spec.name
        );
        assert_eq!(
            annotations.destructive_hint,
            Some(spec.destructive),
            "{}",
            spec.name
        );
        assert_eq!(
            annotations.idempotent_hint,
            Some(spec.idempotent),
            "{}",
            spec.name
        );
        assert_eq!(annotations.open_world_hint, Some(true), "{}", spec.name);
        let description = tool.description.as_deref().unwrap();
        assert_eq!(
            description.ends_with(LISTING_HINT),
            spec.name == "list-repositories",
            "{description}"
        );
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_read_answers_structured_content_and_the_same_json_as_text() {
    let backend = Arc::new(Fake::default());
    let client = connect(backend.clone(), options(false), ()).await;
    let result = client
        .call_tool(call("get-repository", "acme"))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    assert_eq!(
        result.structured_content,
        Some(json!({ "slug": "widgets" }))
    );
    let text = &result.content[0].as_text().expect("text").text;
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        json!({ "slug": "widgets" })
    );
    assert_eq!(backend.calls(), ["get-repository"]);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_failed_call_is_a_tool_error_with_the_typed_error() {
    let client = connect(Arc::new(Fake::default()), options(false), ()).await;
    let result = client
        .call_tool(call("get-repository", "nobody"))
        .await
        .unwrap();
    let error = error_of(&result);
    assert_eq!(error["code"], "not_found");
    assert_eq!(error["field"], "workspace");
    assert_eq!(error["retryable"], false);
    let text = &result.content[0].as_text().unwrap().text;
    assert_eq!(text, "not_found: no such workspace (field workspace)");

    let result = client
        .call_tool(call("list-repositories", "acme"))
        .await
        .unwrap();
    let error = error_of(&result);
    assert_eq!(error["code"], "rate_limited");
    assert_eq!(error["retryable"], true);
    assert_eq!(error["retry_after_seconds"], 30);

    // An unknown tool is a protocol error (invalid params), as the spec says.
    let refused = client
        .call_tool(call("drop-database", "acme"))
        .await
        .unwrap_err();
    let atom_mcp::rmcp::service::ServiceError::McpError(refused) = refused else {
        panic!("{refused:?}");
    };
    assert_eq!(refused.code, ErrorCode::INVALID_PARAMS);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn read_only_mode_hides_and_refuses_writes() {
    let backend = Arc::new(Fake::default());
    let client = connect(backend.clone(), options(true), ()).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    assert_eq!(names, ["get-repository", "list-repositories"]);
    let result = client
        .call_tool(call("create-issue", "acme"))
        .await
        .unwrap();
    assert_eq!(error_of(&result)["code"], "read_only");
    assert!(backend.calls().is_empty());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_tool_the_scopes_do_not_cover_is_hidden_and_refused_naming_its_scopes() {
    let backend = Arc::new(Fake {
        usable: Some(vec!["get-repository".into(), "list-repositories".into()]),
        ..Fake::default()
    });
    let client = connect(backend.clone(), options(false), ()).await;
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().all(|tool| tool.name != "create-issue"));
    let result = client
        .call_tool(call("create-issue", "acme"))
        .await
        .unwrap();
    let error = error_of(&result);
    assert_eq!(error["code"], "permission_denied");
    assert!(
        error["message"].as_str().unwrap().contains("issue:write"),
        "{error}"
    );
    assert_eq!(error["details"]["required_scopes"], json!(["issue:write"]));
    assert!(backend.calls().is_empty());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_destructive_call_runs_only_when_the_user_confirms() {
    for (action, runs) in [
        (ElicitationAction::Decline, false),
        (ElicitationAction::Cancel, false),
        (ElicitationAction::Accept, true),
    ] {
        let backend = Arc::new(Fake::default());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let client = Confirming {
            action: action.clone(),
            asked: asked.clone(),
        };
        let client = connect(backend.clone(), options(false), client).await;
        let result = client
            .call_tool(call("delete-branch", "acme"))
            .await
            .unwrap();
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1, "{action:?}");
        assert!(
            asked[0].contains("Delete a branch (`delete-branch`)"),
            "{}",
            asked[0]
        );
        assert!(asked[0].contains(r#"{"workspace":"acme"}"#), "{}", asked[0]);
        if runs {
            assert_eq!(result.structured_content, Some(json!({ "deleted": true })));
            assert_eq!(backend.calls(), ["delete-branch"]);
        } else {
            assert_eq!(error_of(&result)["code"], "cancelled", "{action:?}");
            assert!(backend.calls().is_empty(), "{action:?}");
        }
        client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn a_destructive_call_runs_at_once_for_a_client_without_elicitation() {
    let backend = Arc::new(Fake::default());
    let client = connect(backend.clone(), options(false), ()).await;
    let result = client
        .call_tool(call("delete-branch", "acme"))
        .await
        .unwrap();
    assert_eq!(result.structured_content, Some(json!({ "deleted": true })));
    assert_eq!(backend.calls(), ["delete-branch"]);
    client.cancel().await.unwrap();
}

/// 2026-07-28 forbids server-to-client requests: the confirmation travels as
/// an `InputRequiredResult` the client fulfils and retries (MRTR).
#[tokio::test]
async fn a_stateless_2026_client_confirms_through_input_required() {
    for (action, runs) in [
        (ElicitationAction::Decline, false),
        (ElicitationAction::Accept, true),
    ] {
        let backend = Arc::new(Fake::default());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let client = connect_2026(
            backend.clone(),
            options(false),
            Confirming {
                action: action.clone(),
                asked: asked.clone(),
            },
        )
        .await;
        let result = client
            .call_tool(call("delete-branch", "acme"))
            .await
            .unwrap();
        assert_eq!(asked.lock().unwrap().len(), 1, "{action:?}");
        if runs {
            assert_eq!(result.structured_content, Some(json!({ "deleted": true })));
            assert_eq!(backend.calls(), ["delete-branch"]);
        } else {
            assert_eq!(error_of(&result)["code"], "cancelled");
            assert!(backend.calls().is_empty());
        }
        client.cancel().await.unwrap();
    }
}
