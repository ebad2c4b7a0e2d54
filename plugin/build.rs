//! Packs `schemas/` into one raw-DEFLATE blob and an index of where each
//! schema starts and ends in the unpacked text. The schemas are 240 KB of
//! JSON that repeats itself (the same records in many operations); packed
//! they are a twelfth of that, and only `operations()` ever reads them.

use std::path::{Path, PathBuf};
use std::{env, fs};

/// miniz_oxide's best compression.
const LEVEL: u8 = 10;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let schemas = manifest.join("schemas");
    println!("cargo::rerun-if-changed={}", schemas.display());

    let mut files: Vec<(String, PathBuf)> = fs::read_dir(&schemas)
        .unwrap_or_else(|e| panic!("reading {}: {e}", schemas.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| (schema_name(&path), path))
        .collect();
    // Sorted by name, so the guest finds a schema by binary search.
    files.sort();

    let mut text = String::new();
    let mut index = String::from("&[\n");
    for (name, file) in &files {
        let start = text.len();
        text.push_str(&fs::read_to_string(file).expect("a schema is UTF-8 text"));
        index.push_str(&format!("    ({name:?}, {start}, {}),\n", text.len()));
    }
    index.push(']');

    let packed = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), LEVEL);
    // What the guest unpacks is checked here, where a failure stops the build.
    let unpacked = miniz_oxide::inflate::decompress_to_vec(&packed).expect("the blob unpacks");
    assert_eq!(unpacked, text.as_bytes(), "the blob unpacks to the schemas");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    fs::write(out.join("schemas.deflate"), packed).expect("writing the packed schemas");
    fs::write(out.join("schema_index.rs"), index).expect("writing the schema index");
}

/// `list_repositories.parameters.json` → `list_repositories.parameters`.
fn schema_name(file: &Path) -> String {
    file.file_stem()
        .and_then(|stem| stem.to_str())
        .expect("a schema's name is UTF-8")
        .to_owned()
}
