//! One request or answer against its operation: parameters, status and JSON
//! bodies. Findings are `(where, what)` pairs; the layer files them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use jsonschema::Validator;
use serde_json::Value;

use super::convert::{Direction, root_schema};
use super::document::Operation;
use super::overrides;

pub type Finding = (String, String);

/// Compiled body schemas by (operation, direction, status): each is built
/// the first time a request needs it, then shared by the whole process.
type Cache = Mutex<HashMap<(String, Direction, String), Arc<Result<Validator, String>>>>;
static VALIDATORS: LazyLock<Cache> = LazyLock::new(|| Mutex::new(HashMap::new()));

const ERROR_SCHEMA: &str = "#/definitions/error";

pub fn request(
    op: &Operation<'_>,
    query: &[(String, String)],
    content_type: Option<&str>,
    body: &[u8],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, value) in &op.path_values {
        if let Some(parameter) = declared(op, "path", name)
            && let Some(what) = parameter_value_problem(parameter, value)
        {
            findings.push((format!("path parameter {name}"), what));
        }
    }
    for (name, value) in query {
        match declared(op, "query", name) {
            Some(parameter) => {
                if let Some(what) = parameter_value_problem(parameter, value) {
                    findings.push((format!("query parameter {name}"), what));
                }
            }
            None if is_allowed_extra(op, name) => {
                if name == "pagelen" && !value.parse::<u32>().is_ok_and(|n| n >= 1) {
                    findings.push((
                        "query parameter pagelen".into(),
                        format!("{value:?} is not a positive integer"),
                    ));
                }
            }
            None => findings.push((
                format!("query parameter {name}"),
                "the operation declares no such parameter".into(),
            )),
        }
    }
    for parameter in op.parameters.iter().filter(|p| p["in"] == "query") {
        let name = parameter["name"].as_str().unwrap_or_default();
        if parameter["required"] == true && !query.iter().any(|(k, _)| k == name) {
            findings.push((
                format!("query parameter {name}"),
                "required but missing".into(),
            ));
        }
    }
    if let Some(parameter) = op.parameters.iter().find(|p| p["in"] == "body") {
        let empty = body.iter().all(u8::is_ascii_whitespace);
        if empty {
            if parameter["required"] == true {
                findings.push(("body".into(), "required but empty".into()));
            }
        } else if !content_type.is_some_and(is_json) {
            findings.push((
                "body".into(),
                format!("sent as {content_type:?}, not application/json"),
            ));
        } else {
            findings.extend(json_body(
                op,
                Direction::Request,
                "request",
                &parameter["schema"],
                body,
            ));
        }
    }
    findings
}

pub fn response(
    op: &Operation<'_>,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    raw: bool,
) -> Vec<Finding> {
    if raw
        && overrides::RAW_CONTENT
            .iter()
            .any(|(m, p, _)| *m == op.method && *p == op.path)
    {
        return Vec::new();
    }
    let responses = &op.definition["responses"];
    let declared = responses
        .get(status.to_string())
        .or_else(|| responses.get("default"));
    let schema = match declared {
        Some(declared) => declared.get("schema").cloned(),
        None if overrides::is_universal_error(status)
            || overrides::EXTRA_ERRORS
                .iter()
                .any(|e| e.method == op.method && e.path == op.path && e.status == status) =>
        {
            Some(serde_json::json!({ "$ref": ERROR_SCHEMA }))
        }
        None if overrides::EXTRA_STATUS
            .iter()
            .any(|e| e.method == op.method && e.path == op.path && e.status == status) =>
        {
            None
        }
        None => {
            return vec![(
                "status".into(),
                format!("{status} is not declared for this operation"),
            )];
        }
    };
    let Some(schema) = schema else {
        return Vec::new();
    };
    if status == 429 && !content_type.is_some_and(is_json) {
        // Bitbucket's rate-limit answer is text/plain (API-NOTES §3).
        return Vec::new();
    }
    if !content_type.is_some_and(is_json) {
        return vec![(
            "body".into(),
            format!("{status} answered as {content_type:?}, the spec describes JSON"),
        )];
    }
    let findings = json_body(op, Direction::Response, &status.to_string(), &schema, body);
    if findings.is_empty() {
        return findings;
    }
    let alternative = overrides::ALTERNATIVE_ANSWERS.iter().find(|a| {
        a.method == op.method
            && a.path == op.path
            && a.status == status
            && json_body(
                op,
                Direction::Response,
                &format!("{status} as {}", a.definition),
                &serde_json::json!({ "$ref": format!("#/definitions/{}", a.definition) }),
                body,
            )
            .is_empty()
    });
    if alternative.is_some() {
        Vec::new()
    } else {
        findings
    }
}

