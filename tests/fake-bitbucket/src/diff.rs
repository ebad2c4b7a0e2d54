//! Git-style comparison of two trees: which files were added, removed,
//! modified or renamed, with line counts, and the unified diff text git
//! prints (`diff --git`, `index`, modes, rename headers, `Binary files …
//! differ`, `@@` hunks with context). Line matching is the `similar`
//! crate's Myers diff; hunks are grouped and printed here, as git does.

use std::collections::BTreeSet;

use similar::{Algorithm, DiffTag, capture_diff_slices, group_diff_ops};

use crate::world::tree::{Blob, Tree, blob_id, is_binary};

/// What `context`, `path`, `ignore_whitespace`, `binary` and `renames` ask for.
#[derive(Clone, Debug)]
pub struct Options {
    pub context: usize,
    pub paths: Vec<String>,
    pub ignore_whitespace: bool,
    pub binary: bool,
    pub renames: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            context: 3,
            paths: Vec::new(),
            ignore_whitespace: false,
            binary: true,
            renames: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Added,
    Removed,
    Modified,
    Renamed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Modified => "modified",
            Status::Renamed => "renamed",
        }
    }
}

/// One file's change.
pub struct FileDiff {
    pub status: Status,
    pub old_path: Option<String>,
    pub new_path: Option<String>,
    pub old: Option<Blob>,
    pub new: Option<Blob>,
    /// Percent, for renames.
    pub similarity: u32,
    pub binary: bool,
    pub lines_added: usize,
    pub lines_removed: usize,
}

impl FileDiff {
    /// The path it is sorted and filtered by: the new one, else the old.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or_default()
    }
}

fn under(path: &str, filters: &[String]) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| {
            let f = f.trim_matches('/');
            path == f || path.starts_with(&format!("{f}/"))
        })
}

/// Every changed file between `old` and `new`, by path.
pub fn compare(old: &Tree, new: &Tree, options: &Options) -> Vec<FileDiff> {
    let mut added: Vec<&String> = Vec::new();
    let mut removed: Vec<&String> = Vec::new();
    let mut files = Vec::new();
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for path in paths {
        match (old.get(path), new.get(path)) {
            (Some(a), Some(b)) if a != b => {
                files.push(file(
                    Status::Modified,
                    Some(path),
                    Some(path),
                    Some(a),
                    Some(b),
                    options,
                ));
            }
            (Some(_), None) => removed.push(path),
            (None, Some(_)) => added.push(path),
            _ => {}
        }
    }
    // Renames: a removed file whose contents reappear (identical, or at
    // least half the lines alike) under an added path.
    let mut renamed_from: BTreeSet<&String> = BTreeSet::new();
    let mut renamed_to: BTreeSet<&String> = BTreeSet::new();
    if options.renames {
        for to in &added {
            let blob = &new[*to];
            let mut best: Option<(&String, u32)> = None;
            for from in removed.iter().filter(|f| !renamed_from.contains(*f)) {
                let score = similarity(&old[*from], blob);
                if score >= 50 && best.is_none_or(|(_, s)| score > s) {
                    best = Some((from, score));
                }
            }
            if let Some((from, score)) = best {
                renamed_from.insert(from);
                renamed_to.insert(to);
                let mut diff = file(
                    Status::Renamed,
                    Some(from),
                    Some(to),
                    Some(&old[from]),
                    Some(blob),
                    options,
                );
                diff.similarity = score;
                files.push(diff);
            }
        }
    }
    for path in removed.into_iter().filter(|p| !renamed_from.contains(p)) {
        files.push(file(
            Status::Removed,
            Some(path),
            None,
            Some(&old[path]),
            None,
            options,
        ));
    }
    for path in added.into_iter().filter(|p| !renamed_to.contains(p)) {
        files.push(file(
            Status::Added,
            None,
            Some(path),
            None,
            Some(&new[path]),
            options,
        ));
    }
    files.retain(|f| {
        (under(f.path(), &options.paths)
            || f.old_path
                .as_deref()
                .is_some_and(|p| under(p, &options.paths)))
            && (options.binary || !f.binary)
    });
    files.sort_by(|a, b| a.path().cmp(b.path()));
    files
}

fn file(
    status: Status,
    old_path: Option<&String>,
    new_path: Option<&String>,
    old: Option<&Blob>,
    new: Option<&Blob>,
    options: &Options,
) -> FileDiff {
    let binary = old.is_some_and(|b| is_binary(b)) || new.is_some_and(|b| is_binary(b));
    let (lines_added, lines_removed) = if binary {
        (0, 0)
    } else {
        let empty: &[u8] = &[];
        let ops = line_ops(
            old.map_or(empty, |b| b),
            new.map_or(empty, |b| b),
            options.ignore_whitespace,
        );
        count(&ops.ops)
    };
    FileDiff {
        status,
        old_path: old_path.cloned(),
        new_path: new_path.cloned(),
        old: old.cloned(),
        new: new.cloned(),
        similarity: 100,
        binary,
        lines_added,
        lines_removed,
    }
}

