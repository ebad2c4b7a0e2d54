//! The one reviewed list of places where the fake departs from Atlassian's
//! spec, each with its reason. Everything else in `spec/openapi.json` is
//! enforced on every request and answer. An entry names an operation (the
//! spec's method and path template) and, for bodies, a JSON pointer (`*`
//! stands for every array item); keep it that narrow. Add one only when the
//! live API (per API-NOTES.md or a cited report) does what the spec does not
//! describe; when the fake itself is wrong, fix the fake.

/// Paths the spec does not describe at all; requests to them and their
/// answers are not validated.
pub const UNSPECIFIED_PATHS: &[(&str, &str)] = &[
    (
        "/site/oauth2/",
        "OAuth 2.0 authorize and token endpoints live on bitbucket.org, not in the REST API's spec (API-NOTES §4)",
    ),
    (
        "/log-storage/",
        "where a step log's 307 points: pre-signed storage outside the API, as Bitbucket's own log URLs are",
    ),
];

/// Request paths the live API answers like the spec's path without the
/// trailing slash.
pub const TRAILING_SLASH_ALIASES: &[(&str, &str)] = &[
    (
        "/repositories/{workspace}/{repo_slug}/pipelines/",
        "Bitbucket's own Pipelines docs and older clients call the list with a trailing slash; the live API answers both",
    ),
    (
        "/repositories/{workspace}/{repo_slug}/pipelines/{pipeline_uuid}/steps/",
        "as the pipelines list: the live API answers the steps list with and without the slash",
    ),
];

/// Path templates whose last parameter may be empty: the root directory's
/// listing is `src/{commit}/` (the spec's own description of the operation
/// says the trailing slash is required there), an empty `{path}`.
pub const EMPTY_LAST_PARAMETER: &[(&str, &str)] = &[(
    "/repositories/{workspace}/{repo_slug}/src/{commit}/{path}",
    "`src/{commit}/` lists the root directory; the operation's description requires the trailing slash",
)];

/// Success or redirect statuses the live API answers on an operation whose
/// spec entry does not declare them. Answers with these are not checked
/// further (no body is expected).
pub struct ExtraStatus {
    pub method: &'static str,
    pub path: &'static str,
    pub status: u16,
    pub reason: &'static str,
}

pub const EXTRA_STATUS: &[ExtraStatus] = &[ExtraStatus {
    method: "get",
    path: "/repositories/{workspace}/{repo_slug}/src",
    status: 302,
    reason: "the operation's description says it redirects to the main branch's root listing, and live answers 302 to `src/{hash}/`; the spec declares only 200",
}];

/// Operations whose spec lists form fields as `in: query` parameters (the
/// spec's Swagger 2 has them so) though the operation's description says
/// they travel in a `multipart/form-data` or
/// `application/x-www-form-urlencoded` body. The body of such a request is
/// checked as a form: its content type, and that every plain (non-file)
/// field is one of the declared parameters, each at most once. A field
/// that is not declared is a file, its name the file's path (the
/// description); in multipart a file field carries a `filename`.
pub const FORM_BODIES: &[(&str, &str, &str)] = &[(
    "post",
    "/repositories/{workspace}/{repo_slug}/src",
    "the description: \"This endpoint accepts `multipart/form-data` (as in the examples above), as well as `application/x-www-form-urlencoded`\"; `message`, `author`, `parents`, `files` and `branch` are form fields (API-NOTES §1.1 \"commit a file\")",
)];

/// Error statuses (in Bitbucket's error shape, checked) an operation's
/// description promises though its `responses` do not declare them.
pub struct ExtraError {
    pub method: &'static str,
    pub path: &'static str,
    pub status: u16,
    pub reason: &'static str,
}

pub const EXTRA_ERRORS: &[ExtraError] = &[ExtraError {
    method: "post",
    path: "/repositories/{workspace}/{repo_slug}/src",
    status: 409,
    reason: "the `branch` parameter's description: a `parents` that is not the branch's head at the time of the request \"returns a 409\"",
}];

