//! Swagger 2.0 schemas as JSON Schema (draft 7) for the `jsonschema` crate.
//!
//! Two things need translating. Swagger's `discriminator`: every definition
//! inheriting `definitions.object` is told apart by its `type` value, which
//! names the definition, so an `account` whose `type` is `"user"` must also
//! be a valid `user`. Each `$ref` to a definition with descendants becomes
//! "the definition, and if `type` names a descendant, that one too". And
//! the request-side override of `overrides::REQUEST_TYPE_NOT_REQUIRED`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::document::SPEC;
use super::overrides;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Request,
    Response,
}

static REQUEST_DEFINITIONS: LazyLock<Value> =
    LazyLock::new(|| convert_definitions(Direction::Request));
static RESPONSE_DEFINITIONS: LazyLock<Value> =
    LazyLock::new(|| convert_definitions(Direction::Response));

/// A root schema for `schema` (a schema from the spec, e.g. a response's),
/// carrying every converted definition for its `$ref`s to land on.
pub fn root_schema(schema: &Value, direction: Direction) -> Value {
    let definitions = match direction {
        Direction::Request => &*REQUEST_DEFINITIONS,
        Direction::Response => &*RESPONSE_DEFINITIONS,
    };
    let converter = Converter::new(direction);
    json!({
        "definitions": definitions,
        "allOf": [converter.convert(schema, false)],
    })
}

fn convert_definitions(direction: Direction) -> Value {
    let converter = Converter::new(direction);
    let definitions = SPEC.doc["definitions"]
        .as_object()
        .map(|defs| {
            defs.iter()
                .map(|(name, schema)| {
                    let mut schema = schema.clone();
                    if direction == Direction::Response {
                        adjust(name, &mut schema);
                    }
                    let mut converted = converter.convert(&schema, false);
                    let keeps_type = overrides::REQUEST_TYPE_REQUIRED
                        .iter()
                        .any(|(definition, _)| definition == name);
                    if direction == Direction::Request && keeps_type {
                        converted = json!({ "allOf": [converted, { "required": ["type"] }] });
                    }
                    (name.clone(), converted)
                })
                .collect::<Map<_, _>>()
        })
        .unwrap_or_default();
    Value::Object(definitions)
}

/// Applies `overrides::ADJUST` to one raw definition.
fn adjust(name: &str, definition: &mut Value) {
    for entry in overrides::ADJUST.iter().filter(|a| a.definition == name) {
        let own = if definition.get("properties").is_some() {
            Some(&mut *definition)
        } else {
            definition["allOf"]
                .as_array_mut()
                .and_then(|parts| parts.iter_mut().find(|p| p.get("properties").is_some()))
        };
        let Some(object) = own.and_then(|o| o.pointer_mut(entry.at)) else {
            continue;
        };
        match entry.change {
            overrides::Change::Nullable(property) => {
                if let Some(schema) = object["properties"].get_mut(property) {
                    *schema = json!({ "anyOf": [{ "type": "null" }, schema.take()] });
                }
            }
            overrides::Change::AnyFormat(property) => {
                if let Some(schema) = object["properties"].get_mut(property)
                    && let Some(map) = schema.as_object_mut()
                {
                    map.remove("format");
                }
            }
            overrides::Change::Extra(property) | overrides::Change::AnyType(property) => {
                object["properties"][property] = json!({});
            }
            overrides::Change::Open => {
                if let Some(map) = object.as_object_mut() {
                    map.remove("additionalProperties");
                }
            }
        }
    }
}

struct Converter {
    direction: Direction,
    /// Definition name → every definition that inherits it, transitively.
    descendants: BTreeMap<String, BTreeSet<String>>,
}

