//! Histories and branches. The two rich repositories
//! (atom-labs/bitbucket-plugin and acme/api-service-00) share one story:
//! ~40 commits on main with two merged pull requests, develop, two feature
//! branches and a release branch, three open pull requests and a declined
//! one. Every other repository has a main branch with one commit.

use crate::clock::{HOUR, SEED_NOW};
use crate::world::{Branch, Commit, World, commit_hash};

/// The repositories with the full story.
pub const RICH: [&str; 2] = ["atom-labs/bitbucket-plugin", "acme/api-service-00"];

/// Main's history: (message, author, paths). `None` marks the merge commits
/// of pull requests #1 (at 20) and #2 (at 31).
const MAIN: [Option<(&str, char, &[&str])>; 40] = [
    Some(("Initial commit", 'a', &["README.md", ".gitignore"])),
    Some((
        "Add Cargo workspace and CI skeleton",
        'a',
        &["Cargo.toml", "bitbucket-pipelines.yml"],
    )),
    Some((
        "Add HTTP transport with retry and backoff",
        'g',
        &["src/transport.rs", "Cargo.toml"],
    )),
    Some((
        "Add workspace listing via /user/workspaces",
        'a',
        &["src/workspaces.rs", "src/lib.rs"],
    )),
    Some(("Handle 429 without Retry-After", 'g', &["src/transport.rs"])),
    Some((
        "Add repository listing with BBQL filters",
        'a',
        &["src/repositories.rs", "src/lib.rs"],
    )),
    Some((
        "Document authentication options in README",
        'a',
        &["README.md"],
    )),
    Some((
        "Add pagination helper following next links",
        'g',
        &["src/page.rs"],
    )),
    Some((
        "Add branch listing and lookup",
        'a',
        &["src/branches.rs", "src/lib.rs"],
    )),
    Some((
        "Percent-encode branch names with slashes",
        'g',
        &["src/path.rs", "src/branches.rs"],
    )),
    Some((
        "Add commit listing with include/exclude",
        'a',
        &["src/commits.rs"],
    )),
    Some((
        "Fix clippy warnings",
        'g',
        &["src/page.rs", "src/transport.rs"],
    )),
    Some((
        "Add pull request listing",
        'a',
        &["src/pullrequests.rs", "src/lib.rs"],
    )),
    Some(("Add pull request creation", 'a', &["src/pullrequests.rs"])),
    Some((
        "Add approve and request-changes",
        'g',
        &["src/pullrequests.rs"],
    )),
    Some((
        "Add e2e tests against the fake",
        'a',
        &["tests/e2e.rs", "Cargo.toml"],
    )),
    Some((
        "Handle 555 timeouts on merge and decline",
        'g',
        &["src/pullrequests.rs", "src/error.rs"],
    )),
    Some((
        "Add async merge with task-status polling",
        'a',
        &["src/pullrequests.rs"],
    )),
    Some((
        "Add pipelines listing",
        'g',
        &["src/pipelines.rs", "src/lib.rs"],
    )),
    Some((
        "Add pipeline trigger with custom selectors",
        'a',
        &["src/pipelines.rs"],
    )),
    None,
    Some((
        "Add step logs with Range support",
        'a',
        &["src/pipelines.rs"],
    )),
    Some(("Add stopPipeline", 'g', &["src/pipelines.rs"])),
    Some((
        "Add issue tracker behind a feature flag",
        'a',
        &["src/issues.rs", "src/lib.rs"],
    )),
    Some(("Update CHANGELOG", 'a', &["CHANGELOG.md"])),
    Some(("Add code search", 'g', &["src/search.rs", "src/lib.rs"])),
    Some((
        "Work around duplicate code search results across pages",
        'g',
        &["src/search.rs", "src/page.rs"],
    )),
    Some(("Add webhook CRUD", 'a', &["src/webhooks.rs", "src/lib.rs"])),
    Some((
        "Verify X-Hub-Signature on deliveries",
        'a',
        &["src/webhooks.rs"],
    )),
    Some(("Refuse internal webhook URLs", 'g', &["src/webhooks.rs"])),
    Some((
        "Add tracing spans around requests",
        'a',
        &["src/transport.rs"],
    )),
    None,
    Some((
        "Reject app passwords after the 2026 removal",
        'g',
        &["src/auth.rs", "README.md"],
    )),
    Some((
        "Rotate OAuth refresh tokens atomically",
        'a',
        &["src/auth.rs"],
    )),
    Some(("Add request-changes removal", 'g', &["src/pullrequests.rs"])),
    Some(("Improve error messages for 404s", 'a', &["src/error.rs"])),
    Some((
        "Add merge strategy validation",
        'g',
        &["src/pullrequests.rs"],
    )),
    Some((
        "Bump version to 0.9.0",
        'a',
        &["Cargo.toml", "CHANGELOG.md"],
    )),
    Some(("Cache workspace lookups", 'g', &["src/workspaces.rs"])),
    Some((
        "Fix flaky webhook delivery test",
        'a',
        &["tests/e2e.rs", "src/webhooks.rs"],
    )),
];