/// Operations whose success answer may be raw file bytes, not the JSON the
/// spec's schema describes. Only answers the route marks with
/// `spec::RawContent` skip the body check.
pub const RAW_CONTENT: &[(&str, &str, &str)] = &[(
    "get",
    "/repositories/{workspace}/{repo_slug}/src/{commit}/{path}",
    "a file answers its raw contents with a content type from its extension (the operation's description); the 200 schema describes only the directory listing",
)];

/// Other definitions a success answer may validate against, when the one the
/// spec declares does not fit.
pub struct AlternativeAnswer {
    pub method: &'static str,
    pub path: &'static str,
    pub status: u16,
    pub definition: &'static str,
    pub reason: &'static str,
}

pub const ALTERNATIVE_ANSWERS: &[AlternativeAnswer] = &[AlternativeAnswer {
    method: "get",
    path: "/repositories/{workspace}/{repo_slug}/src/{commit}/{path}",
    status: 200,
    definition: "treeentry",
    reason: "`format=meta` answers the file's or directory's own `commit_file`/`commit_directory` (the description's example); the 200 schema describes only the listing",
}];

/// Query parameters the live API honours on an operation whose spec entry
/// does not declare them. `page` and `pagelen` on paginated answers and
/// `fields` everywhere are in [`is_common_query`].
pub struct ExtraQuery {
    pub method: &'static str,
    pub path: &'static str,
    pub names: &'static [&'static str],
    pub reason: &'static str,
}

pub const EXTRA_QUERY: &[ExtraQuery] = &[
    ExtraQuery {
        method: "get",
        path: "/user/workspaces",
        names: &["q"],
        reason: "the live API filters the user's workspaces by `slug` in BBQL (API-NOTES §2)",
    },
    ExtraQuery {
        method: "get",
        path: "/repositories/{workspace}/{repo_slug}/pullrequests",
        names: &["q", "sort"],
        reason: "PR lists accept BBQL and sort though the spec does not list them (API-NOTES §2)",
    },
    ExtraQuery {
        method: "get",
        path: "/repositories/{workspace}/{repo_slug}/pullrequests/{pull_request_id}/comments",
        names: &["q", "sort"],
        reason: "comment lists support q/sort (API-NOTES §1.5)",
    },
    ExtraQuery {
        method: "get",
        path: "/repositories/{workspace}/{repo_slug}/pullrequests/{pull_request_id}/activity",
        names: &["page", "pagelen"],
        reason: "the activity log is a paginated listing live (the description's examples carry pagelen and values) though the spec declares no schema for it",
    },
    ExtraQuery {
        method: "get",
        path: "/repositories/{workspace}/{repo_slug}/pullrequests/{pull_request_id}/commits",
        names: &["page", "pagelen"],
        reason: "\"a paginated list of the pull request's commits\" (the description), though the spec declares no schema for it",
    },
    ExtraQuery {
        method: "get",
        path: "/repositories/{workspace}/{repo_slug}/downloads",
        names: &["page", "pagelen"],
        reason: "\"a paginated list of the downloads\" (the 200 answer's description), though the spec declares no schema for it",
    },
    ExtraQuery {
        method: "get",
        path: "/repositories/{workspace}/{repo_slug}/issues",
        names: &["q", "sort"],
        reason: "issue lists accept BBQL, e.g. `state=\"new\"`, and sort (API-NOTES §1.8)",
    },
    ExtraQuery {
        method: "get",
        path: "/repositories/{workspace}/{repo_slug}/commits",
        names: &["include", "exclude", "path"],
        reason: "the operation's own description documents include/exclude/path; its parameter list omits them",
    },
    ExtraQuery {
        method: "get",
        path: "/repositories/{workspace}/{repo_slug}/commits/{revision}",
        names: &["include", "exclude", "path"],
        reason: "as GET R/commits: documented in the description only",
    },
];

/// Query parameters every operation accepts: Bitbucket's API docs describe
/// `fields` (partial responses) for every endpoint and `page` / `pagelen`
/// for every paginated collection (API-NOTES §2), but the spec lists them
/// on a handful of operations only. `paginated` says whether the operation answers a page.
pub fn is_common_query(name: &str, paginated: bool) -> bool {
    name == "fields" || (paginated && (name == "page" || name == "pagelen"))
}

