//! `McpServer`: rmcp's `ServerHandler` over a [`Backend`], written by hand
//! since the tools are known only at run time.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema,
    GetPromptRequestParams, GetPromptResponse, Implementation, InitializeRequestParams,
    InitializeResult, InputRequest, InputRequests, InputRequiredResult, JsonObject,
    ListPromptsResult, ListResourceTemplatesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, ServerCapabilities, ServerConfig, SubscribeRequestParams,
    SubscriptionFilter, Tool, ToolAnnotations, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};
use rmcp::{ErrorData, ServerHandler};
use serde_json::{Value, json};

use crate::backend::{Backend, CallError, ToolSpec};
use crate::prompts::PromptTemplate;
use crate::resources::{self, ResourceTemplate};
use crate::subscriptions::{Listener, SUBSCRIPTIONS_PER_SESSION, Subscriptions};

/// The key of the confirmation in an MRTR `inputRequests` map.
const CONFIRM_KEY: &str = "confirm";

/// What a listing tool's description adds, so an agent pages to the end
/// instead of stopping at the first page.
pub const LISTING_HINT: &str =
    "Listing: pass next_cursor as page.cursor to continue; absent next_cursor means the last page.";

/// How an [`McpServer`] behaves; the same for every transport.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// List and run only read-only tools.
    pub read_only: bool,
    /// What the `initialize` answer tells the client about the server.
    pub instructions: String,
    /// The server's name and version in `serverInfo`.
    pub name: String,
    pub version: String,
    /// The most bytes of a result's text copy (the structured content is
    /// whole); a cut says how much was left out.
    pub text_budget_bytes: usize,
    /// How long a destructive call waits for the user's confirmation
    /// (over a session that can send `elicitation/create`).
    pub confirm_timeout: Duration,
    /// The prompts offered (`prompts/list`, `prompts/get`).
    pub prompts: Vec<PromptTemplate>,
    /// The resource families offered (`resources/templates/list`,
    /// `resources/read`).
    pub resources: Vec<ResourceTemplate>,
    /// Where `resources/subscribe` is kept, when the host can tell that a
    /// resource changed (the gateway's webhook intake); without it the
    /// server does not offer subscriptions.
    pub subscriptions: Option<Subscriptions>,
    /// How often a call that is still running reports progress to a client
    /// that asked for it (a `progressToken`); a call that answers sooner
    /// reports none.
    pub progress_every: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            read_only: false,
            instructions: String::new(),
            name: "atom".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            text_budget_bytes: 256 * 1024,
            confirm_timeout: Duration::from_secs(300),
            prompts: Vec::new(),
            resources: Vec::new(),
            subscriptions: None,
            progress_every: Duration::from_secs(2),
        }
    }
}

/// The backend of one HTTP request, put in the request's extensions by the
/// gateway once its API key has decided the tenant (see
/// [`McpServer::per_request`]).
pub struct TenantBackend<B> {
    /// Who the request is for; an MCP session stays with its first tenant.
    pub tenant: String,
    pub backend: Arc<B>,
}

impl<B> Clone for TenantBackend<B> {
    fn clone(&self) -> Self {
        Self {
            tenant: self.tenant.clone(),
            backend: self.backend.clone(),
        }
    }
}

enum Source<B> {
    /// One backend for the server's life (stdio, tests).
    Fixed(Arc<B>),
    /// Each HTTP request brings its [`TenantBackend`]; the first binds the
    /// session to its tenant.
    PerRequest { bound: Mutex<Option<String>> },
}

/// The MCP server of one integration: one tool per operation.
pub struct McpServer<B> {
    source: Source<B>,
    options: ServerOptions,
    /// This session among the process's, for its subscriptions.
    session: u64,
}

impl<B> Drop for McpServer<B> {
    /// A session that ended hears of nothing more.
    fn drop(&mut self) {
        if let Some(subscriptions) = &self.options.subscriptions {
            subscriptions.end_session(self.session);
        }
    }
}

impl<B: Backend> McpServer<B> {
    /// A server over one backend (stdio: one tenant per process).
    pub fn new(backend: Arc<B>, options: ServerOptions) -> Self {
        Self::with_source(Source::Fixed(backend), options)
    }

