//! A misbehaving component for the host's isolation tests. It implements
//! only the generic contract (`atom:integration/plugin`), which is all the
//! host knows, but `execute("spin", …)` never returns: only the host's epoch
//! deadline can stop it. `execute("echo", …)` answers promptly, to show the
//! host still serves other calls; `execute("trap", …)` panics.

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
    use crate::Spinner;
    #[cfg(target_arch = "wasm32")]
    export!(Spinner);
}

use bindings::atom::integration::types::*;
use bindings::exports::atom::integration::integration::{
    Complexity, Guest, IntegrationInfo, Operation, OperationFacts,
};

/// The component the bindings export.
pub struct Spinner;

/// Burns CPU until the host interrupts it. `black_box` hides the state from
/// the optimiser, so the loop cannot be folded away.
fn spin() -> ! {
    let mut state = 0u64;
    loop {
        state = std::hint::black_box(
            state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1),
        );
    }
}

/// Nothing here reaches an upstream.
fn read_only() -> OperationFacts {
    OperationFacts {
        read_only: true,
        destructive: false,
        idempotent: true,
        scopes: Vec::new(),
    }
}

fn operation(name: &str, description: &str) -> Operation {
    Operation {
        name: name.to_owned(),
        title: name.to_owned(),
        description: description.to_owned(),
        complexity: Complexity::Read,
        facts: read_only(),
        parameters_schema: r#"{"type":"object"}"#.to_owned(),
        result_schema: r#"{"type":"object"}"#.to_owned(),
    }
}

impl Guest for Spinner {
    fn capabilities() -> IntegrationInfo {
        IntegrationInfo {
            name: "spinner".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Test component: spins forever or echoes its params.".to_owned(),
            auth_kinds: Vec::new(),
            allowed_hosts: Vec::new(),
            rate_limits: Vec::new(),
            supports_webhooks: false,
            webhook_events: Vec::new(),
        }
    }

    fn operations() -> Vec<Operation> {
        vec![
            operation("spin", "Loops forever; only the host's deadline stops it."),
            operation("echo", "Answers its params unchanged."),
            operation("trap", "Panics, so the host sees a trap."),
        ]
    }

    fn execute(operation: String, params_json: String) -> Result<String, Error> {
        match operation.as_str() {
            "spin" => spin(),
            "echo" => Ok(params_json),
            "trap" => panic!("the spinner was asked to trap"),
            _ => Err(Error::Validation(ValidationError {
                field: "operation".to_owned(),
                message: format!("unknown operation '{operation}'; operations() lists them"),
                retryable: false,
            })),
        }
    }

    // Healthy without a credential, so the host's readiness checks pass.
    fn health() -> Result<HealthReport, Error> {
        Ok(HealthReport {
            status: HealthStatus::Ok,
            message: "the spinner needs no upstream".to_owned(),
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
