//! How the CLI prints answers: JSON for programs, tables for people.

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Pretty-printed JSON, the wire format.
    Json,
    /// A table sized to the terminal.
    Table,
}

/// Columns a listing shows at most: beyond this a table stops being readable
/// and `--output json` says it all.
const MAX_COLUMNS: usize = 6;
/// A cell longer than this is cut; the JSON output has the whole value.
const MAX_CELL: usize = 60;

pub fn print(value: &Value, output: Output) {
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        ),
        Output::Table => println!("{}", table(value)),
    }
}

/// A listing (an array, or a page's `items`) as one row per item; anything
/// else as field/value rows.
pub fn table(value: &Value) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let items = match value {
        Value::Array(items) => Some(items),
        Value::Object(fields) => fields.get("items").and_then(Value::as_array),
        _ => None,
    };
    match items {
        Some(items) => {
            let columns = columns(items);
            table.set_header(&columns);
            for item in items {
                table.add_row(columns.iter().map(|c| cell(&item[c])));
            }
        }
        None => {
            table.set_header(["field", "value"]);
            if let Value::Object(fields) = value {
                for (name, value) in fields {
                    table.add_row([name.clone(), cell(value)]);
                }
            } else {
                table.add_row(["value".to_owned(), cell(value)]);
            }
        }
    }
    table
}

/// Fields that name or place an item read first; the rest follow in the
/// item's (alphabetical) order.
const LEADING: &[&str] = &[
    "id",
    "build_number",
    "slug",
    "name",
    "title",
    "display_name",
    "key",
    "path",
    "state",
    "status",
];

/// The first item's fields that read well in a cell.
fn columns(items: &[Value]) -> Vec<String> {
    let Some(Value::Object(first)) = items.first() else {
        return Vec::new();
    };
    let readable = |name: &&String| {
        let value = &first[name.as_str()];
        !cell(value).is_empty() || value.is_null()
    };
    let leading = LEADING
        .iter()
        .filter_map(|name| first.keys().find(|k| k == name));
    let rest = first.keys().filter(|k| !LEADING.contains(&k.as_str()));
    leading
        .chain(rest)
        .filter(readable)
        .take(MAX_COLUMNS)
        .cloned()
        .collect()
}

/// A scalar as text; an object by its name (an account, a branch, a
/// workspace); lists and other structures are left to the JSON output.
fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Object(fields) => ["display_name", "name", "slug", "hash", "full_name"]
            .iter()
            .find_map(|key| fields.get(*key).and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned(),
        Value::Array(_) => String::new(),
    };
    match text.char_indices().nth(MAX_CELL) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_page_becomes_one_row_per_item_with_named_objects() {
        let page = json!({
            "items": [
                {"slug": "api", "owner": {"display_name": "Ada"}, "size": 12, "links": [1]},
                {"slug": "web", "owner": {"display_name": "Grace"}, "size": 3, "links": []}
            ],
            "next_cursor": null
        });
        let text = table(&page).to_string();
        assert!(text.contains("slug") && text.contains("owner") && text.contains("size"));
        assert!(!text.contains("links"), "lists are left to JSON: {text}");
        assert!(text.contains("Grace") && text.contains("web"), "{text}");
    }

    #[test]
    fn long_text_is_cut_and_a_record_reads_as_fields() {
        let record = json!({"title": "x".repeat(200), "id": 7});
        let text = table(&record).to_string();
        assert!(
            text.contains('…') && !text.contains(&"x".repeat(61)),
            "{text}"
        );
        assert!(text.contains("field") && text.contains("id"));
    }
}
