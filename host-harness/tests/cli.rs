//! The binary a newcomer runs first: `atom-harness demo` and `operations`.

use std::process::Command;

fn harness() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atom-harness"));
    command
        .env_remove("BITBUCKET_ACCESS_TOKEN")
        .env_remove("BITBUCKET_API_TOKEN")
        .env_remove("BITBUCKET_EMAIL")
        .env_remove("ATOM_COMPONENT");
    command
}

#[test]
fn the_demo_lists_every_acme_repository_across_pages() {
    let output = harness().arg("demo").output().expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("263 distinct repositories in 3 pages"),
        "{stdout}"
    );
    assert!(stdout.contains("connected as Ada Lovelace"), "{stdout}");
    assert!(stdout.contains("error: not-found"), "{stdout}");
}

#[test]
fn operations_are_listed_and_failed_calls_say_why() {
    let output = harness()
        .arg("operations")
        .output()
        .expect("operations runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        stdout.lines().any(|l| l.starts_with("list-repositories")),
        "{stdout}"
    );

    // No credential in the environment: refused before anything leaves the machine.
    let output = harness()
        .args(["call", "list-repositories", "workspace=acme"])
        .output()
        .expect("call runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: auth-invalid"), "{stderr}");

    let output = harness()
        .args(["call", "list-repositories", "page.size=5"])
        .env("BITBUCKET_ACCESS_TOKEN", "not-used")
        .output()
        .expect("call runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: validation") && stderr.contains("workspace"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-used"), "the token is never printed");
}
