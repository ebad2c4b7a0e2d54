//! Issues on the trackers of atom-labs/bitbucket-plugin (8) and
//! acme/api-service-00 (4).

use crate::clock::{HOUR, SEED_NOW};
use crate::world::{Issue, IssueChange, World};

/// (title, kind, priority, state, reporter, assignee, content).
type Seed = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    char,
    Option<char>,
    &'static str,
);

const PLUGIN: [Seed; 8] = [
    (
        "Pipelines list misses the next page",
        "bug",
        "major",
        "resolved",
        'g',
        Some('g'),
        "Listing pipelines stops after the first page: the answer has no `next` (BCLOUD-20639).",
    ),
    (
        "Support workspace webhooks",
        "enhancement",
        "minor",
        "new",
        'a',
        None,
        "Repository hooks work; workspace hooks should too.",
    ),
    (
        "Step log download ignores the Range header",
        "bug",
        "critical",
        "open",
        'g',
        Some('a'),
        "Asking for `bytes=0-1023` returns the whole log.",
    ),
    (
        "Document API token setup",
        "task",
        "trivial",
        "new",
        'a',
        Some('a'),
        "Explain e-mail + API token (Basic) now that app passwords are gone.",
    ),
    (
        "Merge fails with 555 on large pull requests",
        "bug",
        "major",
        "new",
        'g',
        None,
        "Merging a PR with ~2k files answers 555 Timed out. Retry with async=true?",
    ),
    (
        "Add a lang: modifier to code search",
        "proposal",
        "minor",
        "on hold",
        'a',
        None,
        "Bitbucket's UI accepts `lang:`; the API might too.",
    ),
    (
        "Crash when a branch name contains a slash",
        "bug",
        "blocker",
        "closed",
        'g',
        Some('g'),
        "`feature/login` was sent unencoded and hit the wrong endpoint.",
    ),
    (
        "Remove issue tracker support after the sunset",
        "task",
        "major",
        "new",
        'a',
        Some('a'),
        "Bitbucket Issues are sunset on 2026-08-20; keep the code behind a flag until then.",
    ),
];

const SERVICE: [Seed; 4] = [
    (
        "Health check returns 500 when the database is down",
        "bug",
        "critical",
        "new",
        'g',
        Some('a'),
        "Should answer 503 with a JSON body instead.",
    ),
    (
        "Add request tracing",
        "enhancement",
        "minor",
        "open",
        'a',
        None,
        "Propagate `traceparent` through the gateway.",
    ),
    (
        "Rate limit per API token",
        "proposal",
        "major",
        "new",
        'g',
        None,
        "Count requests per token, not per IP.",
    ),
    (
        "Update the README for the 2026.11 release",
        "task",
        "trivial",
        "resolved",
        'a',
        Some('g'),
        "New environment variables and the migration notes.",
    ),
];

pub fn seed(world: &mut World) {
    issues(world, "atom-labs/bitbucket-plugin", &PLUGIN);
    issues(world, "acme/api-service-00", &SERVICE);
}

fn issues(world: &mut World, repo: &str, seeds: &[Seed]) {
    let person = |c: char| crate::world::uuid(if c == 'a' { 1 } else { 2 });
    for (i, (title, kind, priority, state, reporter, assignee, content)) in seeds.iter().enumerate()
    {
        let id = i as u64 + 1;
        let created_on = SEED_NOW - (40 - id * 4) * 24 * HOUR + id * 3_331;
        let mut issue = Issue {
            repo: repo.to_owned(),
            id,
            title: (*title).to_owned(),
            content: (*content).to_owned(),
            reporter: person(*reporter),
            assignee: assignee.map(person),
            state: (*state).to_owned(),
            kind: (*kind).to_owned(),
            priority: (*priority).to_owned(),
            component: None,
            milestone: id.is_multiple_of(3).then(|| "2026.11".to_owned()),
            version: None,
            votes: (id * 3 % 5) as u32,
            watches: 1 + (id % 3) as u32,
            created_on,
            updated_on: created_on + 26 * HOUR,
            edited_on: None,
            changes: Vec::new(),
        };
        // Issues no longer new got there through a recorded change.
        if *state != "new" {
            issue.changes.push(IssueChange {
                id: 1,
                user: issue.assignee.clone().unwrap_or_else(|| person(*reporter)),
                created_on: issue.updated_on,
                changes: vec![("state".into(), "new".into(), (*state).to_owned())],
                message: format!("Marked as {state}."),
            });
        }
        world.issues.push(issue);
    }
}
