//! `execute`'s params: JSON parsed into the operation's request record, with
//! errors that name the offending field.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// The request of operations that take none: `{}` in `execute`.
#[derive(Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Parses `params` into `T`. Unknown keys are refused rather than ignored: a
/// misspelt optional filter must not silently widen a listing.
pub fn parse<T: DeserializeOwned + Serialize>(params: &str) -> Result<T, Error> {
    let value: Value = if params.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(params)
            .map_err(|e| Error::validation("params", format!("is not valid JSON: {e}")))?
    };
    if !value.is_object() {
        return Err(Error::validation("params", "must be a JSON object"));
    }
    let parsed: T = serde_path_to_error::deserialize(&value).map_err(|e| {
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
    })?;
    // The generated records cannot carry `deny_unknown_fields`; every field
    // they know comes back when they are written out again (absent options
    // as null), so a key that does not is one they do not have.
    let known = serde_json::to_value(&parsed)
        .map_err(|e| Error::internal(format!("could not re-encode the params: {e}")))?;
    if let Some(field) = unknown_field(&value, &known, "") {
        return Err(Error::validation(
            &field,
            "is not a parameter of this operation",
        ));
    }
    Ok(parsed)
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// The first key of `given` that `known` lacks, as a dotted path.
fn unknown_field(given: &Value, known: &Value, path: &str) -> Option<String> {
    match (given, known) {
        (Value::Object(given), Value::Object(known)) => given.iter().find_map(|(key, value)| {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match known.get(key) {
                None => Some(child),
                Some(known) => unknown_field(value, known, &child),
            }
        }),
        (Value::Array(given), Value::Array(known)) => given
            .iter()
            .zip(known)
            .enumerate()
            .find_map(|(i, (given, known))| unknown_field(given, known, &format!("{path}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ListRepositoriesRequest, MergePullRequestRequest, MergeStrategy, RepoRole};

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
    fn enum_values_are_the_published_snake_case_names() {
        let request: ListRepositoriesRequest =
            parse(r#"{"workspace":"a","role":"admin"}"#).unwrap();
        assert_eq!(request.role, Some(RepoRole::Admin));
        let merge: MergePullRequestRequest =
            parse(r#"{"workspace":"a","repo_slug":"r","id":1,"strategy":"merge_commit"}"#).unwrap();
        assert_eq!(merge.strategy, Some(MergeStrategy::MergeCommit));
        assert_eq!(
            field_of(parse(r#"{"workspace":"a","role":"Admin"}"#)),
            "role"
        );
    }

    #[test]
    fn a_full_request_parses() {
        let request: ListRepositoriesRequest =
            parse(r#"{"workspace":"acme","page":{"size":10,"q":"name ~ \"a\""}}"#).unwrap();
        assert_eq!(request.workspace, "acme");
        assert_eq!(request.page.unwrap().size, Some(10));
    }

    #[test]
    fn unknown_keys_inside_lists_are_named() {
        let result: Result<crate::types::TriggerPipelineRequest, Error> = parse(
            r#"{"workspace":"a","repo_slug":"r","branch":"main","variables":[{"key":"A","value":"1"},{"key":"B","value":"2","secure":true}]}"#,
        );
        match result {
            Err(Error::Validation(e)) => assert_eq!(e.field, "variables[1].secure"),
            _ => panic!("the misspelt key must be refused"),
        }
    }
}
