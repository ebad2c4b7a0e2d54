//! Diffs: `R/diff/{spec}`, `R/diffstat/{spec}` and `R/patch/{spec}`, and the
//! pure functions pull requests and review bundles share: git's unified diff
//! text split into files, and the byte budget that cuts it.
//!
//! Bitbucket reads a two-commit spec `a..b` as "what `a` has that `b`
//! lacks" (its spec: "the opposite of the order used in `git diff`"), which
//! is the contract's `new..old`: the spec is sent as given, as one path
//! segment.

use serde::Deserialize;

use crate::endpoint::{Endpoint, Response, Upstream};
use crate::error::Error;
use crate::model::required;
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{
    BoundedText, Diff, DiffOptions, DiffRequest, DiffstatEntry, DiffstatPage, DiffstatRequest,
    FileChange, FileDiff, PatchRequest,
};

/// The diff budget when the caller names none.
pub const DEFAULT_DIFF_BYTES: u32 = 256 * 1024;
/// The smallest and largest budgets a caller may ask for.
pub const MIN_DIFF_BYTES: u32 = 1024;
pub const MAX_DIFF_BYTES: u32 = 4 * 1024 * 1024;
/// Most lines of context a caller may ask for.
pub const MAX_CONTEXT: u32 = 100;

/// Diffstats take Bitbucket's own filters, neither BBQL nor sort.
pub const DIFFSTAT: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new(
        "diffstat",
        &["ignore_whitespace", "merge", "path", "renames", "topic"],
    )
};

/// How many bytes of diff text to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Across all files.
    pub max_bytes: u64,
    /// Of any one file.
    pub max_file_bytes: u64,
}

impl Budget {
    /// `max_bytes` (1 KiB to 4 MiB, `default` when absent) and
    /// `max_file_bytes` (at least 1, `file_default` of the budget when absent),
    /// each refused by name.
    pub fn of(
        max_bytes: Option<u32>,
        max_file_bytes: Option<u32>,
        default: u32,
        file_default: impl FnOnce(u32) -> u32,
        prefix: &str,
    ) -> Result<Budget, Error> {
        let max = max_bytes.unwrap_or(default);
        if !(MIN_DIFF_BYTES..=MAX_DIFF_BYTES).contains(&max) {
            return Err(Error::validation(
                &format!("{prefix}max_bytes"),
                format!("must be from {MIN_DIFF_BYTES} to {MAX_DIFF_BYTES} bytes"),
            ));
        }
        let file = match max_file_bytes {
            Some(0) => {
                return Err(Error::validation(
                    &format!("{prefix}max_file_bytes"),
                    "must be at least 1 byte",
                ));
            }
            Some(file) => file,
            None => file_default(max),
        };
        Ok(Budget {
            max_bytes: u64::from(max),
            max_file_bytes: u64::from(file.min(max)),
        })
    }
}

/// One file's part of a unified diff, before the budget.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedFile<'a> {
    pub change: FileChange,
    pub old_path: Option<String>,
    pub new_path: Option<String>,
    pub binary: bool,
    /// Its text: the `diff --git` line, the headers and the hunks.
    pub text: &'a [u8],
}

impl ParsedFile<'_> {
    /// The path a cut names: the new one, or the old one of a removed file.
    pub fn path(&self) -> String {
        self.new_path
            .clone()
            .or_else(|| self.old_path.clone())
            .unwrap_or_default()
    }
}

/// Splits git's unified diff into files, on every line that starts with
/// `diff --git ` (anything before the first is left out: a patch's commit
/// header, say). Bytes that are not UTF-8 are kept as they are.
pub fn parse(diff: &[u8]) -> Vec<ParsedFile<'_>> {
    const START: &[u8] = b"diff --git ";
    let mut starts = Vec::new();
    let mut line_start = 0;
    while line_start < diff.len() {
        if diff[line_start..].starts_with(START) {
            starts.push(line_start);
        }
        line_start = match diff[line_start..].iter().position(|&b| b == b'\n') {
            Some(end) => line_start + end + 1,
            None => diff.len(),
        };
    }
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = starts.get(i + 1).copied().unwrap_or(diff.len());
            parse_file(&diff[start..end])
        })
        .collect()
}

