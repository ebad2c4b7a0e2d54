//! Merge when green, one look at a time: is the pull request ready (builds
//! green on its source head, the approvals the destination's rules ask
//! for, no change request), and if so merge it. Waiting between looks is
//! the host's business; this answers what the pull request waits for, or
//! why waiting will not help.

use crate::endpoint::Upstream;
use crate::error::Error;
use crate::page::{self, MAX_PAGE_SIZE, MAX_PAGES_PER_CALL};
use crate::restrictions;
use crate::statuses;
use crate::types::{
    BranchRestriction, BuildState, BuildStatus, ListBranchRestrictionsRequest,
    ListPullRequestStatusesRequest, MergeBlocker, MergeChecks, MergePullRequestRequest,
    MergeReadiness, MergeVerdict, PageRequest, PullRequest, PullRequestRef, PullRequestState,
};

/// Reads the pull request, its source head's builds and the destination's
/// rules; merges when nothing blocks. The merge itself is `merge`'s: never
/// retried, an ambiguous answer is `outcome-unknown`, and the next look
/// finds the pull request merged (`merged-already`) if it was.
pub fn merge_if_green(
    upstream: &dyn Upstream,
    request: MergePullRequestRequest,
) -> Result<MergeReadiness, Error> {
    let reference = PullRequestRef {
        workspace: request.workspace.clone(),
        repo_slug: request.repo_slug.clone(),
        id: request.id,
    };
    let pull_request = super::get(upstream, reference)?;
    if pull_request.state != PullRequestState::Open {
        let blocker = if pull_request.state == PullRequestState::Merged {
            MergeBlocker::MergedAlready
        } else {
            MergeBlocker::Closed
        };
        return Ok(answer(
            MergeVerdict::Ended,
            vec![blocker],
            empty_checks(),
            pull_request,
        ));
    }
    let builds = all_builds(upstream, &request)?;
    let rules = match all_rules(upstream, &request)? {
        Some(rules) => Rules::for_branch(&rules, &pull_request.destination_branch),
        None => Rules::UNREAD,
    };
    let checks = count(&pull_request, &builds, &rules);
    let blockers = blockers(&pull_request, &checks, &rules);
    if let Some(verdict) = verdict_without_merging(&blockers) {
        return Ok(answer(verdict, blockers, checks, pull_request));
    }
    let merged = super::merge(upstream, request)?;
    Ok(answer(MergeVerdict::Merged, Vec::new(), checks, merged))
}

fn answer(
    verdict: MergeVerdict,
    blockers: Vec<MergeBlocker>,
    checks: MergeChecks,
    pull_request: PullRequest,
) -> MergeReadiness {
    MergeReadiness {
        verdict,
        blockers,
        checks,
        pull_request,
    }
}

fn empty_checks() -> MergeChecks {
    MergeChecks {
        source_commit: None,
        builds_successful: 0,
        builds_running: 0,
        builds_failed: 0,
        builds_required: 0,
        approvals: 0,
        approvals_required: 0,
        changes_requested: 0,
    }
}

/// Every page there is, within one call's page bound.
fn all_pages() -> Option<PageRequest> {
    Some(PageRequest {
        size: Some(MAX_PAGE_SIZE),
        pages: Some(MAX_PAGES_PER_CALL),
        ..page::first_page()
    })
}

fn all_builds(
    upstream: &dyn Upstream,
    request: &MergePullRequestRequest,
) -> Result<Vec<BuildStatus>, Error> {
    let listing = statuses::list_for_pull_request(
        upstream,
        ListPullRequestStatusesRequest {
            workspace: request.workspace.clone(),
            repo_slug: request.repo_slug.clone(),
            id: request.id,
            page: all_pages(),
        },
    )?;
    Ok(listing.items)
}

