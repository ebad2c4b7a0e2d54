//! `operations` and `capabilities`: what the loaded component says it can do.

use std::process::ExitCode;

use atom_runtime::contract::{Operation, OperationFacts};
use atom_runtime::{Sandbox, Tenant, wire};

use crate::output::{self, Output};

pub async fn operations(
    sandbox: &Sandbox,
    tenant: &Tenant,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let operations = sandbox.operations(tenant).await?;
    match output {
        Output::Json => output::print(&wire::operations(&operations), output),
        Output::Table => println!("{}", operations_table(&operations)),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn capabilities(
    sandbox: &Sandbox,
    tenant: &Tenant,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let capabilities = sandbox.capabilities(tenant).await?;
    output::print(&wire::capabilities(&capabilities), output);
    Ok(ExitCode::SUCCESS)
}

fn operations_table(operations: &[Operation]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(["operation", "complexity", "facts", "scopes", "description"]);
    for op in operations {
        table.add_row([
            op.name.as_str(),
            wire::complexity_name(op.complexity),
            &facts_words(&op.facts),
            &op.facts.scopes.join(" "),
            op.description.as_str(),
        ]);
    }
    table
}

/// `read-only idempotent`, `destructive`...: the facts that hold, as words.
fn facts_words(facts: &OperationFacts) -> String {
    [
        (facts.read_only, "read-only"),
        (facts.destructive, "destructive"),
        (facts.idempotent, "idempotent"),
    ]
    .iter()
    .filter(|(holds, _)| *holds)
    .map(|(_, word)| *word)
    .collect::<Vec<_>>()
    .join(" ")
}