    fn with_source(source: Source<B>, options: ServerOptions) -> Self {
        let session = options
            .subscriptions
            .as_ref()
            .map_or(0, Subscriptions::new_session);
        Self {
            source,
            options,
            session,
        }
    }

    /// A server whose backend comes with each HTTP request: the gateway's
    /// authentication inserts a [`TenantBackend<B>`] into the request's
    /// extensions before [`crate::streamable_http_service`] sees it. The
    /// first request of a session binds it to its tenant; a request of
    /// another tenant in the same session is refused, so two tenants never
    /// share a session.
    pub fn per_request(options: ServerOptions) -> Self {
        Self::with_source(
            Source::PerRequest {
                bound: Mutex::new(None),
            },
            options,
        )
    }

    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    fn backend(&self, context: &RequestContext<RoleServer>) -> Result<Arc<B>, ErrorData> {
        self.bind(context).map(|(_, backend)| backend)
    }

    /// The request's tenant (empty for a fixed backend: one tenant per
    /// process) and backend; over HTTP the first request binds the session.
    fn bind(&self, context: &RequestContext<RoleServer>) -> Result<(String, Arc<B>), ErrorData> {
        match &self.source {
            Source::Fixed(backend) => Ok((String::new(), backend.clone())),
            Source::PerRequest { bound } => {
                let tenant = context
                    .extensions
                    .get::<http::request::Parts>()
                    .and_then(|parts| parts.extensions.get::<TenantBackend<B>>())
                    .ok_or_else(|| {
                        ErrorData::internal_error(
                            "no tenant for this request: /mcp must be behind the gateway's authentication",
                            None,
                        )
                    })?;
                let mut bound = bound
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                match bound.as_deref() {
                    None => *bound = Some(tenant.tenant.clone()),
                    Some(owner) if owner != tenant.tenant => {
                        return Err(ErrorData::invalid_request(
                            "this MCP session belongs to another tenant",
                            None,
                        ));
                    }
                    Some(_) => {}
                }
                Ok((tenant.tenant.clone(), tenant.backend.clone()))
            }
        }
    }

    /// The resource family that takes `uri`, with its tool's params.
    fn template_for(&self, uri: &str) -> Option<(&ResourceTemplate, Value)> {
        self.options
            .resources
            .iter()
            .find_map(|t| t.params_for(uri).map(|params| (t, params)))
    }

    /// Refuses a prompt's or a resource's tool unless it is a read this
    /// credential may call: they are held to the same rules as a call.
    async fn usable_read(&self, backend: &B, tool: &str) -> Result<(), ErrorData> {
        let visible = self.visible(backend).await.map_err(|error| {
            ErrorData::internal_error(format!("the tools could not be listed: {error}"), None)
        })?;
        if visible
            .iter()
            .any(|(spec, _)| spec.name == tool && spec.read_only)
        {
            Ok(())
        } else {
            Err(ErrorData::invalid_params(
                format!("this needs the tool '{tool}', which this credential cannot use"),
                None,
            ))
        }
    }