impl Converter {
    fn new(direction: Direction) -> Self {
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, schema) in SPEC.doc["definitions"].as_object().into_iter().flatten() {
            for parent in schema["allOf"].as_array().into_iter().flatten() {
                if let Some(parent) = parent["$ref"].as_str().and_then(definition_name) {
                    children
                        .entry(parent.to_owned())
                        .or_default()
                        .push(name.clone());
                }
            }
        }
        let mut descendants = BTreeMap::new();
        for name in children.keys() {
            let mut found = BTreeSet::new();
            let mut queue = vec![name.clone()];
            while let Some(next) = queue.pop() {
                for child in children.get(&next).into_iter().flatten() {
                    if found.insert(child.clone()) {
                        queue.push(child.clone());
                    }
                }
            }
            descendants.insert(name.clone(), found);
        }
        Self {
            direction,
            descendants,
        }
    }

    /// `inherited` marks an `allOf` member: a parent, checked as itself only
    /// (dispatching there again would loop back to the child).
    fn convert(&self, schema: &Value, inherited: bool) -> Value {
        let Value::Object(map) = schema else {
            return schema.clone();
        };
        if let Some(target) = map.get("$ref").and_then(Value::as_str) {
            return self.reference(target, inherited);
        }
        let mut out = Map::new();
        for (key, value) in map {
            match key.as_str() {
                // Swagger-only or documentation: no meaning to a validator.
                "discriminator" | "example" | "description" | "title" | "readOnly" => {}
                k if k.starts_with("x-") => {}
                "properties" => {
                    let properties = value
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(name, s)| (name.clone(), self.convert(s, false)))
                        .collect::<Map<_, _>>();
                    out.insert(key.clone(), Value::Object(properties));
                }
                "allOf" => {
                    let members = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| self.convert(s, true))
                        .collect();
                    out.insert(key.clone(), Value::Array(members));
                }
                "items" | "additionalProperties" if value.is_object() => {
                    out.insert(key.clone(), self.convert(value, false));
                }
                "required" if self.direction == Direction::Request => {
                    // overrides::REQUEST_TYPE_NOT_REQUIRED
                    let required: Vec<Value> = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|name| *name != "type")
                        .cloned()
                        .collect();
                    if !required.is_empty() {
                        out.insert(key.clone(), Value::Array(required));
                    }
                }
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        Value::Object(out)
    }

    fn reference(&self, target: &str, inherited: bool) -> Value {
        let plain = json!({ "$ref": target });
        let descendants = definition_name(target).and_then(|name| self.descendants.get(name));
        match descendants {
            Some(descendants) if !inherited => {
                let mut members = vec![plain];
                for child in descendants {
                    members.push(json!({
                        "if": {
                            "properties": { "type": { "const": child } },
                            "required": ["type"]
                        },
                        "then": { "$ref": format!("#/definitions/{child}") }
                    }));
                }
                json!({ "allOf": members })
            }
            _ => plain,
        }
    }
}

fn definition_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/definitions/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator(schema: &Value, direction: Direction) -> jsonschema::Validator {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            .build(&root_schema(schema, direction))
            .expect("the converted schema compiles")
    }

    #[test]
    fn a_discriminated_subtype_is_checked_as_itself() {
        let account = validator(
            &json!({"$ref": "#/definitions/account"}),
            Direction::Response,
        );
        assert!(account.is_valid(&json!({"type": "user", "nickname": "ada"})));
        // `user.nickname` is a string; `account` alone says nothing of it.
        assert!(!account.is_valid(&json!({"type": "user", "nickname": 7})));
        assert!(account.is_valid(&json!({"type": "team", "nickname": 7})));
    }

    #[test]
    fn a_pipeline_trigger_needs_target_type_and_selector_type() {
        let schema = json!({"$ref": "#/definitions/pipeline"});
        let request = validator(&schema, Direction::Request);
        let whole = json!({"target": {
            "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
            "selector": {"type": "custom", "pattern": "deploy"}
        }});
        assert!(request.is_valid(&whole));
        let mut no_target_type = whole.clone();
        no_target_type["target"]
            .as_object_mut()
            .unwrap()
            .remove("type");
        assert!(!request.is_valid(&no_target_type));
        let mut no_selector_type = whole.clone();
        no_selector_type["target"]["selector"]
            .as_object_mut()
            .unwrap()
            .remove("type");
        assert!(!request.is_valid(&no_selector_type));
        // The pipeline itself, and the commit in a target, still need none.
        let commit = json!({"target": {
            "type": "pipeline_commit_target", "commit": {"hash": "0123456789abcdef0123456789abcdef01234567"}
        }});
        assert!(request.is_valid(&commit));
    }

    #[test]
    fn request_bodies_need_no_type_but_responses_do() {
        let schema = json!({"$ref": "#/definitions/issue_change"});
        let body = json!({"changes": {"state": {"new": "resolved"}}});
        assert!(validator(&schema, Direction::Request).is_valid(&body));
        assert!(!validator(&schema, Direction::Response).is_valid(&body));
    }
}