/// `None` when the credential may not read them: branch restrictions need
/// repository admin, which a merging bot often lacks.
fn all_rules(
    upstream: &dyn Upstream,
    request: &MergePullRequestRequest,
) -> Result<Option<Vec<BranchRestriction>>, Error> {
    let listing = restrictions::list(
        upstream,
        ListBranchRestrictionsRequest {
            workspace: request.workspace.clone(),
            repo_slug: request.repo_slug.clone(),
            kind: None,
            pattern: None,
            page: all_pages(),
        },
    );
    match listing {
        Ok(listing) => Ok(Some(listing.items)),
        Err(error) if error.code() == "permission_denied" => Ok(None),
        Err(error) => Err(error),
    }
}

/// What the destination branch's merge rules ask for.
#[derive(Debug, Default, PartialEq)]
struct Rules {
    approvals: u32,
    builds: u32,
    no_changes_requested: bool,
    tasks_done: bool,
}

impl Rules {
    /// When the rules cannot be read: one approval, so an unreadable rule
    /// is not taken to ask for none.
    const UNREAD: Rules = Rules {
        approvals: 1,
        builds: 1,
        no_changes_requested: true,
        tasks_done: false,
    };

    /// The strictest of the rules that may apply to `branch`. A rule on a
    /// branching-model type (`production`, `development`) is counted as
    /// applying: without reading the model, asking too much only waits
    /// longer, asking too little merges what the rules forbid.
    fn for_branch(all: &[BranchRestriction], branch: &str) -> Self {
        let mut rules = Rules::default();
        let applying = all
            .iter()
            .filter(|rule| match rule.branch_match_kind.as_deref() {
                Some("branching_model") => true,
                _ => rule
                    .pattern
                    .as_deref()
                    .is_none_or(|p| glob_matches(p, branch)),
            });
        for rule in applying {
            let value = rule.value.unwrap_or(1);
            match rule.kind.as_str() {
                "require_approvals_to_merge" | "require_default_reviewer_approvals_to_merge" => {
                    rules.approvals = rules.approvals.max(value)
                }
                "require_passing_builds_to_merge" => rules.builds = rules.builds.max(value),
                "require_no_changes_requested" => rules.no_changes_requested = true,
                "require_tasks_to_be_completed" => rules.tasks_done = true,
                _ => {}
            }
        }
        rules
    }
}