    /// The tools this credential may see, with their specs.
    async fn visible(&self, backend: &B) -> Result<Vec<(ToolSpec, Tool)>, CallError> {
        let specs = backend.tools().await?;
        let usable = backend.usable().await?;
        Ok(specs
            .into_iter()
            .filter(|spec| !self.options.read_only || spec.read_only)
            .filter(|spec| {
                usable
                    .as_ref()
                    .is_none_or(|names| names.contains(&spec.name))
            })
            .filter_map(|spec| to_tool(&spec).map(|tool| (spec, tool)))
            .collect())
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let backend = self.backend(&context)?;
        let specs = match backend.tools().await {
            Ok(specs) => specs,
            Err(error) => return Ok(error_result(&error).into()),
        };
        let Some(spec) = specs.into_iter().find(|spec| spec.name == request.name) else {
            // The spec: an unknown tool is a protocol error, not a tool result.
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        if self.options.read_only && !spec.read_only {
            return Ok(error_result(&CallError::new(
                "read_only",
                format!(
                    "this server runs read-only and `{}` changes the upstream",
                    spec.name
                ),
            ))
            .into());
        }
        match backend.usable().await {
            Ok(Some(usable)) if !usable.contains(&spec.name) => {
                let mut error = CallError::new(
                    "permission_denied",
                    format!(
                        "the credential's scopes do not cover `{}`, which needs {}",
                        spec.name,
                        spec.scopes.join(", ")
                    ),
                );
                error.details = json!({ "required_scopes": spec.scopes });
                return Ok(error_result(&error).into());
            }
            Ok(_) => {}
            Err(error) => return Ok(error_result(&error).into()),
        }
        let Some(output_schema) = to_tool(&spec).map(|tool| tool.output_schema.is_some()) else {
            return Err(ErrorData::internal_error(
                format!("`{}` has no object input schema", spec.name),
                None,
            ));
        };
        let params = Value::Object(request.arguments.clone().unwrap_or_default());
        if spec.destructive {
            match self.confirm(&spec, &params, &request, &context).await {
                Confirmation::Run => {}
                Confirmation::Refused(error) => return Ok(error_result(&error).into()),
                Confirmation::Ask(input) => return Ok(input.into()),
            }
        }
        let running = backend.call(&spec.name, params.to_string());
        let answer = tokio::select! {
            answer = self.reporting_progress(running, &spec, &context) => answer,
            () = context.ct.cancelled() => {
                return Err(ErrorData::internal_error("the call was cancelled", None));
            }
        };
        Ok(match answer {
            Ok(json) => self.success(&json, output_schema),
            Err(error) => error_result(&error),
        }
        .into())
    }

    /// Runs `call`; a client that asked for progress (a `progressToken`)
    /// hears every `progress_every` that it is still running, so a person
    /// sees a slow merge is alive and a client that resets its timeout on
    /// progress keeps waiting. A notice that cannot be sent is dropped: the
    /// answer still comes.
    async fn reporting_progress<T>(
        &self,
        call: impl Future<Output = T>,
        spec: &ToolSpec,
        context: &RequestContext<RoleServer>,
    ) -> T {
        let Some(token) = context.meta.get_progress_token() else {
            return call.await;
        };
        let every = self.options.progress_every;
        let started = tokio::time::Instant::now();
        let mut ticks = tokio::time::interval_at(started + every, every);
        let mut reported = 0u32;
        tokio::pin!(call);
        loop {
            tokio::select! {
                answer = &mut call => return answer,
                _ = ticks.tick() => {
                    reported += 1;
                    let notice = ProgressNotificationParam::new(token.clone(), f64::from(reported))
                        .with_message(format!(
                            "`{}` is still running ({} s)",
                            spec.name,
                            started.elapsed().as_secs()
                        ));
                    if let Err(error) = context.peer.notify_progress(notice).await {
                        tracing::debug!(%error, "a progress notice was not sent");
                    }
                }
            }
        }
    }

    /// Ask the user to confirm a destructive call.
    ///
    /// When the client declared the elicitation capability, the call runs
    /// only if the user accepts; a decline or a cancel answers `cancelled`
    /// and nothing is sent. A client without elicitation runs the call at
    /// once: refusing every destructive tool to it would make them useless,
    /// and such clients (Claude Desktop, editors) show their own
    /// confirmation before any tool call whose `destructiveHint` is true.
    ///
    /// Sessions that began with `initialize` (protocol up to 2025-11-25) get
    /// an `elicitation/create` request; 2026-07-28 forbids server-to-client
    /// requests, so there the call answers an `InputRequiredResult` (MRTR)
    /// and runs when the client retries it with the user's answer.
    async fn confirm(
        &self,
        spec: &ToolSpec,
        params: &Value,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Confirmation {
        let declared = context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.elicitation.is_some());
        let inline = context
            .protocol_version()
            .is_some_and(|version| version.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        let message = confirm_message(spec, params);
        let schema = ElicitationSchema::builder()
            .build()
            .expect("an empty form is valid");
        let elicit = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message,
            requested_schema: schema,
        };
        if inline {
            if let Some(answer) = request
                .input_responses
                .as_ref()
                .and_then(|answers| answers.get(CONFIRM_KEY))
            {
                return match serde_json::from_value::<ElicitResult>(answer.clone()) {
                    Ok(answer) => answered(spec, answer.action),
                    Err(error) => Confirmation::Refused(CallError::new(
                        "cancelled",
                        format!(
                            "the confirmation answer could not be read ({error}); nothing was sent"
                        ),
                    )),
                };
            }
            if !declared {
                return Confirmation::Run;
            }
            let mut requests = InputRequests::new();
            requests.insert(
                CONFIRM_KEY.into(),
                InputRequest::Elicitation(ElicitRequest::new(elicit)),
            );
            return Confirmation::Ask(InputRequiredResult::from_input_requests(requests));
        }
        if !declared {
            return Confirmation::Run;
        }
        match context
            .peer
            .create_elicitation_with_timeout(elicit, Some(self.options.confirm_timeout))
            .await
        {
            Ok(answer) => answered(spec, answer.action),
            Err(error) => Confirmation::Refused(CallError::new(
                "cancelled",
                format!(
                    "`{}` needs the user's confirmation, which did not come ({error}); nothing was sent",
                    spec.name
                ),
            )),
        }
    }

    /// A result: the JSON as structured content (when the tool declared an
    /// output schema and the answer is an object) and as text within the
    /// budget.
    fn success(&self, json: &str, structured: bool) -> CallToolResult {
        let value: Option<Value> = serde_json::from_str(json).ok();
        let structured_content = value.filter(|value| structured && value.is_object());
        let text = cut_text(
            json,
            self.options.text_budget_bytes,
            structured_content.is_some(),
        );
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = structured_content;
        result
    }
}

enum Confirmation {
    Run,
    Refused(CallError),
    Ask(InputRequiredResult),
}

fn answered(spec: &ToolSpec, action: ElicitationAction) -> Confirmation {
    match action {
        ElicitationAction::Accept => Confirmation::Run,
        action => Confirmation::Refused(CallError::new(
            "cancelled",
            format!(
                "the user did not confirm `{}` ({}); nothing was sent",
                spec.name,
                serde_json::to_value(&action)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "no answer".into())
            ),
        )),
    }
}

