//! `GET /2.0/workspaces/{workspace}/search/code`: terms plus `repo:`,
//! `ext:`, `path:` and `lang:` filters over the seeded files of the
//! repositories the caller can read.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{authenticate, param, query_pairs};
use crate::pages::{self, PageParams};
use crate::render::{reference, summary_named};
use crate::world::{SourceFile, World};
use crate::{Shared, errors, lock};

pub const DISABLED: &str = "Search is not enabled for the requested workspace, navigate to https://bitbucket.org/search to turn it on";

/// A parsed `search_query`.
#[derive(Debug, Default, PartialEq)]
pub struct Search {
    pub terms: Vec<String>,
    pub repos: Vec<String>,
    pub exts: Vec<String>,
    pub paths: Vec<String>,
    pub langs: Vec<String>,
}

pub fn parse(query: &str) -> Search {
    let mut search = Search::default();
    let mut rest = query.trim();
    while !rest.is_empty() {
        let (token, tail) = if let Some(quoted) = rest.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match rest.find(char::is_whitespace) {
                Some(end) => (&rest[..end], &rest[end..]),
                None => (rest, ""),
            }
        };
        rest = tail.trim_start();
        let token = token.trim_end_matches('*');
        if token.is_empty() {
            continue;
        }
        let (bucket, value) = match token.split_once(':') {
            Some(("repo", v)) => (&mut search.repos, v),
            Some(("ext", v)) => (&mut search.exts, v.trim_start_matches('.')),
            Some(("path", v)) => (&mut search.paths, v.trim_matches('/')),
            Some(("lang", v)) => (&mut search.langs, v),
            _ => (&mut search.terms, token),
        };
        bucket.push(value.to_lowercase());
    }
    search
}

fn language(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "rs" => "rust",
        "py" => "python",
        "ts" | "tsx" => "typescript",
        "go" => "go",
        "java" => "java",
        "kt" => "kotlin",
        "md" => "markdown",
        "toml" => "toml",
        "yml" | "yaml" => "yaml",
        _ => "text",
    }
}

impl Search {
    fn selects(&self, file: &SourceFile) -> bool {
        let path = file.path.to_lowercase();
        let slug = file.repo.rsplit('/').next().unwrap_or_default();
        let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
        let content = file.content.to_lowercase();
        (self.repos.is_empty() || self.repos.iter().any(|r| r == slug))
            && (self.exts.is_empty() || self.exts.iter().any(|e| e == ext))
            && (self.paths.is_empty()
                || self
                    .paths
                    .iter()
                    .any(|p| path == *p || path.starts_with(&format!("{p}/"))))
            && (self.langs.is_empty() || self.langs.iter().any(|l| l == language(&path)))
            && self
                .terms
                .iter()
                .all(|t| content.contains(t.as_str()) || path.contains(t.as_str()))
    }
}

/// `text` cut into segments, the terms' occurrences marked `match: true`.
fn segments(text: &str, terms: &[String]) -> Vec<Value> {
    let lower = text.to_lowercase();
    // Byte ranges of every hit, merged; lower-casing keeps ASCII offsets.
    let mut hits: Vec<(usize, usize)> = Vec::new();
    for term in terms.iter().filter(|t| !t.is_empty()) {
        let mut from = 0;
        while let Some(at) = lower[from..].find(term.as_str()) {
            hits.push((from + at, from + at + term.len()));
            from += at + term.len();
        }
    }
    hits.sort();
    let mut out = Vec::new();
    let mut at = 0;
    for (start, end) in hits {
        if start < at || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        if start > at {
            out.push(json!({ "text": &text[at..start] }));
        }
        out.push(json!({ "text": &text[start..end], "match": true }));
        at = end;
    }
    if at < text.len() {
        out.push(json!({ "text": &text[at..] }));
    }
    out
}

fn count(text: &str, terms: &[String]) -> usize {
    let lower = text.to_lowercase();
    terms
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| lower.matches(t.as_str()).count())
        .sum()
}