/// One file's headers: which change, which paths, whether binary.
fn parse_file(text: &[u8]) -> ParsedFile<'_> {
    let mut change = FileChange::Modified;
    let (mut git_old, mut git_new) = (None, None);
    let (mut minus, mut plus) = (None, None);
    let (mut rename_from, mut rename_to) = (None, None);
    let mut binary = false;
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"@@") {
            break;
        }
        if i == 0 {
            (git_old, git_new) = git_line_paths(&line[b"diff --git ".len()..]);
        } else if line.starts_with(b"new file mode") {
            change = FileChange::Added;
        } else if line.starts_with(b"deleted file mode") {
            change = FileChange::Removed;
        } else if let Some(path) = line.strip_prefix(b"rename from ") {
            change = FileChange::Renamed;
            rename_from = Some(unquote(path));
        } else if let Some(path) = line.strip_prefix(b"rename to ") {
            change = FileChange::Renamed;
            rename_to = Some(unquote(path));
        } else if let Some(path) = line.strip_prefix(b"copy to ") {
            change = FileChange::Added;
            rename_to = Some(unquote(path));
        } else if let Some(path) = line.strip_prefix(b"--- ") {
            minus = Some(side_path(path, b"a/"));
        } else if let Some(path) = line.strip_prefix(b"+++ ") {
            plus = Some(side_path(path, b"b/"));
        } else if (line.starts_with(b"Binary files ") && line.ends_with(b" differ"))
            || line == b"GIT binary patch"
        {
            binary = true;
        }
    }
    // `--- /dev/null` is an added file even without its mode line.
    if minus == Some(None) && change == FileChange::Modified {
        change = FileChange::Added;
    }
    if plus == Some(None) && change == FileChange::Modified {
        change = FileChange::Removed;
    }
    let mut old_path = rename_from.or(minus.flatten()).or(git_old);
    let mut new_path = rename_to.or(plus.flatten()).or(git_new);
    match change {
        FileChange::Added => old_path = None,
        FileChange::Removed => new_path = None,
        _ => {}
    }
    ParsedFile {
        change,
        old_path,
        new_path,
        binary,
        text,
    }
}

/// A `---`/`+++` path: `None` for `/dev/null`, else without its `a/`/`b/`
/// and without the tab git adds after a path with a space.
fn side_path(raw: &[u8], prefix: &[u8]) -> Option<String> {
    let raw = raw.strip_suffix(b"\t").unwrap_or(raw);
    if raw == b"/dev/null" {
        return None;
    }
    let path = unquote(raw);
    let prefix = std::str::from_utf8(prefix).unwrap_or_default();
    Some(path.strip_prefix(prefix).map(str::to_owned).unwrap_or(path))
}

/// The two paths of `a/X b/Y` (quoted or not). When both are the same the
/// split is exact whatever the path holds (spaces, ` b/`); otherwise the
/// first ` b/` separates them, and the `rename`/`---`/`+++` lines, which
/// take precedence, settle what this cannot.
fn git_line_paths(rest: &[u8]) -> (Option<String>, Option<String>) {
    if rest.starts_with(b"\"") {
        // `"a/x y" "b/x y"` or a quoted side and a plain one.
        let end = closing_quote(rest);
        let (old, new) = rest.split_at(end.min(rest.len()));
        let new = new.strip_prefix(b" ").unwrap_or(new);
        return (
            Some(strip_side(&unquote(old), "a/")),
            Some(strip_side(&unquote(new), "b/")),
        );
    }
    if rest.len() > 5 && (rest.len() - 5).is_multiple_of(2) {
        let n = (rest.len() - 5) / 2;
        if rest.starts_with(b"a/")
            && &rest[2 + n..5 + n] == b" b/"
            && rest[2..2 + n] == rest[5 + n..]
        {
            let path = String::from_utf8_lossy(&rest[2..2 + n]).into_owned();
            return (Some(path.clone()), Some(path));
        }
    }
    match find(rest, b" b/") {
        Some(at) => (
            Some(strip_side(&unquote(&rest[..at]), "a/")),
            Some(strip_side(&unquote(&rest[at + 1..]), "b/")),
        ),
        None => (None, None),
    }
}

