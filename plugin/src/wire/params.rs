//! `execute`'s JSON side: schemas generated from the contract's records, and
//! params parsed into them with errors that name the offending field.

use schemars::{JsonSchema, SchemaGenerator};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;

/// The request of operations that take none: `{}` in `execute`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

pub fn schema_of<T: JsonSchema>() -> Value {
    SchemaGenerator::default()
        .into_root_schema_for::<T>()
        .to_value()
}

/// Parses `params` into `T`. Unknown keys are refused rather than ignored: a
/// misspelt optional filter must not silently widen a listing. Enum values
/// are matched ignoring case and `-`/`_`, so `open`, `OPEN` and `Open` agree.
pub fn parse<T: DeserializeOwned + JsonSchema>(params: &str) -> Result<T, Error> {
    let mut value: Value = if params.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(params)
            .map_err(|e| Error::validation("params", format!("is not valid JSON: {e}")))?
    };
    if !value.is_object() {
        return Err(Error::validation("params", "must be a JSON object"));
    }
    let schema = schema_of::<T>();
    normalize(&schema, &schema, &mut value, "")?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let field = missing_field(&message)
            .map(|name| {
                if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            })
            .unwrap_or(path);
        Error::validation(&field, message)
    })
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

fn normalize(root: &Value, schema: &Value, value: &mut Value, path: &str) -> Result<(), Error> {
    match value {
        Value::Object(fields) => {
            let Some(properties) = object_properties(root, schema) else {
                return Ok(());
            };
            for (key, field_value) in fields.iter_mut() {
                let child = join(path, key);
                let field_schema = properties.get(key).ok_or_else(|| {
                    Error::validation(&child, "is not a parameter of this operation")
                })?;
                normalize(root, field_schema, field_value, &child)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            let Some(item_schema) = array_items(root, schema) else {
                return Ok(());
            };
            for (i, item) in items.iter_mut().enumerate() {
                normalize(root, item_schema, item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Value::String(text) => {
            let allowed = enum_values(root, schema);
            if allowed.is_empty() {
                return Ok(());
            }
            let wanted = fold(text);
            match allowed.iter().find(|candidate| fold(candidate) == wanted) {
                Some(canonical) => {
                    *text = (*canonical).to_owned();
                    Ok(())
                }
                None => Err(Error::validation(
                    path,
                    format!("must be one of: {}", allowed.join(", ")),
                )),
            }
        }
        _ => Ok(()),
    }
}

fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '-' && *c != '_' && *c != ' ')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The string values an enum schema allows (`enum`, or `oneOf` of `const`s).
fn enum_values<'a>(root: &'a Value, schema: &'a Value) -> Vec<&'a str> {
    alternatives(root, schema)
        .flat_map(|s| {
            let listed = s
                .get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            let constant = s.get("const").into_iter();
            listed.chain(constant).filter_map(Value::as_str)
        })
        .collect()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `{"$ref": "#/$defs/X"}` → the definition.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
            .unwrap_or(schema),
        None => schema,
    }
}

/// The object schema among the alternatives of an `Option<Record>`.
fn alternatives<'a>(root: &'a Value, schema: &'a Value) -> impl Iterator<Item = &'a Value> {
    let schema = resolve(root, schema);
    let nested = ["anyOf", "oneOf", "allOf"]
        .into_iter()
        .filter_map(move |key| schema.get(key).and_then(Value::as_array))
        .flatten()
        .map(move |s| resolve(root, s));
    std::iter::once(schema).chain(nested)
}

fn object_properties<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Map<String, Value>> {
    alternatives(root, schema).find_map(|s| s.get("properties").and_then(Value::as_object))
}

fn array_items<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    alternatives(root, schema).find_map(|s| s.get("items"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ListRepositoriesRequest;

    fn field_of(result: Result<ListRepositoriesRequest, Error>) -> String {
        match result {
            Err(Error::Validation(e)) => e.field,
            Err(_) => panic!("expected a validation error"),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(parse(r#"{}"#)), "workspace");
        assert_eq!(
            field_of(parse(r#"{"workspace":"a","page":{"size":"ten"}}"#)),
            "page.size"
        );
        assert_eq!(
            field_of(parse(r#"{"workspace":"a","page":{"szie":10}}"#)),
            "page.szie"
        );
        assert_eq!(field_of(parse(r#"{"workspace":"a","rol":"admin"}"#)), "rol");
        assert_eq!(field_of(parse(r#"[1]"#)), "params");
        assert_eq!(
            field_of(parse(r#"{"workspace":"a","role":"janitor"}"#)),
            "role"
        );
    }

    #[test]
    fn enum_values_ignore_case_and_separators() {
        let request: ListRepositoriesRequest =
            parse(r#"{"workspace":"a","role":"ADMIN"}"#).unwrap();
        assert!(matches!(request.role, Some(crate::types::RepoRole::Admin)));
        let merge: crate::types::MergePullRequestRequest =
            parse(r#"{"workspace":"a","repo_slug":"r","id":1,"strategy":"merge_commit"}"#).unwrap();
        assert!(matches!(
            merge.strategy,
            Some(crate::types::MergeStrategy::MergeCommit)
        ));
    }

    #[test]
    fn a_full_request_parses() {
        let request: ListRepositoriesRequest =
            parse(r#"{"workspace":"acme","page":{"size":10,"q":"name ~ \"a\""}}"#).unwrap();
        assert_eq!(request.workspace, "acme");
        assert_eq!(request.page.unwrap().size, Some(10));
    }
}
