//! Bitbucket's `rendered` text fields.

use serde_json::Value;

/// Markdown as Bitbucket renders a one-paragraph text: escaped, in `<p>`.
pub(crate) fn rendered(raw: &str) -> Value {
    let escaped = raw
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let html = if raw.is_empty() {
        String::new()
    } else {
        format!("<p>{}</p>", escaped.replace("\n\n", "</p>\n<p>"))
    };
    serde_json::json!({ "raw": raw, "markup": "markdown", "html": html })
}
