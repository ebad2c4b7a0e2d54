//! Builds the Bitbucket component for wasm32-wasip2 with the workspace's
//! lock file, in its own directory under the shared target dir (a nested
//! cargo must not wait on the outer build's lock), and tells `lib.rs` where
//! the `.wasm` landed.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "component";

fn main() {
    let artifact_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let plugin_dir = artifact_dir
        .parent()
        .expect("plugin/artifact lives in plugin/")
        .to_path_buf();
    let workspace = plugin_dir
        .parent()
        .expect("plugin/ lives in the workspace")
        .to_path_buf();
    for input in ["src", "Cargo.toml"] {
        println!(
            "cargo::rerun-if-changed={}",
            plugin_dir.join(input).display()
        );
    }
    println!(
        "cargo::rerun-if-changed={}",
        workspace.join("wit").display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    // The `component` profile lives in the workspace's manifest.
    println!(
        "cargo::rerun-if-changed={}",
        workspace.join("Cargo.toml").display()
    );
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("component-build");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--locked",
            "--package",
            "atom-bitbucket-plugin",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags are for the host, not for wasm.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("running cargo for the component");
    if !status.success() {
        panic!(
            "building the component failed; is the target installed? `rustup target add {TARGET}`"
        );
    }
    let wasm = target_dir
        .join(TARGET)
        .join(PROFILE)
        .join("atom_bitbucket_plugin.wasm");
    assert!(
        wasm.exists(),
        "cargo reported success but {} is missing",
        wasm.display()
    );
    println!(
        "cargo::rustc-env=ATOM_BITBUCKET_COMPONENT={}",
        wasm.display()
    );
}
