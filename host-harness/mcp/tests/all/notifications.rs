//! What the server tells a client unasked: progress while a slow call runs,
//! and `notifications/resources/updated` for what the session subscribed to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atom_mcp::rmcp::model::{
    ErrorCode, ProgressNotificationParam, ResourceUpdatedNotificationParam, ServerNotification,
    SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use atom_mcp::rmcp::service::NotificationContext;
use atom_mcp::rmcp::{ClientHandler, RoleClient};
use atom_mcp::{ResourceTemplate, ServerOptions, Subscribed, Subscriptions};
use serde_json::json;

use crate::tools::{Fake, call, connect, connect_2026, options};

/// A client that keeps what it is told.
#[derive(Clone, Default)]
struct Listening {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    updated: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Listening {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(params.uri);
    }
}

#[tokio::test]
async fn a_slow_call_reports_progress_and_a_quick_one_does_not() {
    let backend = Arc::new(Fake {
        delay: Duration::from_millis(450),
        ..Fake::default()
    });
    let listening = Listening::default();
    let options = ServerOptions {
        progress_every: Duration::from_millis(100),
        ..options(false)
    };
    let client = connect(backend, options.clone(), listening.clone()).await;
    // rmcp's client sends a progressToken with every request.
    let result = client
        .call_tool(call("get-repository", "acme"))
        .await
        .unwrap();
    assert_eq!(
        result.structured_content,
        Some(json!({ "slug": "widgets" }))
    );
    let progress = listening.progress.lock().unwrap().clone();
    assert!(progress.len() >= 2, "{progress:?}");
    assert!(
        progress.windows(2).all(|w| w[1].progress > w[0].progress),
        "progress only grows: {progress:?}"
    );
    assert!(
        progress[0]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("`get-repository` is still running")),
        "{progress:?}"
    );
    client.cancel().await.unwrap();

    let quick = Listening::default();
    let client = connect(Arc::new(Fake::default()), options, quick.clone()).await;
    client
        .call_tool(call("get-repository", "acme"))
        .await
        .unwrap();
    assert!(quick.progress.lock().unwrap().is_empty());
    client.cancel().await.unwrap();
}

fn watched(subscriptions: &Subscriptions) -> ServerOptions {
    ServerOptions {
        resources: vec![ResourceTemplate {
            uri_template: "demo://{workspace}/repositories/{slug}".into(),
            name: "repository".into(),
            title: "A repository".into(),
            description: "d".into(),
            tool: "get-repository".into(),
            params: json!({ "workspace": "{workspace}", "slug": "{slug}" }),
        }],
        subscriptions: Some(subscriptions.clone()),
        ..options(false)
    }
}

