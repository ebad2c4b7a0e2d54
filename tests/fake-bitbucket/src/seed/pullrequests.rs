//! The pull requests of the rich repositories: #1 and #2 merged, #3
//! declined, #4–#6 open, with reviewers, approvals and a few comments.

use super::git::{Story, main_date};
use crate::clock::{HOUR, SEED_NOW};
use crate::world::{Comment, Inline, Participant, PrState, PullRequest, ReviewState, World};

pub fn seed(world: &mut World, repo: &str, story: &Story) {
    let ada = &crate::world::uuid(1);
    let grace = &crate::world::uuid(2);
    let reviewer = |user: &str, approved: bool, on: Option<u64>| Participant {
        user: user.to_owned(),
        reviewer: true,
        approved,
        state: approved.then_some(ReviewState::Approved),
        participated_on: on,
    };
    let pr = |id: u64, title: &str, author: &str, source: &str, destination: &str| PullRequest {
        repo: repo.to_owned(),
        id,
        title: title.to_owned(),
        description: String::new(),
        state: PrState::Open,
        draft: false,
        queued: false,
        author: author.to_owned(),
        source_branch: source.to_owned(),
        source_commit: String::new(),
        destination_branch: destination.to_owned(),
        destination_commit: String::new(),
        merge_commit: None,
        close_source_branch: false,
        reviewers: Vec::new(),
        participants: Vec::new(),
        comments: Vec::new(),
        task_count: 0,
        closed_by: None,
        reason: String::new(),
        created_on: 0,
        updated_on: 0,
    };

    let mut one = pr(
        1,
        "Fix pagination cursor when next is missing",
        grace,
        "bugfix/pagination-cursor",
        "main",
    );
    one.description = "Pipelines pages sometimes come without `next` (BCLOUD-20639). Keep paging by number until a short page.".into();
    one.state = PrState::Merged;
    one.source_commit = story.pagination[1].clone();
    one.destination_commit = story.main[19].clone();
    one.merge_commit = Some(story.main[20].clone());
    one.close_source_branch = true;
    one.reviewers = vec![ada.to_owned()];
    one.participants = vec![reviewer(ada, true, Some(main_date(19) + HOUR))];
    one.closed_by = Some(grace.to_owned());
    one.created_on = main_date(17) + 3 * HOUR;
    one.updated_on = main_date(20);

    let mut two = pr(
        2,
        "Bump axum to 0.8 and tokio to 1.48",
        ada,
        "chore/bump-deps",
        "main",
    );
    two.description = "Routine dependency bump; no API changes.".into();
    two.state = PrState::Merged;
    two.source_commit = story.bump[0].clone();
    two.destination_commit = story.main[30].clone();
    two.merge_commit = Some(story.main[31].clone());
    two.close_source_branch = true;
    two.reviewers = vec![grace.to_owned()];
    two.participants = vec![reviewer(grace, true, Some(main_date(30) + HOUR))];
    two.closed_by = Some(ada.to_owned());
    two.created_on = main_date(29) + 4 * HOUR;
    two.updated_on = main_date(31);

    let mut three = pr(
        3,
        "Experiment: GraphQL gateway",
        grace,
        "experiment/graphql-api",
        "main",
    );
    three.description = "A thin GraphQL layer over the REST client. Feedback welcome.".into();
    three.state = PrState::Declined;
    three.source_commit = story.graphql[1].clone();
    three.destination_commit = story.main[27].clone();
    three.closed_by = Some(ada.to_owned());
    three.reason = "We are staying on REST for now.".into();
    three.created_on = main_date(25) + 6 * HOUR;
    three.updated_on = main_date(27) + 2 * HOUR;

    let mut four = pr(
        4,
        "Add OAuth 2.0 login flow",
        ada,
        "feature/login",
        "develop",
    );
    four.description = "Authorization code flow with rotating refresh tokens kept in the host keyring.\n\nCloses #2.".into();
    four.source_commit = story.login[3].clone();
    four.destination_commit = story.develop[2].clone();
    four.reviewers = vec![grace.to_owned()];
    let asked = SEED_NOW - 100 * HOUR;
    four.participants = vec![
        reviewer(grace, false, Some(asked)),
        Participant {
            user: ada.to_owned(),
            reviewer: false,
            approved: false,
            state: None,
            participated_on: Some(asked + 2 * HOUR),
        },
    ];
    four.comments = vec![
        Comment {
            id: 500_001,
            user: grace.to_owned(),
            raw: "Could we keep the token refresh in one place? `refresh()` is duplicated in the CLI.".into(),
            parent: None,
            inline: Some(Inline { path: "src/auth/oauth.rs".into(), from: None, to: Some(42) }),
            pending: false,
            deleted: false,
            created_on: asked,
            updated_on: asked,
        },
        Comment {
            id: 500_002,
            user: ada.to_owned(),
            raw: "Good point, moved it into `auth::refresh` in the latest commit.".into(),
            parent: Some(500_001),
            inline: Some(Inline { path: "src/auth/oauth.rs".into(), from: None, to: Some(42) }),
            pending: false,
            deleted: false,
            created_on: asked + 2 * HOUR,
            updated_on: asked + 2 * HOUR,
        },
    ];
    four.created_on = SEED_NOW - 150 * HOUR + 1_800;
    four.updated_on = SEED_NOW - 30 * HOUR;

    let mut five = pr(
        5,
        "Search v2: modifiers, highlighting and de-duplication",
        grace,
        "feature/search-v2",
        "main",
    );
    five.description = "Parses `repo:`, `ext:` and `path:`, highlights matches and drops the duplicates BCLOUD-23644 causes.".into();
    five.source_commit = story.search[2].clone();
    five.destination_commit = story.main[39].clone();
    five.reviewers = vec![ada.to_owned()];
    let approved = SEED_NOW - 38 * HOUR;
    five.participants = vec![reviewer(ada, true, Some(approved))];
    five.comments = vec![Comment {
        id: 500_003,
        user: ada.to_owned(),
        raw: "Looks great. Can we add a test for BCLOUD-23644?".into(),
        parent: None,
        inline: None,
        pending: false,
        deleted: false,
        created_on: approved - 600,
        updated_on: approved - 600,
    }];
    five.created_on = SEED_NOW - 129 * HOUR;
    five.updated_on = approved;

    let mut six = pr(6, "Release 2026.11", ada, "release/2026.11", "main");
    six.description = "Version bump and changelog for the November release.".into();
    six.source_commit = story.release[1].clone();
    six.destination_commit = story.main[39].clone();
    six.reviewers = vec![grace.to_owned()];
    six.participants = vec![reviewer(grace, false, None)];
    six.created_on = SEED_NOW - 17 * HOUR;
    six.updated_on = SEED_NOW - 17 * HOUR;

    world
        .pull_requests
        .extend([one, two, three, four, five, six]);
}
