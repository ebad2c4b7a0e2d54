//! `key=value` command-line arguments into an operation's JSON params,
//! typed by the operation's own parameter schema: the harness needs no
//! knowledge of any operation to build them.
//!
//! `page.size=50` nests, `states=open,merged` makes a list when the schema
//! says list, and `key:=<json>` passes raw JSON.

use serde_json::{Map, Value};

pub fn from_pairs(schema: &Value, pairs: &[String]) -> Result<Value, String> {
    let mut params = Value::Object(Map::new());
    for pair in pairs {
        let (key, value) = if let Some((key, raw)) = pair.split_once(":=") {
            let value =
                serde_json::from_str(raw).map_err(|e| format!("{key}: not valid JSON: {e}"))?;
            (key, value)
        } else if let Some((key, raw)) = pair.split_once('=') {
            (key, coerce(schema, field_schema(schema, key), raw))
        } else {
            return Err(format!("'{pair}' is not key=value"));
        };
        insert(&mut params, key, value)?;
    }
    Ok(params)
}

fn insert(params: &mut Value, key: &str, value: Value) -> Result<(), String> {
    let mut node = params;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err(format!("'{key}' has an empty segment"));
        }
        let map = node
            .as_object_mut()
            .ok_or_else(|| format!("'{key}' nests under a value"))?;
        if i + 1 == parts.len() {
            map.insert((*part).to_owned(), value);
            return Ok(());
        }
        node = map
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

fn coerce(root: &Value, schema: Option<&Value>, raw: &str) -> Value {
    let types = schema.map(|s| types_of(root, s)).unwrap_or_default();
    if types.iter().any(|t| t == "array") {
        let item = schema.and_then(|s| alternatives(root, s).find_map(|a| a.get("items")));
        return Value::Array(
            raw.split(',')
                .filter(|s| !s.is_empty())
                .map(|part| coerce(root, item, part.trim()))
                .collect(),
        );
    }
    if types.iter().any(|t| t == "string")
        || types.is_empty() && schema.is_some_and(|s| has_enum(root, s))
    {
        return Value::String(raw.to_owned());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// The schema of the (dotted) field `key`, following `$ref`s and options.
fn field_schema<'a>(root: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(root, |schema, part| {
        alternatives(root, schema).find_map(|s| s.get("properties")?.get(part))
    })
}

fn types_of(root: &Value, schema: &Value) -> Vec<String> {
    alternatives(root, schema)
        .filter_map(|s| s.get("type"))
        .flat_map(|t| match t {
            Value::String(s) => vec![s.clone()],
            Value::Array(list) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        })
        .filter(|t| t != "null")
        .collect()
}

fn has_enum(root: &Value, schema: &Value) -> bool {
    alternatives(root, schema).any(|s| s.get("enum").is_some() || s.get("oneOf").is_some())
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
        .unwrap_or(schema)
}

fn alternatives<'a>(root: &'a Value, schema: &'a Value) -> impl Iterator<Item = &'a Value> {
    let schema = resolve(root, schema);
    let nested = ["anyOf", "oneOf", "allOf"]
        .into_iter()
        .filter_map(move |k| schema.get(k).and_then(Value::as_array))
        .flatten()
        .map(move |s| resolve(root, s));
    std::iter::once(schema).chain(nested)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_take_the_schema_type() {
        let schema = json!({
            "type": "object",
            "properties": {
                "workspace": { "type": "string" },
                "id": { "type": "integer" },
                "states": { "type": ["array", "null"], "items": { "$ref": "#/$defs/State" } },
                "page": { "anyOf": [{ "$ref": "#/$defs/Page" }, { "type": "null" }] }
            },
            "$defs": {
                "State": { "type": "string", "enum": ["open", "merged"] },
                "Page": { "type": "object", "properties": { "size": { "type": ["integer", "null"] }, "q": { "type": ["string", "null"] } } }
            }
        });
        let args: Vec<String> = [
            "workspace=123",
            "id=7",
            "states=open,merged",
            "page.size=50",
            "page.q=name ~ \"x\"",
            "extra:={\"a\":1}",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            from_pairs(&schema, &args).unwrap(),
            json!({"workspace": "123", "id": 7, "states": ["open", "merged"], "page": {"size": 50, "q": "name ~ \"x\""}, "extra": {"a": 1}})
        );
        assert!(from_pairs(&schema, &["novalue".to_owned()]).is_err());
    }
}