/// What the user is asked before a destructive call: the tool and its
/// params (cut to 1 KiB: the params are the agent's, the screen is small).
fn confirm_message(spec: &ToolSpec, params: &Value) -> String {
    let params = params.to_string();
    let shown = if params.len() > 1024 {
        format!("{}…", &params[..params.floor_char_boundary(1024)])
    } else {
        params
    };
    format!(
        "Confirm {} (`{}`): it cannot be undone. Params: {shown}",
        spec.title, spec.name
    )
}

/// The text copy of a result, at most `budget` bytes (cut on a character
/// boundary), saying what was cut and where the whole answer is.
fn cut_text(json: &str, budget: usize, structured: bool) -> String {
    if json.len() <= budget {
        return json.to_owned();
    }
    let kept = json.floor_char_boundary(budget);
    let whole = if structured {
        "the whole answer is in structuredContent"
    } else {
        "ask for less (a smaller page.size or max_bytes) to see the rest"
    };
    format!(
        "{}\n[cut: this text keeps {kept} of {} bytes, {} left out; {whole}]",
        &json[..kept],
        json.len(),
        json.len() - kept
    )
}

/// A failed call as MCP wants it: a tool result with `isError`, the typed
/// error as structured content and one line of text.
fn error_result(error: &CallError) -> CallToolResult {
    let mut body = json!({
        "code": error.code,
        "message": error.message,
        "retryable": error.retryable,
        "retry_after_seconds": error.retry_after_seconds,
        "field": error.field,
    });
    if !error.details.is_null() {
        body["details"] = error.details.clone();
    }
    let mut result = CallToolResult::structured_error(json!({ "error": body }));
    let line = error.to_string().replace(['\n', '\r'], " ");
    result.content = vec![ContentBlock::text(line)];
    result
}

