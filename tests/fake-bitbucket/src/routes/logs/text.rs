//! What the fake's build containers print.

use sha2::{Digest, Sha256};

use crate::clock::stamp;
use crate::world::{Pipeline, StepPhase, StepResult, World};

/// A step's log as Bitbucket's build container writes it: clone, image
/// pull, the script with its output, the outcome. A running step's log
/// stops mid-script.
pub fn log_text(world: &World, run: &Pipeline, index: usize) -> String {
    let step = &run.steps[index];
    let headline = world
        .commit_in(&run.repo, &run.target.commit)
        .and_then(|c| c.message.lines().next())
        .unwrap_or_default()
        .to_owned();
    let branch = run.target.ref_name.as_deref().unwrap_or("HEAD");
    let (started, _) = run.step_times(index);
    let mut lines = vec![
        format!(
            "Runner matching labels: linux.cloud  ({})",
            stamp(started.unwrap_or(run.created_on))
        ),
        "+ umask 000".to_owned(),
        String::new(),
        format!(
            "+ GIT_LFS_SKIP_SMUDGE=1 retry 6 git clone --branch=\"{branch}\" --depth 50 https://x-token-auth:$REPOSITORY_OAUTH_ACCESS_TOKEN@bitbucket.org/$BITBUCKET_REPO_FULL_NAME.git $BUILD_DIR"
        ),
        "Cloning into '/opt/atlassian/pipelines/agent/build'...".to_owned(),
        String::new(),
        format!("+ git reset --hard {}", run.target.commit),
        format!(
            "HEAD is now at {} {headline}",
            &run.target.commit[..run.target.commit.len().min(7)],
        ),
        "+ git config user.name bitbucket-pipelines".to_owned(),
        "+ git config user.email commits-noreply@bitbucket.org".to_owned(),
        "+ git config push.default current".to_owned(),
        "+ git config http.${BITBUCKET_GIT_HTTP_ORIGIN}.proxy http://localhost:29418/".to_owned(),
        "+ git remote set-url origin http://bitbucket.org/$BITBUCKET_REPO_FULL_NAME".to_owned(),
        "+ git reflog expire --expire=all --all".to_owned(),
        "+ echo \".bitbucket/pipelines/generated\" >> .git/info/exclude".to_owned(),
        "+ chmod 777 $BUILD_DIR".to_owned(),
        String::new(),
        format!(
            "Images used:\n    build : docker.io/library/{}@sha256:{}",
            step.image,
            &hex::encode(Sha256::digest(step.image.as_bytes()))[..64]
        ),
        String::new(),
    ];
    for command in &step.script {
        lines.push(format!("+ {command}"));
        let crates = [
            "proc-macro2 v1.0.95",
            "unicode-ident v1.0.18",
            "libc v0.2.174",
            "cfg-if v1.0.1",
            "once_cell v1.21.3",
            "itoa v1.0.15",
            "memchr v2.7.5",
            "serde v1.0.219",
            "bytes v1.10.1",
            "pin-project-lite v0.2.16",
            "quote v1.0.40",
            "syn v2.0.104",
            "serde_derive v1.0.219",
            "tokio-macros v2.5.0",
            "mio v1.0.4",
            "socket2 v0.5.10",
            "tokio v1.46.1",
            "http v1.3.1",
            "httparse v1.10.1",
            "tracing-core v0.1.34",
            "tracing v0.1.41",
            "serde_json v1.0.140",
            "sha2 v0.10.9",
            "hyper v1.6.0",
            "hyper-util v0.1.15",
            "tower v0.5.2",
            "axum-core v0.5.2",
            "axum v0.8.4",
        ];
        if !command.starts_with("cargo") {
            lines.extend(generic_output(command, run.step_phase(index)));
        } else if step.name == "Build" {
            lines.push("    Updating crates.io index".to_owned());
            for (i, name) in crates.iter().enumerate() {
                lines.push(format!("  Downloaded {name}"));
                if i % 4 == 3 {
                    lines.push(format!("   Compiling {name}"));
                }
            }
            for name in crates {
                lines.push(format!("   Compiling {name}"));
            }
            lines.push(format!(
                "   Compiling {} v0.1.0 (/opt/atlassian/pipelines/agent/build)",
                run.repo.rsplit('/').next().unwrap_or("app")
            ));
            lines.push(
                "    Finished `dev` profile [unoptimized + debuginfo] target(s) in 1m 12s"
                    .to_owned(),
            );
        } else {
            lines.push("running 48 tests".to_owned());
            let failing = run.step_phase(index) == StepPhase::Completed(StepResult::Failed);
            for i in 0..48 {
                let module = [
                    "pages",
                    "branches",
                    "pipelines",
                    "webhooks",
                    "search",
                    "auth",
                ][i % 6];
                let verdict = if failing && i == 29 { "FAILED" } else { "ok" };
                lines.push(format!("test {module}::tests::case_{i:02} ... {verdict}"));
            }
            if failing {
                lines.push(String::new());
                lines.push("failures:".to_owned());
                lines.push(String::new());
                lines.push("---- webhooks::tests::case_29 stdout ----".to_owned());
                lines.push(
                    "thread 'webhooks::tests::case_29' panicked at src/webhooks.rs:212:9:"
                        .to_owned(),
                );
                lines.push("assertion `left == right` failed: signature mismatch".to_owned());
                lines.push("  left: \"sha256=5bdcc146bf60754e\"".to_owned());
                lines.push(" right: \"sha256=773ea91e36800e46\"".to_owned());
                lines.push(String::new());
                lines.push("test result: FAILED. 47 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.31s".to_owned());
            } else {
                lines.push(String::new());
                lines.push("test result: ok. 48 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.07s".to_owned());
            }
        }
    }
    let ending = match run.step_phase(index) {
        StepPhase::Running => {
            // Still being written: cut mid-way.
            let keep = lines.len() * 2 / 3;
            lines.truncate(keep);
            None
        }
        StepPhase::Completed(StepResult::Successful) => Some(
            "Build teardown\nSearching for test report files in directories named [test-results, failsafe-reports, test-reports, TestResults, surefire-reports] down to a depth of 4\nFinished scanning for test reports. Found 0 test report files.\nMerged test suites, total number tests is 0, with 0 failures and 0 errors.\n\nUploading cache \"cargo\": 214.6 MiB\nCache \"cargo\": Uploaded",
        ),
        StepPhase::Completed(StepResult::Failed) => Some(
            "Build teardown\nSkipping cache upload for failed step\nSkipping artifact upload\nThe step failed: script exited with code 101",
        ),
        StepPhase::Completed(StepResult::Stopped) => {
            Some("Build teardown\nThe step was stopped by a user.")
        }
        StepPhase::Completed(StepResult::Error) => {
            Some("Container 'Build' exceeded memory limit.\nBuild teardown")
        }
        _ => None,
    };
    let mut text = lines.join("\n");
    text.push('\n');
    if let Some(ending) = ending {
        text.push('\n');
        text.push_str(ending);
        text.push('\n');
    }
    text
}

/// What a non-Rust step prints: dependency resolution, then the work.
fn generic_output(command: &str, phase: StepPhase) -> Vec<String> {
    let mut lines: Vec<String> = [
        "requests",
        "urllib3",
        "certifi",
        "idna",
        "charset-normalizer",
        "pydantic",
        "typing-extensions",
        "fastapi",
        "starlette",
        "anyio",
        "sniffio",
        "uvicorn",
        "h11",
        "click",
        "pytest",
        "pluggy",
        "iniconfig",
        "packaging",
    ]
    .iter()
    .enumerate()
    .map(|(i, name)| {
        format!(
            "  fetched {name} ({}.{}.{}) in {} ms",
            1 + i % 3,
            i * 7 % 20,
            i % 5,
            40 + i * 13 % 90
        )
    })
    .collect();
    lines.push(format!("  {command}: step output follows"));
    for i in 0..30 {
        lines.push(format!(
            "  [{:>3}%] processing unit {i:02} of 30",
            (i + 1) * 100 / 30
        ));
    }
    lines.push(match phase {
        StepPhase::Completed(StepResult::Failed) => "1 failed, 29 passed in 3.41s".to_owned(),
        _ => "30 passed in 3.02s".to_owned(),
    });
    lines
}
