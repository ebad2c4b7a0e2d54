//! The Bitbucket JSON definitions that API answers and webhook payloads
//! both embed. They live below `routes` and `events` so that each can use
//! them without depending on the other.

mod commits;
mod issues;
mod markup;
mod projects;
mod pullrequests;
mod refs;
mod repositories;
mod user;

pub use commits::{author, commit, reference};
pub use issues::issue;
pub(crate) use markup::rendered;
pub use projects::{project, project_summary};
pub use pullrequests::{participant, pullrequest};
pub use refs::{Names, RefKind, git_ref};
pub use repositories::{repository, summary, summary_named};
pub use user::{account, encode_braces};