/// One operation as an MCP tool, or `None` when its input schema is not an
/// object (MCP requires `inputSchema` to be `type: object`; the contract's
/// params always are, so this only guards against a broken component).
pub(crate) fn to_tool(spec: &ToolSpec) -> Option<Tool> {
    let Some(input) = object_schema(&spec.input_schema) else {
        tracing::warn!(tool = %spec.name, "input schema is not an object schema; tool left out");
        return None;
    };
    let listing = object_schema(&spec.output_schema).is_some_and(|schema| {
        schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|properties| properties.contains_key("next_cursor"))
    });
    let description = if listing {
        format!("{} {LISTING_HINT}", spec.description)
    } else {
        spec.description.clone()
    };
    let annotations = ToolAnnotations::with_title(spec.title.clone())
        .read_only(spec.read_only)
        .destructive(spec.destructive)
        .idempotent(spec.idempotent)
        .open_world(spec.open_world);
    let mut tool = Tool::new_with_raw(
        Cow::Owned(spec.name.clone()),
        Some(Cow::Owned(description)),
        Arc::new(input),
    )
    .with_title(spec.title.clone())
    .with_annotations(annotations);
    // MCP (2025-06-18 to 2025-11-25) requires an outputSchema to be an
    // object schema, and structuredContent to be an object that conforms.
    // A result whose schema's root is anything else (an array, a bare
    // `$ref`, `oneOf`) gets no outputSchema and answers as text only:
    // wrapping it in `{result: …}` would publish a shape the contract does
    // not have. The contract's results are all objects today.
    if let Some(output) = object_schema(&spec.output_schema) {
        tool = tool.with_raw_output_schema(Arc::new(output));
    }
    Some(tool)
}

/// The schema as a JSON object when its root says `type: object`.
fn object_schema(schema: &Value) -> Option<JsonObject> {
    let object = schema.as_object()?;
    (object.get("type") == Some(&Value::String("object".into()))).then(|| object.clone())
}

impl<B: Backend> ServerHandler for McpServer<B> {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder().enable_tools().build();
        if !self.options.prompts.is_empty() {
            capabilities.prompts = ServerCapabilities::builder()
                .enable_prompts()
                .build()
                .prompts;
        }
        if !self.options.resources.is_empty() {
            let resources = ServerCapabilities::builder().enable_resources();
            capabilities.resources = if self.options.subscriptions.is_some() {
                resources.enable_resources_subscribe().build().resources
            } else {
                resources.build().resources
            };
        }
        let mut config = ServerConfig::new(capabilities).with_server_info(Implementation::new(
            self.options.name.clone(),
            self.options.version.clone(),
        ));
        if !self.options.instructions.is_empty() {
            config = config.with_instructions(self.options.instructions.clone());
        }
        config
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        // Over HTTP, bind the session to its tenant at once.
        self.backend(&context)?;
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let backend = self.backend(&context)?;
        let tools = self.visible(&backend).await.map_err(|error| {
            ErrorData::internal_error(format!("the tools could not be listed: {error}"), None)
        })?;
        // A few dozen tools: one page. The list depends on the credential's
        // scopes, so no one else may serve it from a cache.
        Ok(
            ListToolsResult::with_all_items(tools.into_iter().map(|(_, tool)| tool).collect())
                .with_cache_scope(CacheScope::Private),
        )
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.call(request, context).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.options
                .resources
                .iter()
                .map(ResourceTemplate::listed)
                .collect(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let (template, params) = self
            .template_for(&request.uri)
            .ok_or_else(|| resources::unknown(&request.uri))?;
        let backend = self.backend(&context)?;
        self.usable_read(&backend, &template.tool).await?;
        let json = backend
            .call(&template.tool, params.to_string())
            .await
            .map_err(|error| match error.code.as_str() {
                "not_found" => ErrorData::resource_not_found(error.to_string(), None),
                "validation" => ErrorData::invalid_params(error.to_string(), None),
                _ => ErrorData::internal_error(error.to_string(), None),
            })?;
        Ok(ReadResourceResult::new(vec![ResourceTemplate::contents(&request.uri, json)]).into())
    }