/// Whether `op` takes its declared query parameters as a form body
/// (`overrides::FORM_BODIES`).
pub fn takes_form(op: &Operation<'_>) -> bool {
    overrides::FORM_BODIES
        .iter()
        .any(|(m, p, _)| *m == op.method && *p == op.path)
}

/// A form body (read by `form::parse`) against the operation's declared
/// parameters: plain fields must be declared ones, each sent once; any
/// other field is a file. Declared meta values must be UTF-8 text.
pub fn form(op: &Operation<'_>, fields: Result<Vec<crate::form::Field>, String>) -> Vec<Finding> {
    let fields = match fields {
        Ok(fields) => fields,
        Err(why) => return vec![("body".into(), why)],
    };
    let mut findings = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for field in &fields {
        let declared = declared(op, "query", &field.name).is_some();
        // A file field (multipart, with a `filename`) may be named anything,
        // `message` included: the `filename` tells it apart.
        if field.filename.is_some() {
            continue;
        }
        if !declared {
            // A plain field the operation does not declare is a file.
            continue;
        }
        if std::str::from_utf8(&field.value).is_err() {
            findings.push((
                format!("form field {}", field.name),
                "not UTF-8 text".into(),
            ));
        }
        // `files` lists paths and may repeat; the rest may not.
        if field.name != "files" && seen.contains(&field.name.as_str()) {
            findings.push((
                format!("form field {}", field.name),
                "sent more than once; the operation takes one".into(),
            ));
        }
        seen.push(&field.name);
    }
    findings
}

fn json_body(
    op: &Operation<'_>,
    direction: Direction,
    slot: &str,
    schema: &Value,
    body: &[u8],
) -> Vec<Finding> {
    let instance = match serde_json::from_slice::<Value>(body) {
        Ok(instance) => instance,
        Err(error) => return vec![("body".into(), format!("not JSON: {error}"))],
    };
    let key = (
        format!("{} {}", op.method, op.path),
        direction,
        slot.to_owned(),
    );
    let validator = {
        let mut cache = VALIDATORS.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| {
                Arc::new(
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft7)
                        .should_validate_formats(true)
                        .build(&root_schema(schema, direction))
                        .map_err(|e| e.to_string()),
                )
            })
            .clone()
    };
    match &*validator {
        Ok(validator) => validator
            .iter_errors(&instance)
            .map(|error| {
                (
                    format!("body{}", error.instance_path()),
                    shorten(&error.to_string()),
                )
            })
            .collect(),
        Err(error) => vec![("spec".into(), format!("schema does not compile: {error}"))],
    }
}

fn declared<'a>(op: &'a Operation<'_>, location: &str, name: &str) -> Option<&'a Value> {
    op.parameters
        .iter()
        .copied()
        .find(|p| p["in"] == location && p["name"] == name)
}

fn is_allowed_extra(op: &Operation<'_>, name: &str) -> bool {
    let paginated = op.definition["responses"]["200"]["schema"]["$ref"]
        .as_str()
        .is_some_and(|r| r.starts_with("#/definitions/paginated_") || r.ends_with("_page"));
    overrides::is_common_query(name, paginated)
        || overrides::EXTRA_QUERY
            .iter()
            .any(|e| e.method == op.method && e.path == op.path && e.names.contains(&name))
}

/// The spec's `type`, `enum`, `minimum` and `maximum` for one value.
fn parameter_value_problem(parameter: &Value, value: &str) -> Option<String> {
    let kind = parameter["type"].as_str().unwrap_or("string");
    let ok = match kind {
        "integer" => value.parse::<i64>().ok().map(|n| n as f64),
        "number" => value.parse::<f64>().ok(),
        "boolean" => {
            return (!matches!(value, "true" | "false"))
                .then(|| format!("{value:?} is not a boolean"));
        }
        _ => {
            let allowed = parameter["enum"].as_array()?;
            let value = overrides::enum_value(parameter, value);
            return (!allowed.iter().any(|a| a == value))
                .then(|| format!("{value:?} is not one of {}", Value::Array(allowed.clone())));
        }
    };
    let Some(number) = ok else {
        return Some(format!("{value:?} is not an {kind}"));
    };
    if parameter["minimum"]
        .as_f64()
        .is_some_and(|min| number < min)
    {
        return Some(format!(
            "{value} is below the minimum {}",
            parameter["minimum"]
        ));
    }
    if parameter["maximum"]
        .as_f64()
        .is_some_and(|max| number > max)
    {
        return Some(format!(
            "{value} is above the maximum {}",
            parameter["maximum"]
        ));
    }
    None
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Error texts quote the offending value; a whole page would drown the rest.
fn shorten(text: &str) -> String {
    const LIMIT: usize = 400;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
