//! Builds components for the artifact crates' build scripts.
//!
//! Each artifact crate builds its components with the workspace's lock file,
//! in its own directory under the shared target dir (a nested cargo must wait
//! neither on the outer build's lock nor on another artifact's nested build),
//! and passes each `.wasm`'s path to its `lib.rs` in an environment variable.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// The size-tuned profile in the workspace manifest.
const PROFILE: &str = "component";

/// One component an artifact crate builds.
pub struct Component<'a> {
    /// The crate's package name, e.g. `atom-bitbucket-plugin`.
    pub package: &'a str,
    /// Its directory, relative to the workspace root.
    pub dir: &'a str,
    /// The variable `lib.rs` reads the `.wasm` path from with `env!`.
    pub env_var: &'a str,
}

/// Builds `components` in one nested cargo under `target/<build_dir>` and
/// tells cargo when to build them again.
pub fn build(build_dir: &str, components: &[Component]) {
    let workspace = workspace_root();
    let mut watched: Vec<PathBuf> = vec![
        workspace.join("wit"),
        workspace.join("Cargo.lock"),
        // The `component` profile lives in the workspace's manifest.
        workspace.join("Cargo.toml"),
    ];
    for component in components {
        let dir = workspace.join(component.dir);
        watched.push(dir.join("src"));
        watched.push(dir.join("Cargo.toml"));
        // A component's own build script and the data it packs (the
        // plugin's `schemas/`) change the `.wasm` as much as its code does.
        for extra in ["build.rs", "schemas"] {
            let path = dir.join(extra);
            if path.exists() {
                watched.push(path);
            }
        }
    }
    for path in &watched {
        println!("cargo::rerun-if-changed={}", path.display());
    }
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_DIR");

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join(build_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--locked",
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
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    for component in components {
        command.args(["--package", component.package]);
    }
    let status = command.status().expect("running cargo for the components");
    if !status.success() {
        panic!(
            "building the components failed; is the target installed? `rustup target add {TARGET}`"
        );
    }
    for component in components {
        let wasm = target_dir
            .join(TARGET)
            .join(PROFILE)
            .join(format!("{}.wasm", component.package.replace('-', "_")));
        assert!(wasm.exists(), "cargo built no {}", wasm.display());
        println!("cargo::rustc-env={}={}", component.env_var, wasm.display());
    }
}

/// The workspace root: the nearest ancestor of the artifact crate with a
/// `Cargo.lock`.
fn workspace_root() -> PathBuf {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").exists())
        .map(Path::to_path_buf)
        .expect("the artifact crate lives in the workspace")
}