/// Side commits: (message, author, paths, hours before SEED_NOW).
type Side = (&'static str, char, &'static [&'static str], u64);

const PAGINATION_FIX: [Side; 2] = [
    (
        "Keep paging when next is missing (BCLOUD-20639)",
        'g',
        &["src/page.rs"],
        0,
    ),
    (
        "Add regression test for missing next",
        'g',
        &["tests/e2e.rs"],
        0,
    ),
];
const BUMP_DEPS: [Side; 1] = [(
    "Bump axum to 0.8 and tokio to 1.48",
    'a',
    &["Cargo.toml", "Cargo.lock"],
    0,
)];
const GRAPHQL: [Side; 2] = [
    ("Sketch a GraphQL gateway", 'g', &["src/graphql.rs"], 0),
    (
        "Add schema for repositories",
        'g',
        &["src/graphql/schema.graphql"],
        0,
    ),
];
const DEVELOP: [Side; 3] = [
    (
        "Add draft pull request support",
        'a',
        &["src/pullrequests.rs"],
        201,
    ),
    ("Add workspace webhooks", 'g', &["src/webhooks.rs"], 196),
    (
        "Expose pipeline step durations",
        'a',
        &["src/pipelines.rs"],
        190,
    ),
];
const LOGIN: [Side; 4] = [
    (
        "Add OAuth 2.0 authorization code flow",
        'a',
        &["src/auth/oauth.rs", "src/auth.rs"],
        150,
    ),
    (
        "Store refresh tokens in the host keyring",
        'a',
        &["src/auth/oauth.rs"],
        120,
    ),
    ("Add login command to the CLI", 'a', &["src/cli.rs"], 60),
    (
        "Handle consent denial",
        'a',
        &["src/auth/oauth.rs", "tests/e2e.rs"],
        30,
    ),
];
const SEARCH_V2: [Side; 3] = [
    (
        "Search v2: parse repo:, ext: and path: modifiers",
        'g',
        &["src/search.rs"],
        130,
    ),
    (
        "Search v2: highlight matches in path and content",
        'g',
        &["src/search.rs"],
        90,
    ),
    (
        "Search v2: de-duplicate results across pages",
        'g',
        &["src/search.rs", "src/page.rs"],
        40,
    ),
];
const RELEASE: [Side; 2] = [
    ("Bump version to 2026.11.0", 'a', &["Cargo.toml"], 20),
    ("Update CHANGELOG for 2026.11", 'a', &["CHANGELOG.md"], 18),
];

const MAIN_STRATEGIES: [&str; 3] = ["merge_commit", "squash", "fast_forward"];

/// When main's commit `i` was made.
pub(super) fn main_date(i: usize) -> u64 {
    SEED_NOW - (42 - i as u64) * 34 * HOUR + (i as u64 * 1_777) % 5_000
}

struct History<'w> {
    world: &'w mut World,
    repo: String,
    n: u64,
    ada: String,
    grace: String,
}

impl History<'_> {
    fn commit(
        &mut self,
        message: &str,
        author: char,
        paths: &[&str],
        date: u64,
        parents: Vec<String>,
    ) -> String {
        self.n += 1;
        let (uuid, raw) = match author {
            'a' => (self.ada.clone(), "Ada Lovelace <ada@example.com>"),
            _ => (self.grace.clone(), "Grace Hopper <grace@example.com>"),
        };
        let hash = commit_hash(&self.repo, self.n, message);
        self.world.commits.push(Commit {
            repo: self.repo.clone(),
            hash: hash.clone(),
            message: message.to_owned(),
            author: Some(uuid),
            author_raw: raw.to_owned(),
            date,
            parents,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        });
        hash
    }

    /// Commits `sides` one after the other on top of `parent`; `start` dates
    /// those whose own date is 0, an hour apart.
    fn line(&mut self, parent: &str, sides: &[Side], start: u64) -> Vec<String> {
        let mut hashes: Vec<String> = Vec::new();
        for (i, (message, author, paths, hours_ago)) in sides.iter().enumerate() {
            let date = if *hours_ago == 0 {
                start + i as u64 * HOUR
            } else {
                SEED_NOW - hours_ago * HOUR
            };
            let parent = hashes.last().cloned().unwrap_or_else(|| parent.to_owned());
            hashes.push(self.commit(message, *author, paths, date, vec![parent]));
        }
        hashes
    }

    fn branch(&mut self, name: &str, target: &str, strategies: &[&str], default: &str) {
        self.world.branches.push(Branch {
            repo: self.repo.clone(),
            name: name.to_owned(),
            target: target.to_owned(),
            merge_strategies: strategies.iter().map(|s| (*s).to_owned()).collect(),
            default_merge_strategy: default.to_owned(),
        });
    }
}