/// The `code_search_result` for one file: matching lines with a line of
/// context either side, grouped when they touch.
fn render(world: &World, file: &SourceFile, search: &Search) -> Value {
    let lines: Vec<&str> = file.content.lines().collect();
    let hit_lines: Vec<usize> = (0..lines.len())
        .filter(|&i| count(lines[i], &search.terms) > 0)
        .collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in hit_lines {
        let window = i.saturating_sub(1)..=(i + 1).min(lines.len() - 1);
        match groups.last_mut() {
            Some(group) if group.last().is_some_and(|&l| l + 1 >= *window.start()) => {
                group.extend(window.filter(|l| !group.contains(l)).collect::<Vec<_>>());
            }
            _ => groups.push(window.collect()),
        }
    }
    let content_matches: Vec<Value> = groups
        .iter()
        .map(|group| {
            let lines: Vec<Value> = group
                .iter()
                .map(|&l| json!({ "line": l + 1, "segments": segments(lines[l], &search.terms) }))
                .collect();
            json!({ "lines": lines })
        })
        .collect();
    let path_matches = if count(&file.path, &search.terms) > 0 {
        segments(&file.path, &search.terms)
    } else {
        Vec::new()
    };
    let head = world
        .repository_named(&file.repo)
        .and_then(|r| world.branch_in(&file.repo, &r.main_branch))
        .map(|b| b.target.clone())
        .unwrap_or_default();
    let mut commit = reference(world, &file.repo, &head, false);
    commit["repository"] = summary_named(world, &file.repo);
    json!({
        "type": "code_search_result",
        "content_match_count": count(&file.content, &search.terms),
        "content_matches": content_matches,
        "path_matches": path_matches,
        "file": {
            "type": "commit_file",
            "path": file.path,
            "commit": commit,
            "links": {
                "self": { "href": format!("{}/2.0/repositories/{}/src/{head}/{}", world.base_url, file.repo, file.path) }
            }
        }
    })
}

pub async fn code(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let user = authenticate(&world, &headers)?;
    let ws = world
        .workspace(&workspace)
        .filter(|w| world.is_member(w, &user))
        .ok_or_else(|| errors::workspace_not_found(&workspace))?;
    if world.search_disabled {
        return Err(errors::error(404, DISABLED));
    }
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let raw = param(&query, "search_query")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| {
            errors::error_body(
                400,
                json!({ "type": "error", "error": {
                    "message": "Missing search_query parameter",
                    "data": { "key": "search.query.missing" }
                } }),
            )
        })?;
    let search = parse(raw);
    if search.terms.is_empty() {
        return Err(errors::error_body(
            400,
            json!({ "type": "error", "error": {
                "message": "The search query needs at least one search term besides its modifiers",
                "data": { "key": "search.query.no-terms" }
            } }),
        ));
    }
    let mut files: Vec<&SourceFile> = world
        .files
        .iter()
        .filter(|f| {
            f.repo.split('/').next() == Some(ws.slug.as_str())
                && world
                    .repository_named(&f.repo)
                    .is_some_and(|r| world.can_read(r, &user))
                && search.selects(f)
        })
        .collect();
    files.sort_by(|a, b| (&a.repo, &a.path).cmp(&(&b.repo, &b.path)));
    let items: Vec<Value> = files.iter().map(|f| render(&world, f, &search)).collect();
    let url = format!("{}/2.0/workspaces/{}/search/code", world.base_url, ws.slug);
    let mut body = if world.search_duplicates_across_pages && params.page > 1 {
        // BCLOUD-23644: each page after the first starts one result early.
        let shifted = PageParams {
            page: 1,
            pagelen: params.pagelen,
        };
        let start = (params.page - 1) * params.pagelen - 1;
        let window: Vec<Value> = items.iter().skip(start).cloned().collect();
        let mut body = pages::page(window, &shifted, &url, &query);
        let real = pages::page(items, &params, &url, &query);
        for key in ["size", "page", "next", "previous"] {
            match real.get(key) {
                Some(value) => body[key] = value.clone(),
                None => {
                    if let Some(object) = body.as_object_mut() {
                        object.remove(key);
                    }
                }
            }
        }
        body
    } else {
        pages::page(items, &params, &url, &query)
    };
    body["query_substituted"] = json!(false);
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_split_into_terms_and_modifiers() {
        let search =
            parse(r#"verify_signature repo:bitbucket-plugin ext:rs "raw body" path:src/ foo*"#);
        assert_eq!(search.terms, ["verify_signature", "raw body", "foo"]);
        assert_eq!(search.repos, ["bitbucket-plugin"]);
        assert_eq!(search.exts, ["rs"]);
        assert_eq!(search.paths, ["src"]);
    }

    #[test]
    fn matches_are_marked_within_the_line() {
        let segments = segments("def foo(): return FOO", &["foo".into()]);
        assert_eq!(
            segments,
            vec![
                json!({"text": "def "}),
                json!({"text": "foo", "match": true}),
                json!({"text": "(): return "}),
                json!({"text": "FOO", "match": true}),
            ]
        );
    }
}