/// The value to look up in a parameter's `enum`: `sort=-field` sorts
/// descending wherever `sort=field` is allowed (API-NOTES §2), though the
/// spec's enums (e.g. the pipelines list's) list the ascending names only.
pub fn enum_value<'v>(parameter: &serde_json::Value, value: &'v str) -> &'v str {
    if parameter["name"] == "sort" {
        value.strip_prefix('-').unwrap_or(value)
    } else {
        value
    }
}

/// Statuses the live API answers on any operation, in its error shape
/// (`definitions.error`, checked), whether or not the operation declares
/// them: authentication (401), permission and scope (403), unknown resources
/// (404), validation (400), the CHANGE-2770 removals (410), rate limits (429,
/// text/plain, API-NOTES §3) and server trouble (5xx; 555 is Bitbucket's
/// "timed out"). Success and redirect statuses must be declared.
pub fn is_universal_error(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 410 | 429) || (500..=599).contains(&status)
}

/// Where the spec's schema is stricter than the live API, for request bodies
/// only: Swagger 2's discriminator makes every definition that inherits
/// `definitions.object` (and a few that copy it) require `type`, but the live
/// API does not ask a client for it (API-NOTES header, "Known spec quirks";
/// BCLOUD-17601). Request schemas drop `type` from `required`, except in
/// [`REQUEST_TYPE_REQUIRED`].
pub const REQUEST_TYPE_NOT_REQUIRED: &str = "request bodies need no `type` (the spec's discriminator quirk, BCLOUD-17601), except where REQUEST_TYPE_REQUIRED says";

/// Definitions whose `type` a request body must still carry, with why: the
/// live API tells them apart by it.
pub const REQUEST_TYPE_REQUIRED: &[(&str, &str)] = &[
    (
        "pipeline_target",
        "a pipeline trigger's target is a ref, commit or pull-request target by its `type` (API-NOTES §1.7); live refuses a trigger without it, as the fake's route does",
    ),
    (
        "pipeline_selector",
        "the selector's `type` (custom, branches, …) picks the pipeline in bitbucket-pipelines.yml; without it live cannot run a custom pipeline (API-NOTES §1.7)",
    ),
];

/// A schema adjustment in one definition of the spec, for answers only.
/// `at` is a JSON pointer to an object schema inside the definition's own
/// part (its root, or the `allOf` member that declares its properties).
pub struct Adjust {
    pub definition: &'static str,
    pub at: &'static str,
    pub change: Change,
    pub reason: &'static str,
}