/// Answers the rich repositories' stories, for the pull requests to point into.
pub fn seed(world: &mut World) -> Vec<(&'static str, Story)> {
    let ada = crate::world::uuid(1);
    let grace = crate::world::uuid(2);
    let plain: Vec<(String, u64)> = world
        .repositories
        .iter()
        .enumerate()
        .filter(|(_, r)| !RICH.contains(&r.full_name().as_str()))
        .map(|(i, r)| (r.full_name(), i as u64))
        .collect();
    for (repo, i) in plain {
        let mut history = History {
            world: &mut *world,
            repo,
            n: 0,
            ada: ada.clone(),
            grace: grace.clone(),
        };
        let date = SEED_NOW - 300 * 24 * HOUR + i * 4_001;
        let head = history.commit(
            "Initial commit",
            if i % 2 == 0 { 'g' } else { 'a' },
            &["README.md"],
            date,
            Vec::new(),
        );
        history.branch("main", &head, &MAIN_STRATEGIES, "merge_commit");
    }
    RICH.into_iter()
        .map(|repo| (repo, rich(world, repo, &ada, &grace)))
        .collect()
}

fn rich(world: &mut World, repo: &str, ada: &str, grace: &str) -> Story {
    let mut h = History {
        world,
        repo: repo.to_owned(),
        n: 0,
        ada: ada.to_owned(),
        grace: grace.to_owned(),
    };
    let mut main: Vec<String> = Vec::new();
    let mut pagination = Vec::new();
    let mut bump = Vec::new();
    for (i, entry) in MAIN.iter().enumerate() {
        let parent: Vec<String> = main.last().cloned().into_iter().collect();
        let hash = match entry {
            Some((message, author, paths)) => {
                h.commit(message, *author, paths, main_date(i), parent)
            }
            None if i == 20 => {
                pagination = h.line(&main[17], &PAGINATION_FIX, main_date(17) + 2 * HOUR);
                let side = pagination.last().cloned().expect("two commits");
                h.commit(
                    "Merged in bugfix/pagination-cursor (pull request #1)\n\nFix pagination cursor when next is missing\n\nApproved-by: Ada Lovelace",
                    'g',
                    &["src/page.rs", "tests/e2e.rs"],
                    main_date(i),
                    vec![main[19].clone(), side],
                )
            }
            None => {
                bump = h.line(&main[29], &BUMP_DEPS, main_date(29) + 3 * HOUR);
                h.commit(
                    "Merged in chore/bump-deps (pull request #2)\n\nBump axum to 0.8 and tokio to 1.48\n\nApproved-by: Grace Hopper",
                    'a',
                    &["Cargo.toml", "Cargo.lock"],
                    main_date(i),
                    vec![main[30].clone(), bump[0].clone()],
                )
            }
        };
        main.push(hash);
    }
    let graphql = h.line(&main[25], &GRAPHQL, main_date(25) + 4 * HOUR);
    let develop = h.line(&main[36], &DEVELOP, 0);
    let login = h.line(&develop[1], &LOGIN, 0);
    let search = h.line(&main[38], &SEARCH_V2, 0);
    let release = h.line(&main[39], &RELEASE, 0);

    h.branch("main", &main[39], &MAIN_STRATEGIES, "merge_commit");
    h.branch(
        "develop",
        &develop[2],
        &crate::world::MERGE_STRATEGIES,
        "squash",
    );
    h.branch("feature/login", &login[3], &MAIN_STRATEGIES, "merge_commit");
    h.branch(
        "feature/search-v2",
        &search[2],
        &MAIN_STRATEGIES,
        "merge_commit",
    );
    h.branch(
        "release/2026.11",
        &release[1],
        &MAIN_STRATEGIES,
        "merge_commit",
    );

    Story {
        main,
        pagination,
        bump,
        graphql,
        develop,
        login,
        search,
        release,
    }
}

/// The commits the pull requests point at, by branch, oldest first.
pub struct Story {
    pub main: Vec<String>,
    pub pagination: Vec<String>,
    pub bump: Vec<String>,
    pub graphql: Vec<String>,
    pub develop: Vec<String>,
    pub login: Vec<String>,
    pub search: Vec<String>,
    pub release: Vec<String>,
}