/// Waits for what `listening` was told to reach `count` URIs.
async fn updates(listening: &Listening, count: usize) -> Vec<String> {
    for _ in 0..100 {
        let updated = listening.updated.lock().unwrap().clone();
        if updated.len() >= count {
            return updated;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    listening.updated.lock().unwrap().clone()
}

#[tokio::test]
async fn a_subscribed_session_hears_what_changed_and_nothing_else() {
    let subscriptions = Subscriptions::default();
    let listening = Listening::default();
    let client = connect(
        Arc::new(Fake::default()),
        watched(&subscriptions),
        listening.clone(),
    )
    .await;
    let info = client.peer_info().expect("server info");
    let resources = info.capabilities.resources.as_ref().expect("resources");
    assert_eq!(resources.subscribe, Some(true));

    let widgets = "demo://acme/repositories/widgets";
    #[allow(deprecated)]
    {
        client
            .subscribe(SubscribeRequestParams::new(widgets))
            .await
            .unwrap();
        // Twice is one subscription.
        client
            .subscribe(SubscribeRequestParams::new(widgets))
            .await
            .unwrap();
        let unknown = client
            .subscribe(SubscribeRequestParams::new("demo://acme/elsewhere"))
            .await
            .unwrap_err();
        assert!(
            format!("{unknown:?}").contains("no resource template takes"),
            "{unknown:?}"
        );
    }
    assert_eq!(subscriptions.len(), 1);

    let changed = |slug: &'static str| {
        move |resource: &Subscribed<'_>| {
            resource.template == "repository"
                && resource.params["workspace"] == "acme"
                && resource.params["slug"] == slug
        }
    };
    // Another tenant's event is not this session's (a fixed backend's
    // session has the empty tenant).
    assert_eq!(subscriptions.notify("globex", changed("widgets")).await, 0);
    assert_eq!(subscriptions.notify("", changed("gadgets")).await, 0);
    assert_eq!(subscriptions.notify("", changed("widgets")).await, 1);
    assert_eq!(updates(&listening, 1).await, [widgets]);

    #[allow(deprecated)]
    client
        .unsubscribe(UnsubscribeRequestParams::new(widgets))
        .await
        .unwrap();
    assert_eq!(subscriptions.notify("", changed("widgets")).await, 0);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn an_ended_session_is_forgotten_and_without_a_source_nothing_is_offered() {
    let subscriptions = Subscriptions::default();
    let client = connect(
        Arc::new(Fake::default()),
        watched(&subscriptions),
        Listening::default(),
    )
    .await;
    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new(
            "demo://acme/repositories/widgets",
        ))
        .await
        .unwrap();
    assert_eq!(subscriptions.len(), 1);
    client.cancel().await.unwrap();
    for _ in 0..100 {
        if subscriptions.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(subscriptions.is_empty(), "the ended session still watches");

    // A host that cannot tell when resources change offers no subscriptions.
    let options = ServerOptions {
        subscriptions: None,
        ..watched(&subscriptions)
    };
    let client = connect(Arc::new(Fake::default()), options, Listening::default()).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.capabilities.resources.as_ref().unwrap().subscribe,
        None
    );
    #[allow(deprecated)]
    let refused = client
        .subscribe(SubscribeRequestParams::new(
            "demo://acme/repositories/widgets",
        ))
        .await
        .unwrap_err();
    assert!(
        format!("{refused:?}").contains(&format!("{:?}", ErrorCode::METHOD_NOT_FOUND.0)),
        "{refused:?}"
    );
    client.cancel().await.unwrap();
}

/// 2026-07-28 has no `resources/subscribe`: a client opens a
/// `subscriptions/listen` stream naming the resources, and updates come on it.
#[tokio::test]
async fn a_2026_listen_stream_hears_what_changed_until_it_is_cancelled() {
    let subscriptions = Subscriptions::default();
    let client = connect_2026(
        Arc::new(Fake::default()),
        watched(&subscriptions),
        Listening::default(),
    )
    .await;
    let widgets = "demo://acme/repositories/widgets";
    let mut stream = client
        .peer()
        .listen(
            SubscriptionFilter::builder()
                .resource_subscriptions([widgets, "demo://acme/elsewhere"])
                .build(),
        )
        .await
        .expect("the stream is acknowledged");
    // What no template takes is not acknowledged.
    assert_eq!(
        stream.acknowledged().resource_subscriptions,
        Some(vec![widgets.to_owned()])
    );
    for _ in 0..100 {
        if subscriptions.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let widgets_changed = |resource: &Subscribed<'_>| resource.params["slug"] == "widgets";
    assert_eq!(subscriptions.notify("", widgets_changed).await, 1);
    let heard = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an update within 5 s")
        .expect("the stream is open")
        .expect("a notification");
    match heard {
        ServerNotification::ResourceUpdatedNotification(updated) => {
            assert_eq!(updated.params.uri, widgets);
        }
        other => panic!("{other:?}"),
    }
    stream.cancel().await.expect("the stream is cancelled");
    for _ in 0..100 {
        if subscriptions.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(subscriptions.is_empty(), "a cancelled stream still watches");
    client.cancel().await.unwrap();
}
