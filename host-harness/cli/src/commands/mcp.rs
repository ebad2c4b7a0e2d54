//! `mcp`: the component's operations as MCP tools over stdio, for the one
//! tenant the command line names (a stored credential or the environment's
//! token). Logs go to stderr; stdout is the protocol's.

use std::process::ExitCode;
use std::sync::Arc;

use atom_gateway::{mcp_prompts, mcp_resources, mcp_tool_spec};
use atom_mcp::{Backend, CallError, McpServer, ServerOptions, ToolSpec, serve_stdio};
use atom_runtime::{Failure, Sandbox, Tenant};
use tokio::sync::OnceCell;

pub struct McpArgs {
    /// List and run only the operations that change nothing.
    pub read_only: bool,
}

pub async fn run(sandbox: Sandbox, tenant: Tenant, args: McpArgs) -> anyhow::Result<ExitCode> {
    let info = sandbox.capabilities(&tenant).await?;
    let options = ServerOptions {
        read_only: args.read_only,
        name: format!("atom-{}", info.name),
        version: info.version,
        instructions: format!(
            "{} Each tool is one operation; its annotations say whether it only reads, \
             can destroy, or is safe to repeat. Listings answer next_cursor: pass it as \
             page.cursor to continue. Large diffs and files are cut to a byte budget \
             (max_bytes) and say what was cut.",
            info.description
        ),
        prompts: mcp_prompts(),
        resources: mcp_resources(),
        ..ServerOptions::default()
    };
    let backend = Arc::new(SandboxBackend {
        sandbox,
        tenant,
        usable: OnceCell::new(),
    });
    serve_stdio(McpServer::new(backend, options))
        .await
        .map_err(|e| anyhow::anyhow!("the MCP session failed: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// One tenant's sandbox, as the MCP server's backend.
pub struct SandboxBackend {
    pub sandbox: Sandbox,
    pub tenant: Tenant,
    /// What the credential's scopes cover, asked of `health` once.
    pub usable: OnceCell<Option<Vec<String>>>,
}

impl Backend for SandboxBackend {
    async fn tools(&self) -> Result<Vec<ToolSpec>, CallError> {
        let operations = self
            .sandbox
            .operations(&self.tenant)
            .await
            .map_err(call_error)?;
        Ok(operations.iter().filter_map(mcp_tool_spec).collect())
    }

    async fn usable(&self) -> Result<Option<Vec<String>>, CallError> {
        let usable = self
            .usable
            .get_or_init(|| async {
                // Unknown (no answer, or scopes the upstream did not say)
                // lists every tool; Bitbucket still refuses what it must.
                self.sandbox
                    .health(&self.tenant)
                    .await
                    .ok()
                    .and_then(|report| report.usable_operations)
            })
            .await;
        Ok(usable.clone())
    }

    async fn call(&self, name: &str, params_json: String) -> Result<String, CallError> {
        self.sandbox
            .execute(&self.tenant, name, &params_json)
            .await
            .map_err(call_error)
    }
}

/// The contract's failure as the tool error a client sees.
fn call_error(failure: Failure) -> CallError {
    CallError::from_details(failure.to_json())
}
