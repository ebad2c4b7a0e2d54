//! Builds the spinner component for wasm32-wasip2 with the workspace's lock
//! file, in its own directory under the shared target dir (a nested cargo
//! must wait neither on the outer build's lock nor on the Bitbucket
//! component's nested build), and tells `lib.rs` where the `.wasm` landed.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "component";

fn main() {
    let artifact_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let tests_dir = artifact_dir
        .parent()
        .expect("tests/spinner-artifact lives in tests/")
        .to_path_buf();
    let workspace = tests_dir
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf();
    let spinner_dir = tests_dir.join("spinner");
    for input in [spinner_dir.join("src"), spinner_dir.join("Cargo.toml")] {
        println!("cargo::rerun-if-changed={}", input.display());
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
        .join("spinner-build");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--locked",
            "--package",
            "atom-spinner",
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
        .expect("running cargo for the spinner");
    if !status.success() {
        panic!(
            "building the spinner failed; is the target installed? `rustup target add {TARGET}`"
        );
    }
    let wasm = target_dir
        .join(TARGET)
        .join(PROFILE)
        .join("atom_spinner.wasm");
    assert!(
        wasm.exists(),
        "cargo reported success but {} is missing",
        wasm.display()
    );
    println!("cargo::rustc-env=ATOM_SPINNER_COMPONENT={}", wasm.display());
}