fn strip_side(path: &str, prefix: &str) -> String {
    path.strip_prefix(prefix).unwrap_or(path).to_owned()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Where a quoted path that starts `text` ends (after its closing quote).
fn closing_quote(text: &[u8]) -> usize {
    let mut i = 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

/// A path as git writes it: plain, or C-quoted (`"sp\303\251cial\tname"`).
fn unquote(raw: &[u8]) -> String {
    let Some(inner) = raw.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")) else {
        return String::from_utf8_lossy(raw).into_owned();
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        if inner[i] != b'\\' || i + 1 == inner.len() {
            out.push(inner[i]);
            i += 1;
            continue;
        }
        let escaped = inner[i + 1];
        i += 2;
        out.push(match escaped {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'a' => 0x07,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'v' => 0x0b,
            b'0'..=b'7' => {
                let mut value = u32::from(escaped - b'0');
                for _ in 0..2 {
                    match inner.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                (value & 0xff) as u8
            }
            other => other,
        });
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How much of `text` fits in `allowance` bytes, cut after a whole line
/// (0 when not even its first line fits).
pub fn cut_at_line(text: &[u8], allowance: u64) -> usize {
    if text.len() as u64 <= allowance {
        return text.len();
    }
    let allowance = allowance as usize;
    text[..allowance]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1)
}

/// `files` within `budget`: in diff order, each file's text whole while it
/// fits, then cut after its last whole line within what is left (and within
/// `max_file_bytes`). Once the budget is spent later files are still listed,
/// with no text and all their bytes counted as left out. Binary files carry
/// no text and spend nothing.
pub fn within_budget(files: Vec<ParsedFile<'_>>, budget: Budget) -> Diff {
    let mut left = budget.max_bytes;
    let mut diff = Diff {
        files: Vec::with_capacity(files.len()),
        size: 0,
        truncated_bytes: 0,
        truncated_files: Vec::new(),
    };
    for file in files {
        let size = file.text.len() as u64;
        diff.size += size;
        let (patch, truncated_bytes) = if file.binary {
            (None, 0)
        } else {
            let kept = cut_at_line(file.text, left.min(budget.max_file_bytes));
            left -= kept as u64;
            let patch =
                (kept > 0).then(|| String::from_utf8_lossy(&file.text[..kept]).into_owned());
            (patch, size - kept as u64)
        };
        if truncated_bytes > 0 {
            diff.truncated_bytes += truncated_bytes;
            diff.truncated_files.push(file.path());
        }
        diff.files.push(FileDiff {
            change: file.change,
            old_path: file.old_path,
            new_path: file.new_path,
            binary: file.binary,
            patch,
            size,
            truncated_bytes,
        });
    }
    diff
}

/// `text` cut to `max` bytes: after its last whole line within them, or at
/// a character boundary when one line is longer.
pub fn bounded_text(text: &[u8], max: u64) -> BoundedText {
    let size = text.len() as u64;
    let mut kept = cut_at_line(text, max);
    if kept == 0 && size > 0 {
        kept = (max as usize).min(text.len());
        // Back off a cut UTF-8 sequence (continuation bytes are 10xxxxxx).
        let mut back = 0;
        while back < 3 && kept > 0 && kept < text.len() && text[kept] & 0xc0 == 0x80 {
            kept -= 1;
            back += 1;
        }
    }
    BoundedText {
        text: String::from_utf8_lossy(&text[..kept]).into_owned(),
        size,
        truncated_bytes: size - kept as u64,
    }
}

/// The query a diff sends for `options`, and the budget it is cut to.
/// `prefix` names the options' field in errors (`options.`).
pub fn diff_endpoint(
    path: ApiPath,
    options: Option<&DiffOptions>,
    prefix: &str,
) -> Result<(Endpoint, Budget), Error> {
    let budget = Budget::of(
        options.and_then(|o| o.max_bytes),
        options.and_then(|o| o.max_file_bytes),
        DEFAULT_DIFF_BYTES,
        |max| max,
        prefix,
    )?;
    let mut endpoint = Endpoint::get(path).header("accept", "text/plain");
    if let Some(options) = options {
        if let Some(context) = options.context {
            if context > MAX_CONTEXT {
                return Err(Error::validation(
                    &format!("{prefix}context"),
                    format!("must be from 0 to {MAX_CONTEXT} lines"),
                ));
            }
            endpoint = endpoint.query("context", context.to_string());
        }
        for (i, path) in options.paths.iter().flatten().enumerate() {
            endpoint = endpoint.query("path", required(&format!("{prefix}paths[{i}]"), path)?);
        }
        if let Some(ignore) = options.ignore_whitespace {
            endpoint = endpoint.query("ignore_whitespace", ignore.to_string());
        }
    }
    Ok((endpoint, budget))
}

/// Whether `options` ask Bitbucket for anything (context, paths,
/// whitespace) rather than only for a budget.
pub fn asks_upstream(options: Option<&DiffOptions>) -> bool {
    options.is_some_and(|o| {
        o.context.is_some()
            || o.paths.as_ref().is_some_and(|p| !p.is_empty())
            || o.ignore_whitespace.is_some()
    })
}

/// Sends a diff's endpoint and cuts the answer to `budget`.
pub fn fetch_diff(
    upstream: &dyn Upstream,
    endpoint: &Endpoint,
    budget: Budget,
) -> Result<Diff, Error> {
    let response = upstream.send(endpoint)?;
    Ok(within_budget(parse(&response.body), budget))
}

/// The spec as one path segment, refused when empty.
fn spec_path(workspace: &str, repo_slug: &str, kind: &str, spec: &str) -> Result<ApiPath, Error> {
    ApiPath::repository(workspace, repo_slug)?
        .literal(kind)
        .param("spec", spec)
}

pub fn get_diff(upstream: &dyn Upstream, request: DiffRequest) -> Result<Diff, Error> {
    let path = spec_path(
        &request.workspace,
        &request.repo_slug,
        "diff",
        &request.spec,
    )?;
    let (endpoint, budget) = diff_endpoint(path, request.options.as_ref(), "options.")?;
    fetch_diff(upstream, &endpoint, budget)
}

#[derive(Deserialize)]
pub struct ApiDiffstat {
    status: Option<String>,
    lines_added: Option<u32>,
    lines_removed: Option<u32>,
    old: Option<ApiFile>,
    new: Option<ApiFile>,
}

#[derive(Deserialize)]
struct ApiFile {
    path: Option<String>,
}

impl ApiDiffstat {
    pub fn into_entry(self) -> DiffstatEntry {
        // Bitbucket also answers `merge conflict`, `local deleted` and
        // `remote deleted`: modifications, as far as the contract goes.
        let change = match self.status.as_deref() {
            Some("added") => FileChange::Added,
            Some("removed") => FileChange::Removed,
            Some("renamed") => FileChange::Renamed,
            _ => FileChange::Modified,
        };
        DiffstatEntry {
            change,
            old_path: self.old.and_then(|f| f.path),
            new_path: self.new.and_then(|f| f.path),
            lines_added: self.lines_added.unwrap_or(0),
            lines_removed: self.lines_removed.unwrap_or(0),
        }
    }
}

pub fn get_diffstat(
    upstream: &dyn Upstream,
    request: DiffstatRequest,
) -> Result<DiffstatPage, Error> {
    let path = spec_path(
        &request.workspace,
        &request.repo_slug,
        "diffstat",
        &request.spec,
    )?;
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        DIFFSTAT,
        ApiDiffstat::into_entry,
    )?;
    Ok(DiffstatPage { items, next_cursor })
}

/// The patch's budget: 1 KiB to 4 MiB, 256 KiB by default.
pub fn patch_budget(max_bytes: Option<u32>) -> Result<u64, Error> {
    Ok(Budget::of(max_bytes, None, DEFAULT_DIFF_BYTES, |max| max, "")?.max_bytes)
}

pub fn patch_of(response: &Response, max: u64) -> BoundedText {
    bounded_text(&response.body, max)
}

pub fn get_patch(upstream: &dyn Upstream, request: PatchRequest) -> Result<BoundedText, Error> {
    let max = patch_budget(request.max_bytes)?;
    let path = spec_path(
        &request.workspace,
        &request.repo_slug,
        "patch",
        &request.spec,
    )?;
    let response = upstream.send(&Endpoint::get(path).header("accept", "text/plain"))?;
    Ok(patch_of(&response, max))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::script::Script;

    const MODIFIED: &str = "diff --git a/src/lib.rs b/src/lib.rs
index 3b18e51..a9c7f2d 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,3 +1,4 @@
 fn a() {}
+fn b() {}
 fn c() {}
@@ -10,2 +11,2 @@ fn d() {
-    old();
+    new();
";
    const ADDED: &str = "diff --git a/docs/new file.md b/docs/new file.md
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/docs/new file.md\t
@@ -0,0 +1,2 @@
+# Title
+text
\\ No newline at end of file
";
    const REMOVED: &str = "diff --git a/old.txt b/old.txt
deleted file mode 100644
index e69de29..0000000
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
";
    const RENAMED_ONLY: &str = "diff --git a/a.txt b/b.txt
similarity index 100%
rename from a.txt
rename to b.txt
";
    const RENAMED_CHANGED: &str = "diff --git a/dir a/x.rs b/dir b/x.rs
similarity index 90%
rename from dir a/x.rs
rename to dir b/x.rs
index 1111111..2222222 100644
--- a/dir a/x.rs\t
+++ b/dir b/x.rs\t
@@ -1 +1 @@
-1
+2
";
    const BINARY: &str = "diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..1234567
Binary files /dev/null and b/logo.png differ
";

    fn all() -> String {
        [
            MODIFIED,
            ADDED,
            REMOVED,
            RENAMED_ONLY,
            RENAMED_CHANGED,
            BINARY,
        ]
        .concat()
    }

    fn whole() -> Budget {
        Budget {
            max_bytes: 1 << 20,
            max_file_bytes: 1 << 20,
        }
    }

    #[test]
    fn files_are_split_and_their_changes_and_paths_read() {
        let text = all();
        let files = parse(text.as_bytes());
        let summary: Vec<(FileChange, Option<&str>, Option<&str>, bool)> = files
            .iter()
            .map(|f| {
                (
                    f.change,
                    f.old_path.as_deref(),
                    f.new_path.as_deref(),
                    f.binary,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    FileChange::Modified,
                    Some("src/lib.rs"),
                    Some("src/lib.rs"),
                    false
                ),
                (FileChange::Added, None, Some("docs/new file.md"), false),
                (FileChange::Removed, Some("old.txt"), None, false),
                (FileChange::Renamed, Some("a.txt"), Some("b.txt"), false),
                (
                    FileChange::Renamed,
                    Some("dir a/x.rs"),
                    Some("dir b/x.rs"),
                    false
                ),
                (FileChange::Added, None, Some("logo.png"), true),
            ]
        );
        // Every byte belongs to one file, in order.
        let joined: Vec<u8> = files.iter().flat_map(|f| f.text.to_vec()).collect();
        assert_eq!(joined, text.as_bytes());
    }

    #[test]
    fn a_whole_diff_keeps_every_text_and_binary_files_carry_none() {
        let text = all();
        let diff = within_budget(parse(text.as_bytes()), whole());
        assert_eq!(diff.size, text.len() as u64);
        assert_eq!(diff.truncated_bytes, 0);
        assert!(diff.truncated_files.is_empty());
        assert_eq!(diff.files[0].patch.as_deref(), Some(MODIFIED));
        assert!(
            diff.files[1]
                .patch
                .as_deref()
                .unwrap()
                .ends_with("\\ No newline at end of file\n")
        );
        assert_eq!(diff.files[5].patch, None);
        assert!(diff.files[5].binary);
        assert_eq!(diff.files[5].truncated_bytes, 0);
    }

    #[test]
    fn a_multi_hunk_file_is_cut_after_a_whole_line() {
        let budget = Budget {
            max_bytes: 150,
            max_file_bytes: 150,
        };
        let diff = within_budget(parse(MODIFIED.as_bytes()), budget);
        let patch = diff.files[0].patch.as_deref().unwrap();
        assert!(patch.len() <= 150);
        assert!(patch.ends_with('\n'));
        assert!(MODIFIED.starts_with(patch));
        assert_eq!(
            diff.files[0].truncated_bytes,
            (MODIFIED.len() - patch.len()) as u64
        );
        assert_eq!(diff.truncated_files, ["src/lib.rs"]);
    }

    #[test]
    fn once_the_budget_is_spent_later_files_are_listed_without_text() {
        let text = all();
        let budget = Budget {
            max_bytes: MODIFIED.len() as u64 + 10,
            max_file_bytes: 1 << 20,
        };
        let diff = within_budget(parse(text.as_bytes()), budget);
        assert_eq!(diff.files.len(), 6, "every file is still named");
        assert_eq!(diff.files[0].patch.as_deref(), Some(MODIFIED));
        for file in &diff.files[1..5] {
            assert_eq!(file.patch, None);
            assert_eq!(file.truncated_bytes, file.size);
        }
        assert_eq!(
            diff.truncated_files,
            ["docs/new file.md", "old.txt", "b.txt", "dir b/x.rs"],
            "the binary file was never going to carry text"
        );
        let kept: u64 = diff.files.iter().map(|f| f.size - f.truncated_bytes).sum();
        assert_eq!(kept + diff.truncated_bytes, diff.size);
    }

    #[test]
    fn a_budget_spent_midway_cuts_the_file_it_ends_in() {
        let text = all();
        let budget = Budget {
            max_bytes: (MODIFIED.len() + 60) as u64,
            max_file_bytes: 1 << 20,
        };
        let diff = within_budget(parse(text.as_bytes()), budget);
        let second = diff.files[1].patch.as_deref().unwrap();
        assert!(second.len() <= 60 && second.ends_with('\n'));
        assert_eq!(diff.truncated_files[0], "docs/new file.md");
        let kept: u64 = diff
            .files
            .iter()
            .filter(|f| !f.binary)
            .map(|f| f.size - f.truncated_bytes)
            .sum();
        assert!(kept <= budget.max_bytes);
    }

    #[test]
    fn a_file_far_over_the_budget_leaves_room_for_the_others() {
        let mut huge = String::from(
            "diff --git a/big.sql b/big.sql\n--- a/big.sql\n+++ b/big.sql\n@@ -1,100000 +1,100000 @@\n",
        );
        for i in 0..100_000 {
            huge.push_str(&format!("+insert into t values ({i});\n"));
        }
        let text = format!("{huge}{MODIFIED}");
        let budget = Budget {
            max_bytes: 4096,
            max_file_bytes: 1024,
        };
        let diff = within_budget(parse(text.as_bytes()), budget);
        assert!(diff.files[0].patch.as_deref().unwrap().len() <= 1024);
        assert_eq!(diff.files[1].patch.as_deref(), Some(MODIFIED));
        assert_eq!(diff.truncated_files, ["big.sql"]);
        assert_eq!(diff.size, text.len() as u64);
    }

    #[test]
    fn crlf_lines_stay_whole_and_a_line_longer_than_the_budget_leaves_no_text() {
        let crlf = MODIFIED.replace('\n', "\r\n");
        let files = parse(crlf.as_bytes());
        assert_eq!(files[0].new_path.as_deref(), Some("src/lib.rs"));
        let diff = within_budget(
            files,
            Budget {
                max_bytes: 100,
                max_file_bytes: 100,
            },
        );
        assert!(diff.files[0].patch.as_deref().unwrap().ends_with("\r\n"));
        let long = format!("diff --git a/x b/x\n@@ -1 +1 @@\n+{}\n", "y".repeat(5000));
        let diff = within_budget(
            parse(long.as_bytes()),
            Budget {
                max_bytes: 1024,
                max_file_bytes: 1024,
            },
        );
        assert!(diff.files[0].patch.as_deref().unwrap().len() <= 1024);
        let one_line = "diff --git a/x b/x\n";
        assert_eq!(cut_at_line(one_line.as_bytes(), 5), 0);
    }

    #[test]
    fn quoted_paths_are_unquoted() {
        let text = "diff --git \"a/sp\\303\\251cial\\tname\" \"b/sp\\303\\251cial\\tname\"\n--- \"a/sp\\303\\251cial\\tname\"\n+++ \"b/sp\\303\\251cial\\tname\"\n@@ -1 +1 @@\n-a\n+b\n";
        let files = parse(text.as_bytes());
        assert_eq!(files[0].new_path.as_deref(), Some("spécial\tname"));
        assert_eq!(files[0].old_path.as_deref(), Some("spécial\tname"));
    }

    #[test]
    fn a_path_containing_b_slash_splits_exactly_when_both_sides_agree() {
        let text = "diff --git a/x b/y.txt b/x b/y.txt\nold mode 100644\nnew mode 100755\n";
        let files = parse(text.as_bytes());
        assert_eq!(files[0].new_path.as_deref(), Some("x b/y.txt"));
        assert_eq!(files[0].change, FileChange::Modified);
    }

    #[test]
    fn bounded_text_cuts_at_a_line_or_a_character_boundary() {
        let text = "line one\nline two\n";
        let cut = bounded_text(text.as_bytes(), 12);
        assert_eq!(cut.text, "line one\n");
        assert_eq!(cut.size, 18);
        assert_eq!(cut.truncated_bytes, 9);
        let accents = "é".repeat(10);
        let cut = bounded_text(accents.as_bytes(), 5);
        assert_eq!(cut.text, "éé");
        assert_eq!(cut.truncated_bytes, 16);
        let whole = bounded_text(b"short", 1024);
        assert_eq!((whole.text.as_str(), whole.truncated_bytes), ("short", 0));
    }

    #[test]
    fn get_diff_sends_the_spec_as_given_with_its_options() {
        let script = Script::new().answer(Ok(Response {
            status: 200,
            body: MODIFIED.as_bytes().to_vec(),
            ..Response::default()
        }));
        let diff = get_diff(
            &script,
            DiffRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                spec: "feature/x..main".into(),
                options: Some(DiffOptions {
                    max_bytes: None,
                    max_file_bytes: None,
                    paths: Some(vec!["src/lib.rs".into(), "a b.txt".into()]),
                    context: Some(5),
                    ignore_whitespace: Some(true),
                }),
            },
        )
        .unwrap();
        assert_eq!(diff.files.len(), 1);
        let sent = script.sent.borrow();
        assert_eq!(
            sent[0].path.as_str(),
            "/repositories/acme/api/diff/feature%2Fx..main"
        );
        assert_eq!(
            sent[0].query_string(),
            "context=5&path=src%2Flib.rs&path=a%20b.txt&ignore_whitespace=true"
        );
    }

    #[test]
    fn budgets_outside_their_bounds_are_refused_by_name_before_sending() {
        for (options, field) in [
            (Some(100), "options.max_bytes"),
            (Some(5 << 20), "options.max_bytes"),
        ] {
            let script = Script::new();
            let error = get_diff(
                &script,
                DiffRequest {
                    workspace: "acme".into(),
                    repo_slug: "api".into(),
                    spec: "a..b".into(),
                    options: Some(DiffOptions {
                        max_bytes: options,
                        max_file_bytes: None,
                        paths: None,
                        context: None,
                        ignore_whitespace: None,
                    }),
                },
            )
            .unwrap_err();
            let Error::Validation(e) = error else {
                panic!()
            };
            assert_eq!(e.field, field);
            assert_eq!(script.requests_sent(), 0);
        }
    }

    #[test]
    fn diffstat_pages_and_maps_renames() {
        let script = Script::new().ok(json!({
            "values": [
                {"type": "diffstat", "status": "renamed", "lines_added": 1, "lines_removed": 2,
                 "old": {"path": "a.txt"}, "new": {"path": "b.txt"}},
                {"type": "diffstat", "status": "added", "lines_added": 3, "lines_removed": 0,
                 "new": {"path": "c.txt"}}
            ],
            "next": "https://api.bitbucket.org/2.0/repositories/acme/api/diffstat/a..b?page=2&pagelen=50"
        }));
        let page = get_diffstat(
            &script,
            DiffstatRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                spec: "a..b".into(),
                page: None,
            },
        )
        .unwrap();
        assert_eq!(page.items[0].change, FileChange::Renamed);
        assert_eq!(page.items[0].old_path.as_deref(), Some("a.txt"));
        assert_eq!(page.items[1].old_path, None);
        assert!(page.next_cursor.is_some());
        assert_eq!(script.sent.borrow()[0].query_string(), "pagelen=50");
    }
}
