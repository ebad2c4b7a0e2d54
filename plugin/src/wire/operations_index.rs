//! Renders `docs/operations.md` from the catalogue, natively: the docs list
//! exactly the operations, parameters and complexities the component
//! publishes. The test below fails when the checked-in file has drifted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use serde_json::Value;

use crate::catalog::{operation_interfaces, operation_list};
use crate::types::{Complexity, Operation};

/// Set to `1` to rewrite `docs/operations.md` from the catalogue.
const REGENERATE: &str = "ATOM_REGENERATE_DOCS";

fn index_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md")
}

fn complexity(operation: &Operation) -> &'static str {
    match operation.complexity {
        Complexity::Read => "read",
        Complexity::Analyze => "analyze",
        Complexity::Execute => "execute",
        Complexity::Critical => "critical",
    }
}

/// `name` for a required parameter, `name?` for an optional one.
fn parameters(operation: &Operation) -> String {
    let schema: Value = serde_json::from_str(&operation.parameters_schema).expect("valid JSON");
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return "—".to_owned();
    };
    let mut names: Vec<String> = properties
        .keys()
        .map(|name| {
            if required.contains(&name.as_str()) {
                format!("`{name}`")
            } else {
                format!("`{name}?`")
            }
        })
        .collect();
    // Required first, each group in schema order.
    names.sort_by_key(|name| name.ends_with("?`"));
    if names.is_empty() {
        "—".to_owned()
    } else {
        names.join(", ")
    }
}

fn wit_interface(interface: &str) -> String {
    // The component's version is its WIT packages' version.
    let version = env!("CARGO_PKG_VERSION");
    if interface == "integration" {
        format!("atom:integration/integration@{version}")
    } else {
        format!("atom:bitbucket/{interface}@{version}")
    }
}

fn render() -> String {
    let operations = operation_list();
    let interfaces = operation_interfaces();
    let mut out = String::from(
        "# Operations\n\n\
         Generated from the component's catalogue (`plugin/src/catalog.rs`) by\n\
         `ATOM_REGENERATE_DOCS=1 cargo test -p atom-bitbucket-plugin operations_index`;\n\
         a test fails when this file and the catalogue disagree. Every operation\n\
         runs through `execute(name, params)` and, with the same params as a typed\n\
         record, through the typed function of its WIT interface. `name?` marks an\n\
         optional parameter; the full JSON Schemas come from `operations()`.\n\n\
         Complexity: `read` reads, `analyze` aggregates many reads, `execute`\n\
         changes upstream state, `critical` is hard to undo.\n\n\
         Facts (`operations()` has them too): *read-only* changes nothing on\n\
         Bitbucket; *destructive* discards what the same API cannot give back\n\
         (deletes, decline, merge, stop, replacing the stored credential);\n\
         *idempotent* means a second identical call leaves Bitbucket as the\n\
         first did (never a create, a trigger, a comment or a task). *Scopes*\n\
         are Bitbucket's classic OAuth 2.0 scopes the call needs; `health`\n\
         reports which operations a credential's scopes cover.\n",
    );
    let mut current = "";
    for (operation, (interface, name)) in operations.iter().zip(&interfaces) {
        assert_eq!(&operation.name, name, "catalogue order");
        if *interface != current {
            current = interface;
            let _ = write!(
                out,
                "\n## {interface}\n\n`{}`\n\n\
                 | operation | title | complexity | read-only | destructive | idempotent | scopes | parameters | what it does |\n\
                 |---|---|---|---|---|---|---|---|---|\n",
                wit_interface(interface)
            );
        }
        let yes = |fact: bool| if fact { "yes" } else { "no" };
        let scopes = if operation.facts.scopes.is_empty() {
            "—".to_owned()
        } else {
            operation
                .facts
                .scopes
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |",
            operation.name,
            operation.title,
            complexity(operation),
            yes(operation.facts.read_only),
            yes(operation.facts.destructive),
            yes(operation.facts.idempotent),
            scopes,
            parameters(operation),
            operation.description.replace('|', "\\|")
        );
    }
    out
}

#[test]
fn operations_index_matches_the_catalogue() {
    let rendered = render();
    let path = index_path();
    if env::var(REGENERATE).as_deref() == Ok("1") {
        fs::write(&path, &rendered).expect("writing docs/operations.md");
    }
    let checked_in = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == rendered,
        "docs/operations.md differs from the catalogue; regenerate it with \
         `{REGENERATE}=1 cargo test -p atom-bitbucket-plugin operations_index`"
    );
}

/// One version names the component, its WIT packages and the Python
/// adapter: a bump of one without the others fails here.
#[test]
fn the_component_the_wit_packages_and_the_adapter_share_one_version() {
    let version = env!("CARGO_PKG_VERSION");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for package in ["integration", "bitbucket"] {
        let dir = root.join(format!("wit/{package}@{version}"));
        assert!(dir.is_dir(), "{} is missing", dir.display());
        for entry in fs::read_dir(&dir).expect("a WIT folder") {
            let text = fs::read_to_string(entry.expect("an entry").path()).expect("WIT text");
            assert!(
                text.starts_with(&format!("package atom:{package}@{version};")),
                "every file of {} names version {version}",
                dir.display()
            );
        }
    }
    let pyproject =
        fs::read_to_string(root.join("clients/python/pyproject.toml")).expect("pyproject");
    assert!(
        pyproject.contains(&format!("\nversion = \"{version}\"\n")),
        "clients/python/pyproject.toml says version {version}"
    );
}
