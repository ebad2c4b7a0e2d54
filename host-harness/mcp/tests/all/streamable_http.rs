//! The HTTP side: the Origin and Host check as a middleware, and `/mcp` as the
//! gateway will mount it, with a tenant's backend put in by its auth layer.

use std::sync::Arc;
use std::time::Duration;

use atom_mcp::{
    Backend, CallError, McpServer, OriginPolicy, ServerOptions, TenantBackend, ToolSpec,
    check_origin_and_host,
};
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

fn tiny_router() -> axum::Router {
    axum::Router::new()
        .route("/mcp", get(|| async { "mcp" }))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(OriginPolicy::default()),
            check_origin_and_host,
        ))
}

fn request(host: &str, origin: Option<&str>) -> Request<Body> {
    let mut builder = Request::get("/mcp").header(header::HOST, host);
    if let Some(origin) = origin {
        builder = builder.header(header::ORIGIN, origin);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_origin_check_refuses_a_foreign_origin_and_passes_loopback() {
    let answer = tiny_router()
        .oneshot(request("127.0.0.1:8080", Some("https://evil.example")))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);

    // DNS rebinding: the page's own name is in Host.
    let answer = tiny_router()
        .oneshot(request("evil.example:8080", None))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);

    for origin in [
        None,
        Some("http://localhost:5173"),
        Some("http://127.0.0.1:8080"),
    ] {
        let answer = tiny_router()
            .oneshot(request("127.0.0.1:8080", origin))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{origin:?}");
    }
}

struct Named(&'static str);

impl Backend for Named {
    async fn tools(&self) -> Result<Vec<ToolSpec>, CallError> {
        Ok(vec![ToolSpec {
            name: format!("only-{}", self.0),
            title: "Only".into(),
            description: "Only this tenant's.".into(),
            input_schema: json!({ "type": "object" }),
            output_schema: json!({ "type": "object" }),
            read_only: true,
            destructive: false,
            idempotent: true,
            open_world: true,
            scopes: vec![],
        }])
    }

    async fn usable(&self) -> Result<Option<Vec<String>>, CallError> {
        Ok(None)
    }

    async fn call(&self, _name: &str, _params_json: String) -> Result<String, CallError> {
        Ok("{}".into())
    }
}

/// `/mcp` as the gateway mounts it, one service for every tenant; each
/// router stands for the gateway's auth layer having found `tenant`'s key.
fn mounted<S>(service: S, tenant: &'static str) -> axum::Router
where
    S: tower::Service<Request<Body>, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Response: axum::response::IntoResponse,
    S::Future: Send + 'static,
{
    axum::Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(OriginPolicy::default()),
            check_origin_and_host,
        ))
        .layer(axum::Extension(TenantBackend {
            tenant: tenant.into(),
            backend: Arc::new(Named(tenant)),
        }))
}

fn post(body: Value, session: Option<&str>) -> Request<Body> {
    let mut builder = Request::post("/mcp")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    if let Some(session) = session {
        builder = builder
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-06-18");
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

async fn text(response: http::Response<Body>) -> String {
    let body = tokio::time::timeout(
        Duration::from_secs(10),
        axum::body::to_bytes(response.into_body(), 1 << 20),
    )
    .await
    .expect("the answer ends")
    .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn a_session_stays_with_its_tenant() {
    let service = atom_mcp::streamable_http_service(
        || McpServer::<Named>::per_request(ServerOptions::default()),
        &OriginPolicy::default(),
    );
    let acme = mounted(service.clone(), "acme");
    let globex = mounted(service, "globex");
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "test", "version": "1" }
        }
    });
    let answer = acme.clone().oneshot(post(initialize, None)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let session = answer
        .headers()
        .get("mcp-session-id")
        .expect("a session")
        .to_str()
        .unwrap()
        .to_owned();
    let _ = text(answer).await;

    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let answer = acme
        .clone()
        .oneshot(post(list.clone(), Some(&session)))
        .await
        .unwrap();
    let body = text(answer).await;
    assert!(body.contains("only-acme"), "{body}");

    // Another tenant's key on acme's session: refused, nothing of either
    // tenant's listed.
    let answer = globex.oneshot(post(list, Some(&session))).await.unwrap();
    let body = text(answer).await;
    assert!(body.contains("another tenant"), "{body}");
    assert!(!body.contains("only-"), "{body}");
}

#[tokio::test]
async fn the_ready_made_router_applies_the_check_before_mcp() {
    let router = atom_mcp::router(
        || McpServer::<Named>::per_request(ServerOptions::default()),
        OriginPolicy::default(),
    );
    let mut refused = post(json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }), None);
    refused
        .headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let answer = router.oneshot(refused).await.unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let body = text(answer).await;
    assert!(body.contains("forbidden_origin"), "{body}");
}
