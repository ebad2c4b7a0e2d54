//! The operations' schemas as `build.rs` packed them: one DEFLATE blob,
//! unpacked only when `operations()` runs, which a host asks once per
//! component. Packed they are 20 KB of the component instead of 240 KB.

use std::sync::OnceLock;

/// Each schema's name (`list_repositories.parameters`) and where it starts
/// and ends in the unpacked text, sorted by name.
const INDEX: &[(&str, usize, usize)] = include!(concat!(env!("OUT_DIR"), "/schema_index.rs"));

static PACKED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/schemas.deflate"));

/// Every schema's text, unpacked.
pub struct Schemas {
    text: String,
}

impl Schemas {
    /// The schemas, unpacked at the first call: a host that keeps an
    /// instance and asks again pays for the copies only, as it did when the
    /// text was the component's data.
    pub fn unpacked() -> &'static Schemas {
        static UNPACKED: OnceLock<Schemas> = OnceLock::new();
        UNPACKED.get_or_init(Schemas::unpack)
    }

    fn unpack() -> Self {
        // `build.rs` unpacked this very blob before embedding it: no input
        // reaches here, so an empty text would only mean a broken build,
        // which the schema tests catch.
        let bytes = miniz_oxide::inflate::decompress_to_vec(PACKED).unwrap_or_default();
        Self {
            text: String::from_utf8(bytes).unwrap_or_default(),
        }
    }

    /// The schema named `name` (`list_repositories.result`), or "" if
    /// there is none.
    pub fn get(&self, name: &str) -> &str {
        INDEX
            .binary_search_by(|(indexed, _, _)| indexed.cmp(&name))
            .ok()
            .and_then(|found| {
                let (_, start, end) = INDEX[found];
                self.text.get(start..end)
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_unpacks_to_its_checked_in_file() {
        let schemas = Schemas::unpacked();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            let file = std::fs::read_to_string(&path).unwrap();
            assert_eq!(schemas.get(stem), file, "{name}");
            seen += 1;
        }
        assert_eq!(seen, INDEX.len());
        assert_eq!(schemas.get("no_such_operation.result"), "");
    }
}