    /// Watch a resource: when the host learns it changed (a verified
    /// webhook delivery), this session hears `notifications/resources/updated`
    /// with the URI as given. Only what this credential may read can be
    /// watched, and only for the session's own tenant.
    #[allow(deprecated)] // 2026-07-28 moves this to `subscriptions/listen`; today's clients use it
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some(subscriptions) = &self.options.subscriptions else {
            return Err(ErrorData::method_not_found::<
                rmcp::model::SubscribeRequestMethod,
            >());
        };
        let (template, params) = self
            .template_for(&request.uri)
            .ok_or_else(|| resources::unknown(&request.uri))?;
        let (tenant, backend) = self.bind(&context)?;
        self.usable_read(&backend, &template.tool).await?;
        subscriptions.add(
            self.session,
            &tenant,
            &request.uri,
            &template.name,
            params,
            Listener::Session(context.peer.clone()),
        )
    }

    /// 2026-07-28: the resources of a `subscriptions/listen` request this
    /// server can watch (a template takes the URI), at most
    /// [`SUBSCRIPTIONS_PER_SESSION`]; nothing else it offers changes.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.options.subscriptions.as_ref()?;
        let watchable = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|uri| self.template_for(uri).is_some())
            .take(SUBSCRIPTIONS_PER_SESSION)
            .cloned();
        Some(
            SubscriptionFilter::builder()
                .resource_subscriptions(watchable)
                .build(),
        )
    }

    /// A listen stream watches its resources until the client cancels it or
    /// the session ends. A resource this credential may not read was
    /// acknowledged (the filter is decided before the tenant is known) but
    /// is never updated, and the refusal is logged.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let Some(subscriptions) = &self.options.subscriptions else {
            return Ok(());
        };
        let (tenant, backend) = self.bind(context.request_context())?;
        let stream = subscriptions.new_session();
        for uri in context.accepted().resource_subscriptions.iter().flatten() {
            let Some((template, params)) = self.template_for(uri) else {
                continue;
            };
            if let Err(error) = self.usable_read(&backend, &template.tool).await {
                tracing::info!(%error, "a listen stream asked for a resource it may not read");
                continue;
            }
            subscriptions.add(
                stream,
                &tenant,
                uri,
                &template.name,
                params,
                Listener::Stream(context.sink().clone()),
            )?;
        }
        context.cancelled().await;
        subscriptions.end_session(stream);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some(subscriptions) = &self.options.subscriptions else {
            return Err(ErrorData::method_not_found::<
                rmcp::model::UnsubscribeRequestMethod,
            >());
        };
        self.bind(&context)?;
        subscriptions.remove(self.session, &request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(
            self.options
                .prompts
                .iter()
                .map(PromptTemplate::listed)
                .collect(),
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let template = self
            .options
            .prompts
            .iter()
            .find(|p| p.name == request.name)
            .ok_or_else(|| {
                ErrorData::invalid_params(format!("no prompt '{}'", request.name), None)
            })?;
        let arguments = request.arguments.unwrap_or_default();
        let params = template.params(&arguments)?;
        let backend = self.backend(&context)?;
        self.usable_read(&backend, &template.tool).await?;
        let data = match backend.call(&template.tool, params.to_string()).await {
            Ok(json) => cut_text(&json, self.options.text_budget_bytes, false),
            Err(error) => format!("an error: {error}"),
        };
        Ok(template.answer(&arguments, &data).into())
    }

    fn get_tool(&self, _name: &str) -> Option<Tool> {
        // The tools come from the backend, asynchronously: `call_tool` finds
        // and checks them itself.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_text_says_what_was_cut_on_a_char_boundary() {
        let text = format!("\"{}\"", "é".repeat(10));
        let cut = cut_text(&text, 6, true);
        assert!(cut.starts_with("\"éé\n"), "{cut}");
        assert!(
            cut.contains(
                "keeps 5 of 22 bytes, 17 left out; the whole answer is in structuredContent"
            ),
            "{cut}"
        );
        assert_eq!(cut_text("{}", 6, true), "{}");
    }

    #[test]
    fn a_non_object_result_schema_gets_no_output_schema() {
        let spec = ToolSpec {
            name: "x".into(),
            title: "X".into(),
            description: "d".into(),
            input_schema: json!({"type": "object"}),
            output_schema: json!({"type": "array"}),
            read_only: true,
            destructive: false,
            idempotent: true,
            open_world: true,
            scopes: vec![],
        };
        let tool = to_tool(&spec).expect("tool");
        assert!(tool.output_schema.is_none());
        let spec = ToolSpec {
            input_schema: json!({"type": "string"}),
            ..spec
        };
        assert!(to_tool(&spec).is_none());
    }
}