/// Percent of lines two files share (100 when identical).
fn similarity(a: &[u8], b: &[u8]) -> u32 {
    if a == b {
        return 100;
    }
    if is_binary(a) || is_binary(b) || a.len().max(b.len()) > 64 * 1024 {
        return 0;
    }
    let ops = line_ops(a, b, false);
    let common: usize = ops
        .ops
        .iter()
        .filter(|op| op.tag() == DiffTag::Equal)
        .map(|op| op.old_range().len())
        .sum();
    let total = ops.old.len() + ops.new.len();
    (common * 200).checked_div(total).map_or(100, |p| p as u32)
}

struct LineOps<'a> {
    old: Vec<&'a str>,
    new: Vec<&'a str>,
    ops: Vec<similar::DiffOp>,
}

fn lines(bytes: &[u8]) -> Vec<&str> {
    std::str::from_utf8(bytes)
        .unwrap_or_default()
        .split_inclusive('\n')
        .collect()
}

fn line_ops<'a>(old: &'a [u8], new: &'a [u8], ignore_whitespace: bool) -> LineOps<'a> {
    let old = lines(old);
    let new = lines(new);
    let ops = if ignore_whitespace {
        let strip = |l: &&str| l.split_whitespace().collect::<String>();
        let a: Vec<String> = old.iter().map(strip).collect();
        let b: Vec<String> = new.iter().map(strip).collect();
        capture_diff_slices(Algorithm::Myers, &a, &b)
    } else {
        capture_diff_slices(Algorithm::Myers, &old, &new)
    };
    LineOps { old, new, ops }
}

fn count(ops: &[similar::DiffOp]) -> (usize, usize) {
    ops.iter().fold((0, 0), |(added, removed), op| {
        let (tag, old, new) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => (added, removed),
            _ => (added + new.len(), removed + old.len()),
        }
    })
}

fn short_id(blob: Option<&Blob>) -> String {
    blob.map(|b| blob_id(b)[..7].to_owned())
        .unwrap_or_else(|| "0000000".into())
}

/// The unified diff of `files`, as `git diff` prints it.
pub fn render(files: &[FileDiff], options: &Options) -> String {
    let mut out = String::new();
    for f in files {
        let a = f.old_path.as_deref().unwrap_or(f.path());
        let b = f.new_path.as_deref().unwrap_or(f.path());
        out.push_str(&format!("diff --git a/{a} b/{b}\n"));
        let ids = format!("{}..{}", short_id(f.old.as_ref()), short_id(f.new.as_ref()));
        match f.status {
            Status::Added => out.push_str(&format!("new file mode 100644\nindex {ids}\n")),
            Status::Removed => out.push_str(&format!("deleted file mode 100644\nindex {ids}\n")),
            Status::Modified => out.push_str(&format!("index {ids} 100644\n")),
            Status::Renamed => {
                out.push_str(&format!(
                    "similarity index {}%\nrename from {a}\nrename to {b}\n",
                    f.similarity
                ));
                if f.similarity == 100 {
                    continue;
                }
                out.push_str(&format!("index {ids} 100644\n"));
            }
        }
        let from = if f.old.is_some() {
            format!("a/{a}")
        } else {
            "/dev/null".into()
        };
        let to = if f.new.is_some() {
            format!("b/{b}")
        } else {
            "/dev/null".into()
        };
        if f.binary {
            out.push_str(&format!("Binary files {from} and {to} differ\n"));
            continue;
        }
        out.push_str(&format!("--- {from}\n+++ {to}\n"));
        let empty: &[u8] = &[];
        let ops = line_ops(
            f.old.as_deref().unwrap_or(empty),
            f.new.as_deref().unwrap_or(empty),
            options.ignore_whitespace,
        );
        for group in group_diff_ops(ops.ops.clone(), options.context) {
            hunk(&mut out, &group, &ops.old, &ops.new);
        }
    }
    out
}

fn range(start: usize, len: usize) -> String {
    let start = if len == 0 { start } else { start + 1 };
    if len == 1 {
        start.to_string()
    } else {
        format!("{start},{len}")
    }
}

fn hunk(out: &mut String, group: &[similar::DiffOp], old: &[&str], new: &[&str]) {
    let (Some(first), Some(last)) = (group.first(), group.last()) else {
        return;
    };
    let old_start = first.old_range().start;
    let new_start = first.new_range().start;
    let old_len = last.old_range().end - old_start;
    let new_len = last.new_range().end - new_start;
    out.push_str(&format!(
        "@@ -{} +{} @@\n",
        range(old_start, old_len),
        range(new_start, new_len)
    ));
    let line = |out: &mut String, sign: char, text: &str| {
        out.push(sign);
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push_str("\n\\ No newline at end of file\n");
        }
    };
    for op in group {
        let (tag, o, n) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => o.for_each(|i| line(out, ' ', old[i])),
            DiffTag::Delete => o.for_each(|i| line(out, '-', old[i])),
            DiffTag::Insert => n.for_each(|i| line(out, '+', new[i])),
            DiffTag::Replace => {
                o.for_each(|i| line(out, '-', old[i]));
                n.for_each(|i| line(out, '+', new[i]));
            }
        }
    }
}
