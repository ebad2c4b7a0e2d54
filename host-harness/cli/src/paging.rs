//! `call --all`: follow a listing's cursors in this process.

use anyhow::bail;
use atom_runtime::{Failure, Sandbox, Tenant};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

/// The contract's most pages per call.
const PAGES_PER_CALL: u32 = 20;

/// Every item of every page of `operation`, in order. The progress bar goes
/// to stderr and hides itself when stderr is not a terminal.
pub async fn all_items(
    sandbox: &Sandbox,
    tenant: &Tenant,
    operation: &str,
    mut params: Value,
) -> anyhow::Result<Result<Vec<Value>, Failure>> {
    let Some(fields) = params.as_object_mut() else {
        bail!("parameters must be a JSON object");
    };
    let page = fields.entry("page").or_insert_with(|| json!({}));
    if page.is_null() {
        *page = json!({});
    }
    let Some(page) = page.as_object_mut() else {
        bail!("`page` must be an object to follow its cursor");
    };
    // Fewer, larger calls: each one fetches its pages concurrently when the
    // listing's total is known (see `page-request.pages` in the WIT).
    page.entry("pages").or_insert(json!(PAGES_PER_CALL));

    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let (mut items, mut pages, mut seen) = (Vec::new(), 0_usize, std::collections::HashSet::new());
    loop {
        let answer = match sandbox
            .execute(tenant, operation, &params.to_string())
            .await
        {
            Ok(answer) => answer,
            Err(failure) => {
                progress.finish_and_clear();
                return Ok(Err(failure));
            }
        };
        let mut answer: Value = serde_json::from_str(&answer)?;
        let Some(Value::Array(page_items)) = answer.get_mut("items").map(Value::take) else {
            progress.finish_and_clear();
            bail!("'{operation}' is not a listing: its answer has no `items`");
        };
        pages += 1;
        items.extend(page_items);
        progress.set_message(format!(
            "{operation}: {} items in {pages} pages",
            items.len()
        ));
        progress.tick();
        let Some(next) = answer["next_cursor"].as_str().map(str::to_owned) else {
            break;
        };
        if !seen.insert(next.clone()) {
            progress.finish_and_clear();
            bail!(
                "'{operation}' answered a cursor it had answered before; stopping after {pages} pages"
            );
        }
        params["page"]["cursor"] = Value::String(next);
    }
    progress.finish_and_clear();
    Ok(Ok(items))
}