/// Bitbucket's branch patterns: `*` is any run of characters, `/` included.
fn glob_matches(pattern: &str, name: &str) -> bool {
    let (pattern, name): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), name.chars().collect());
    // Classic two-pointer wildcard match, remembering the last `*`.
    let (mut p, mut n, mut star, mut resume) = (0, 0, None, 0);
    while n < name.len() {
        if p < pattern.len() && pattern[p] != '*' && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            resume = n;
            p += 1;
        } else if let Some(at) = star {
            p = at + 1;
            resume += 1;
            n = resume;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

fn count(pull_request: &PullRequest, builds: &[BuildStatus], rules: &Rules) -> MergeChecks {
    let in_state = |state: BuildState| builds.iter().filter(|b| b.state == state).count() as u32;
    let author = pull_request.author.as_ref().and_then(|a| a.uuid.as_deref());
    let others = || {
        pull_request
            .participants
            .iter()
            .filter(move |p| author.is_none() || p.user.uuid.as_deref() != author)
    };
    MergeChecks {
        source_commit: pull_request.source_commit.clone(),
        builds_successful: in_state(BuildState::Successful),
        builds_running: in_state(BuildState::InProgress),
        builds_failed: in_state(BuildState::Failed) + in_state(BuildState::Stopped),
        // Green means some build said so: a repository without CI never is.
        builds_required: rules.builds.max(1),
        approvals: others().filter(|p| p.approved).count() as u32,
        approvals_required: rules.approvals,
        changes_requested: others()
            .filter(|p| p.state.as_deref() == Some("changes_requested"))
            .count() as u32,
    }
}

fn blockers(pull_request: &PullRequest, checks: &MergeChecks, rules: &Rules) -> Vec<MergeBlocker> {
    let mut blockers = Vec::new();
    if checks.builds_failed > 0 {
        blockers.push(MergeBlocker::BuildFailed);
    }
    // A change request ends the wait whatever the rules say: merging over
    // a reviewer's objection is not what "when green" was asked to do.
    if checks.changes_requested > 0 {
        blockers.push(MergeBlocker::ChangesRequested);
    }
    if pull_request.draft {
        blockers.push(MergeBlocker::Draft);
    }
    if checks.builds_failed > 0 {
        // What else the builds lack no longer matters.
    } else if checks.builds_running > 0 {
        blockers.push(MergeBlocker::BuildsRunning);
    } else if checks.builds_successful == 0 {
        blockers.push(MergeBlocker::NoBuildYet);
    } else if checks.builds_successful < checks.builds_required {
        blockers.push(MergeBlocker::BuildsMissing);
    }
    if checks.approvals < checks.approvals_required {
        blockers.push(MergeBlocker::ApprovalsMissing);
    }
    if rules.tasks_done && pull_request.task_count > 0 {
        blockers.push(MergeBlocker::TasksOpen);
    }
    blockers
}

/// `None` when nothing blocks and the merge may go ahead.
fn verdict_without_merging(blockers: &[MergeBlocker]) -> Option<MergeVerdict> {
    let final_ = |b: &MergeBlocker| {
        matches!(
            b,
            MergeBlocker::BuildFailed | MergeBlocker::ChangesRequested | MergeBlocker::Closed
        )
    };
    if blockers.iter().any(final_) {
        Some(MergeVerdict::Ended)
    } else if blockers.is_empty() {
        None
    } else {
        Some(MergeVerdict::Waiting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: &str, pattern: Option<&str>, value: Option<u32>) -> BranchRestriction {
        BranchRestriction {
            id: 1,
            kind: kind.into(),
            branch_match_kind: pattern.map(|_| "glob".into()),
            pattern: pattern.map(Into::into),
            branch_type: None,
            value,
            users: Vec::new(),
            groups: Vec::new(),
        }
    }

    #[test]
    fn patterns_match_as_bitbucket_globs() {
        assert!(glob_matches("main", "main"));
        assert!(!glob_matches("main", "main2"));
        assert!(glob_matches("release/*", "release/1.2/hotfix"));
        assert!(glob_matches("*", "feature/x"));
        assert!(glob_matches("*-stable", "v1-stable"));
        assert!(!glob_matches("release/*", "releases/1"));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(!glob_matches("a*b*c", "axxbyy"));
    }

    #[test]
    fn the_strictest_rule_on_the_destination_wins() {
        let all = [
            rule("require_approvals_to_merge", Some("main"), Some(1)),
            rule("require_approvals_to_merge", Some("*"), Some(2)),
            rule("require_approvals_to_merge", Some("release/*"), Some(5)),
            rule("require_passing_builds_to_merge", Some("main"), Some(2)),
            rule("require_no_changes_requested", Some("main"), None),
            rule("push", Some("main"), None),
        ];
        assert_eq!(
            Rules::for_branch(&all, "main"),
            Rules {
                approvals: 2,
                builds: 2,
                no_changes_requested: true,
                tasks_done: false
            }
        );
        assert_eq!(Rules::for_branch(&all, "develop").approvals, 2);
        assert_eq!(Rules::for_branch(&all, "release/9").approvals, 5);
    }

    #[test]
    fn a_failure_or_an_objection_ends_the_wait_and_anything_else_waits() {
        use MergeBlocker::*;
        assert_eq!(verdict_without_merging(&[]), None);
        assert_eq!(
            verdict_without_merging(&[BuildsRunning, ApprovalsMissing]),
            Some(MergeVerdict::Waiting)
        );
        assert_eq!(
            verdict_without_merging(&[BuildsRunning, BuildFailed]),
            Some(MergeVerdict::Ended)
        );
        assert_eq!(
            verdict_without_merging(&[ChangesRequested]),
            Some(MergeVerdict::Ended)
        );
    }
}
