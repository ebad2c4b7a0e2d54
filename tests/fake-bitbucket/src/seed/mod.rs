//! The demo and test data set: three people, four workspaces, one of them
//! with 263 repositories so listings span pages; histories, pull requests,
//! pipelines, issues and searchable files on a few of the repositories.

mod code;
mod git;
mod issues;
mod pipelines;
mod pullrequests;

use crate::clock::timestamp;
use crate::world::{Membership, Repository, User, Workspace, World, uuid};

/// The repositories with histories, pull requests, pipelines and issues.
pub use git::RICH;
/// The custom pipelines both of them define.
pub use pipelines::CUSTOM as CUSTOM_PIPELINES;

pub const ADA_TOKEN: &str = "fake-token-ada-7c1e";
pub const GRACE_TOKEN: &str = "fake-token-grace-93b0";
pub const ADA_EMAIL: &str = "ada@example.com";
pub const ADA_API_TOKEN: &str = "ATATT-fake-ada-api-token";
/// The seeded OAuth consumer; redirect URIs under `http://127.0.0.1` are accepted.
pub const OAUTH_CLIENT_ID: &str = "atom-fake-consumer";
pub const OAUTH_CLIENT_SECRET: &str = "atom-fake-consumer-secret";

const LANGUAGES: [&str; 6] = ["rust", "typescript", "python", "go", "java", "kotlin"];
const AREAS: [&str; 11] = [
    "api", "billing", "search", "auth", "web", "mobile", "data", "infra", "docs", "ml", "ops",
];
const KINDS: [&str; 6] = ["service", "gateway", "worker", "client", "tools", "config"];

pub fn world() -> World {
    let ada = user(1, "Ada Lovelace", "ada", ADA_EMAIL);
    let grace = user(2, "Grace Hopper", "grace", "grace@example.com");
    let linus = user(3, "Linus Builder", "linus", "linus@example.com");
    let member = |u: &User, administrator| Membership {
        user_uuid: u.uuid.clone(),
        administrator,
    };

    let workspaces = vec![
        workspace(
            10,
            "acme",
            "Acme Corporation",
            vec![member(&ada, false), member(&grace, true)],
        ),
        workspace(
            11,
            "atom-labs",
            "ATOM Labs",
            vec![member(&ada, true), member(&grace, false)],
        ),
        workspace(12, "ada", "Ada Lovelace", vec![member(&ada, true)]),
        workspace(13, "umbrella", "Umbrella", vec![member(&linus, true)]),
    ];

    let mut repositories = Vec::new();
    for i in 0..263u64 {
        let area = AREAS[(i % AREAS.len() as u64) as usize];
        let kind = KINDS[((i / AREAS.len() as u64) % KINDS.len() as u64) as usize];
        let slug = format!(
            "{area}-{kind}-{:02}",
            i / (AREAS.len() * KINDS.len()) as u64
        );
        let name = slug.clone();
        repositories.push(repository(
            1000 + i,
            "acme",
            &slug,
            &name,
            i,
            i % 9 != 0,
            &format!("{} {kind} owned by the {area} team", title(area)),
        ));
    }
    for (i, slug) in [
        "atom-core",
        "atom-harness",
        "bitbucket-plugin",
        "github-plugin",
        "jira-plugin",
        "slack-plugin",
        "agent-runtime",
        "policy-engine",
        "web-console",
        "docs-site",
        "load-tests",
        "infra-live",
    ]
    .iter()
    .enumerate()
    {
        repositories.push(repository(
            2000 + i as u64,
            "atom-labs",
            slug,
            &title(slug),
            i as u64 * 7,
            true,
            &format!("{} for the ATOM platform", title(slug)),
        ));
    }
    for (i, slug) in ["notes", "analytical-engine", "dotfiles"]
        .iter()
        .enumerate()
    {
        repositories.push(repository(
            3000 + i as u64,
            "ada",
            slug,
            &title(slug),
            i as u64 * 3,
            i != 1,
            "Personal project",
        ));
    }
    for (i, slug) in ["t-virus", "hive", "public-site", "red-queen"]
        .iter()
        .enumerate()
    {
        repositories.push(repository(
            4000 + i as u64,
            "umbrella",
            slug,
            &title(slug),
            i as u64,
            *slug != "public-site",
            "Umbrella project",
        ));
    }

    // The plugin's own repository is a Rust project with an issue tracker,
    // as its seeded files, pipelines and issues say.
    for r in &mut repositories {
        if r.workspace == "atom-labs" && r.slug == "bitbucket-plugin" {
            r.has_issues = true;
            r.language = "rust".into();
        }
    }

    let mut world = World {
        users: vec![ada.clone(), grace.clone(), linus],
        workspaces,
        repositories,
        ..World::default()
    };
    world
        .bearer_tokens
        .insert(ADA_TOKEN.into(), ada.uuid.clone());
    world
        .bearer_tokens
        .insert(GRACE_TOKEN.into(), grace.uuid.clone());
    world.oauth.consumers.push(crate::world::OauthConsumer {
        key: OAUTH_CLIENT_ID.into(),
        secret: OAUTH_CLIENT_SECRET.into(),
        callback_url: "http://127.0.0.1".into(),
        scopes: "account repository:write pullrequest:write pipeline:write webhook issue:write"
            .into(),
    });
    world.oauth.authorize_as = ada.uuid.clone();
    world
        .api_tokens
        .insert((ADA_EMAIL.into(), ADA_API_TOKEN.into()), ada.uuid);
    for (repo, story) in git::seed(&mut world) {
        pullrequests::seed(&mut world, repo, &story);
    }
    pipelines::seed(&mut world);
    issues::seed(&mut world);
    code::seed(&mut world);
    world
}

fn title(slug: &str) -> String {
    slug.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn user(n: u64, name: &str, nickname: &str, email: &str) -> User {
    User {
        uuid: uuid(n),
        account_id: format!("712020:{}", &uuid(n + 500)[1..37]),
        display_name: name.into(),
        nickname: nickname.into(),
        email: email.into(),
        created_on: timestamp(n * 11, n * 977),
    }
}

fn workspace(n: u64, slug: &str, name: &str, members: Vec<Membership>) -> Workspace {
    Workspace {
        uuid: uuid(n),
        slug: slug.into(),
        name: name.into(),
        is_private: true,
        created_on: timestamp(n, n * 131),
        members,
    }
}

fn repository(
    n: u64,
    workspace: &str,
    slug: &str,
    name: &str,
    i: u64,
    is_private: bool,
    description: &str,
) -> Repository {
    let (project_key, project_name) = match workspace {
        "acme" => (
            ["PLAT", "PAY", "WEB"][(i % 3) as usize],
            ["Platform", "Payments", "Web"][(i % 3) as usize],
        ),
        "atom-labs" => ("ATOM", "ATOM"),
        _ => ("PER", "Personal"),
    };
    Repository {
        uuid: uuid(n),
        workspace: workspace.into(),
        slug: slug.into(),
        name: name.into(),
        description: description.into(),
        is_private,
        language: LANGUAGES[(i % LANGUAGES.len() as u64) as usize].into(),
        size: 40_000 + (i * 7_919) % 9_000_000,
        has_issues: i.is_multiple_of(4),
        created_on: timestamp(30 + i % 300, i * 3_607),
        // Spread so that -updated_on is a different order from the slug order.
        updated_on: timestamp(400 + (i * 37) % 260, i * 1_201),
        project_key: project_key.into(),
        project_name: project_name.into(),
        main_branch: "main".into(),
    }
}
