//! The smallest real ATOM integration: one operation, `greet`, whose
//! greeting word comes from the host's configuration. It implements only
//! the generic contract, so the host's tests load it exactly as they load
//! the Bitbucket component, with no change to the host.

// Generated glue is the only unsafe code in the crate.
#[allow(unsafe_code, unsafe_op_in_unsafe_fn)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/integration@0.8.0",
        world: "atom:integration/plugin",
    });

    // Exported symbols are named like `atom:integration/…#execute`, which a
    // native linker refuses; natively the crate is only type-checked.
    #[cfg(target_arch = "wasm32")]
    use crate::Hello;
    #[cfg(target_arch = "wasm32")]
    export!(Hello);
}

use bindings::atom::integration::host;
use bindings::atom::integration::types::*;
use bindings::exports::atom::integration::integration::{
    Complexity, Guest, IntegrationInfo, Operation, OperationFacts,
};

/// The component the bindings export.
pub struct Hello;

/// The longest name `greet` takes, in bytes.
const MAX_NAME: usize = 64;

const GREET_PARAMS: &str = r#"{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":64}},"required":["name"],"additionalProperties":false}"#;
const GREET_RESULT: &str =
    r#"{"type":"object","properties":{"greeting":{"type":"string"}},"required":["greeting"]}"#;

fn validation(field: &str, message: &str) -> Error {
    Error::Validation(ValidationError {
        field: field.to_owned(),
        message: message.to_owned(),
        retryable: false,
    })
}

/// `{"name": "..."}` without a JSON library: the component stays tiny, and
/// anything but one plain string field is refused by name.
fn name_param(params_json: &str) -> Result<String, Error> {
    let body = params_json.trim();
    let inner = body
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| validation("params", "must be a JSON object"))?;
    let value = inner
        .trim()
        .strip_prefix("\"name\"")
        .map(str::trim_start)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::trim)
        .ok_or_else(|| validation("name", "is required"))?;
    let name = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|name| !name.contains(['"', '\\']))
        .ok_or_else(|| validation("name", "must be a plain string"))?;
    if name.is_empty() {
        return Err(validation("name", "must not be empty"));
    }
    if name.len() > MAX_NAME {
        return Err(validation("name", "is longer than 64 bytes"));
    }
    Ok(name.to_owned())
}

impl Guest for Hello {
    fn capabilities() -> IntegrationInfo {
        IntegrationInfo {
            name: "hello".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Test integration: greets by name, with no upstream.".to_owned(),
            auth_kinds: Vec::new(),
            allowed_hosts: Vec::new(),
            rate_limits: Vec::new(),
            supports_webhooks: false,
            webhook_events: Vec::new(),
        }
    }

    fn operations() -> Vec<Operation> {
        vec![Operation {
            name: "greet".to_owned(),
            title: "Greet".to_owned(),
            description: "A greeting for `name`, with the connection's `greeting` word.".to_owned(),
            complexity: Complexity::Read,
            facts: OperationFacts {
                read_only: true,
                destructive: false,
                idempotent: true,
                scopes: Vec::new(),
            },
            parameters_schema: GREET_PARAMS.to_owned(),
            result_schema: GREET_RESULT.to_owned(),
        }]
    }

    fn execute(operation: String, params_json: String) -> Result<String, Error> {
        match operation.as_str() {
            "greet" => {
                let name = name_param(&params_json)?;
                let word = host::get_config("greeting").unwrap_or_else(|| "Hello".to_owned());
                host::log(host::LogLevel::Info, "greeted", &[]);
                Ok(format!(r#"{{"greeting":"{word}, {name}!"}}"#))
            }
            _ => Err(validation(
                "operation",
                "unknown operation; operations() lists them",
            )),
        }
    }

    fn health() -> Result<HealthReport, Error> {
        Ok(HealthReport {
            status: HealthStatus::Ok,
            message: "hello needs no upstream".to_owned(),
            credential_kind: None,
            account: None,
            scopes: Vec::new(),
            can: Vec::new(),
            expires_at: None,
            api_base_url: String::new(),
            usable_operations: None,
            blocked_operations: Vec::new(),
        })
    }
}
