//! The JSON wire format, in one place: how every result is written, how
//! params are read, and the schemas that describe both.
//!
//! - Field names are the WIT names in snake_case (`repo_slug`), from the
//!   generated records' serde derives.
//! - Enum values are the WIT case names in snake_case (`merge_commit`), from
//!   the table in `enums`; nothing else is accepted.
//! - Absent options are `null` in results and may be left out in params.
//! - Schemas are generated from the same types, so they describe exactly
//!   what is emitted and accepted. They are rendered natively, by a test,
//!   into `schemas/`, which the component embeds packed (`packed_schemas`).

mod enums;
#[cfg(test)]
mod operations_index;
mod packed_schemas;
mod params;
#[cfg(test)]
mod schemas;

use serde::Serialize;

use crate::error::Error;

pub use packed_schemas::Schemas;
pub use params::{NoParams, parse};
#[cfg(test)]
pub use schemas::{RenderedSchemas, params_schema_of, schema_of};

/// A result as `execute` answers it.
pub fn to_json<T: Serialize>(result: &T) -> Result<String, Error> {
    serde_json::to_string(result)
        .map_err(|e| Error::internal(format!("could not encode the result: {e}")))
}
