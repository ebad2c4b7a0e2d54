//! The JSON wire format, in one place: how every result is written, how
//! params are read, and the schemas that describe both.
//!
//! - Field names are the WIT names in snake_case (`repo_slug`), from the
//!   generated records' serde derives.
//! - Enum values are the WIT case names in snake_case (`merge_commit`), from
//!   the table in `enums`; nothing else is accepted.
//! - Absent options are `null` in results and may be left out in params.
//! - Schemas are generated from the same types, so they describe exactly
//!   what is emitted and accepted.

mod enums;
mod params;

use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

pub use params::{NoParams, parse};

pub fn schema_of<T: JsonSchema>() -> Value {
    SchemaGenerator::default()
        .into_root_schema_for::<T>()
        .to_value()
}

/// The schema of an operation's params: as [`schema_of`], and every record
/// in it refuses fields it does not name, as [`parse`] does.
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

/// A result as `execute` answers it.
pub fn to_json<T: Serialize>(result: &T) -> Result<String, Error> {
    serde_json::to_string(result)
        .map_err(|e| Error::internal(format!("could not encode the result: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ListRepositoriesRequest;

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