pub enum Change {
    /// The live API sends this property in a form the spec's `format`
    /// rejects; only its type is checked.
    AnyFormat(&'static str),
    /// The live API sends this property as another type than the spec's
    /// (an object where it says string); it is not checked.
    AnyType(&'static str),
    /// The live API sends `null` for this property when it is unset.
    Nullable(&'static str),
    /// The live API sends this property, which the spec's
    /// `additionalProperties: false` forbids.
    Extra(&'static str),
    /// Drop `additionalProperties: false`: the spec puts it on several
    /// `allOf` members of one definition, which together forbid every
    /// property (each member allows only its own).
    Open,
}

/// `pullrequest_comment_task` is `allOf` [`task` (closed to all but its own
/// properties), `links` (closed to all but `links`), `comment` (closed to
/// all but `comment`)]: no object satisfies all three, yet live answers
/// tasks with id, content, state and links together.
const SELF_CONTRADICTING_ALL_OF: &str = "the allOf members each forbid the others' properties, so no task could pass; live tasks carry them all";

const UNSET_NULL: &str = "the live API sends null, not an absent field, when unset";

/// A recorded live `GET R/refs/tags` answer (tortoisehg/thg, kept in
/// ketchuphq/ketchup `plugins/pkg/fixtures_test.go`) gives its lightweight
/// tag `"tagger": null, "date": null, "message": null`.
const LIGHTWEIGHT_TAG: &str =
    "a lightweight tag has no annotation: live answers it with message, date and tagger null";

pub const ADJUST: &[Adjust] = &[
    Adjust {
        definition: "error",
        at: "/properties/error",
        change: Change::Extra("fields"),
        reason: "validation errors carry `error.fields` (API-NOTES §3, observed variants)",
    },
    Adjust {
        definition: "error",
        at: "/properties/error",
        change: Change::AnyType("detail"),
        reason: "scope refusals carry `error.detail` as an object, `{required: [...], granted: [...]}` (API-NOTES §3, backstage#22383)",
    },
    Adjust {
        definition: "repository",
        at: "/properties/links/properties/clone/items",
        change: Change::AnyFormat("href"),
        reason: "the ssh clone link is scp-style `git@bitbucket.org:ws/repo.git`, not a URI",
    },
    Adjust {
        definition: "pullrequest",
        at: "",
        change: Change::Nullable("closed_by"),
        reason: UNSET_NULL,
    },
    Adjust {
        definition: "pullrequest",
        at: "",
        change: Change::Nullable("merge_commit"),
        reason: UNSET_NULL,
    },
    Adjust {
        definition: "participant",
        at: "",
        change: Change::Nullable("state"),
        reason: "a participant who has not reviewed has state null in the live API",
    },
    Adjust {
        definition: "participant",
        at: "",
        change: Change::Nullable("participated_on"),
        reason: UNSET_NULL,
    },
    Adjust {
        definition: "issue",
        at: "",
        change: Change::Nullable("assignee"),
        reason: "an unassigned issue has assignee null; PUT with null clears it (API-NOTES §1.8)",
    },
    Adjust {
        definition: "issue",
        at: "",
        change: Change::Nullable("component"),
        reason: UNSET_NULL,
    },
    Adjust {
        definition: "issue",
        at: "",
        change: Change::Nullable("milestone"),
        reason: UNSET_NULL,
    },
    Adjust {
        definition: "issue",
        at: "",
        change: Change::Nullable("version"),
        reason: UNSET_NULL,
    },
    Adjust {
        definition: "issue",
        at: "",
        change: Change::Nullable("edited_on"),
        reason: UNSET_NULL,
    },
    Adjust {
        definition: "diffstat",
        at: "",
        change: Change::Nullable("old"),
        reason: "an added file's diffstat has old null in the live API",
    },
    Adjust {
        definition: "diffstat",
        at: "",
        change: Change::Nullable("new"),
        reason: "a removed file's diffstat has new null in the live API",
    },
    Adjust {
        definition: "task",
        at: "",
        change: Change::Open,
        reason: SELF_CONTRADICTING_ALL_OF,
    },
    Adjust {
        definition: "pullrequest_task",
        at: "",
        change: Change::Open,
        reason: SELF_CONTRADICTING_ALL_OF,
    },
    Adjust {
        definition: "pullrequest_comment_task",
        at: "",
        change: Change::Open,
        reason: SELF_CONTRADICTING_ALL_OF,
    },
    Adjust {
        definition: "task",
        at: "",
        change: Change::Nullable("resolved_on"),
        reason: "an unresolved task has resolved_on null in the live API",
    },
    Adjust {
        definition: "task",
        at: "",
        change: Change::Nullable("resolved_by"),
        reason: "an unresolved task has resolved_by null in the live API",
    },
    Adjust {
        definition: "comment",
        at: "/properties/inline",
        change: Change::Nullable("from"),
        reason: "an inline comment on the new side only has from null",
    },
    Adjust {
        definition: "tag",
        at: "",
        change: Change::Nullable("message"),
        reason: LIGHTWEIGHT_TAG,
    },
    Adjust {
        definition: "tag",
        at: "",
        change: Change::Nullable("date"),
        reason: LIGHTWEIGHT_TAG,
    },
    Adjust {
        definition: "tag",
        at: "",
        change: Change::Nullable("tagger"),
        reason: LIGHTWEIGHT_TAG,
    },
];

/// Whether a request path is one the spec does not describe.
pub fn unspecified(path: &str) -> bool {
    UNSPECIFIED_PATHS
        .iter()
        .any(|(prefix, _)| path.starts_with(prefix))
}
