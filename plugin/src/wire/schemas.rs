//! Renders every operation's JSON Schemas from the Rust types, natively.
//!
//! Each call of the component runs in a fresh instance, so schemas built at
//! run time would be built on every `operations()`, and schemars added 210 KB
//! to the component. The schemas are rendered here instead,
//! into `plugin/schemas/`, which `catalog` embeds; the test below fails when
//! the checked-in files no longer match the types.

use std::path::{Path, PathBuf};
use std::{env, fs};

use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;

/// Set to `1` to rewrite `plugin/schemas/` from the types.
const REGENERATE: &str = "ATOM_REGENERATE_SCHEMAS";

/// One operation's schemas, as `operations()` publishes them.
pub struct RenderedSchemas {
    pub operation: &'static str,
    pub parameters: String,
    pub result: String,
}

pub fn schema_of<T: JsonSchema>() -> Value {
    SchemaGenerator::default()
        .into_root_schema_for::<T>()
        .to_value()
}

/// The schema of an operation's params: as [`schema_of`], and every record
/// in it refuses fields it does not name, as `parse` does.
pub fn params_schema_of<T: JsonSchema>() -> Value {
    SchemaSettings::default()
        .with_transform(RefuseUnknownFields)
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

#[derive(Clone)]
struct RefuseUnknownFields;

impl Transform for RefuseUnknownFields {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(object) = schema.as_object_mut()
            && object.contains_key("properties")
        {
            object
                .entry("additionalProperties")
                .or_insert(Value::Bool(false));
        }
        transform_subschemas(self, schema);
    }
}

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// Every file `plugin/schemas/` should hold, with its content.
fn expected_files() -> Vec<(String, String)> {
    crate::catalog::rendered_schemas()
        .into_iter()
        .flat_map(|op| {
            [
                (format!("{}.parameters.json", op.operation), op.parameters),
                (format!("{}.result.json", op.operation), op.result),
            ]
        })
        .collect()
}

fn checked_in_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| name.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::atom::integration::integration::Guest;
    use crate::catalog::Component;
    use crate::types::ListRepositoriesRequest;

    #[test]
    fn checked_in_schemas_match_the_types() {
        let dir = schemas_dir();
        let expected = expected_files();
        if env::var(REGENERATE).as_deref() == Ok("1") {
            fs::create_dir_all(&dir).unwrap();
            for stale in checked_in_files(&dir) {
                if !expected.iter().any(|(name, _)| *name == stale) {
                    fs::remove_file(dir.join(stale)).unwrap();
                }
            }
            for (name, content) in &expected {
                fs::write(dir.join(name), content).unwrap();
            }
        }
        let mut outdated: Vec<String> = expected
            .iter()
            // Compared as JSON: key order follows serde_json's features,
            // which the workspace's other crates may change.
            .filter(|(name, content)| {
                let parsed = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
                let stored = fs::read_to_string(dir.join(name)).ok();
                stored.as_deref().and_then(parsed).is_none()
                    || stored.as_deref().and_then(parsed) != parsed(content)
            })
            .map(|(name, _)| name.clone())
            .collect();
        outdated.extend(
            checked_in_files(&dir)
                .into_iter()
                .filter(|name| !expected.iter().any(|(known, _)| known == name)),
        );
        assert!(
            outdated.is_empty(),
            "plugin/schemas/ is out of date ({}); regenerate it with \
             `{REGENERATE}=1 cargo test -p atom-bitbucket-plugin checked_in_schemas_match_the_types` \
             and commit the result",
            outdated.join(", ")
        );
    }

    #[test]
    fn every_operation_publishes_schemas_whose_params_refuse_unknown_fields() {
        let operations = Component::operations();
        assert_eq!(operations.len(), crate::catalog::rendered_schemas().len());
        for op in operations {
            let params: Value = serde_json::from_str(&op.parameters_schema).unwrap();
            assert_eq!(params["additionalProperties"], false, "{}", op.name);
            let result: Value = serde_json::from_str(&op.result_schema).unwrap();
            assert!(result.is_object(), "{}", op.name);
        }
    }

    #[test]
    fn params_schemas_refuse_fields_they_do_not_name_at_every_level() {
        let schema = params_schema_of::<ListRepositoriesRequest>();
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["$defs"]["PageRequest"]["additionalProperties"],
            false
        );
        let results = schema_of::<ListRepositoriesRequest>();
        assert!(
            results.get("additionalProperties").is_none(),
            "results stay open"
        );
    }
}
