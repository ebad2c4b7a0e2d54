//! The vendored spec, parsed once per process, and the lookup from a
//! request's method and path to the operation it declares.

use std::sync::LazyLock;

use serde_json::Value;

use super::overrides;

/// `spec/openapi.json`, embedded so the fake needs no file at run time.
const SPEC_TEXT: &str = include_str!("../../spec/openapi.json");

pub static SPEC: LazyLock<Spec> = LazyLock::new(|| {
    // The file is vendored and checked by this crate's tests: a parse
    // failure is a broken checkout, not bad input.
    Spec::new(serde_json::from_str(SPEC_TEXT).expect("spec/openapi.json is valid JSON"))
});

pub struct Spec {
    pub doc: Value,
    base_path: String,
    templates: Vec<Template>,
}

struct Template {
    text: String,
    segments: Vec<Segment>,
}

enum Segment {
    Literal(String),
    Param(String),
}

/// Parameters whose values hold slashes when last in a path: branch and
/// tag names, revisions (`main..feature/x`) and file paths.
const SLASHED_PARAMS: [&str; 4] = ["name", "revision", "path", "spec"];

/// The operation a request addresses.
pub struct Operation<'s> {
    /// The spec's path template, e.g. `/repositories/{workspace}/{repo_slug}`.
    pub path: &'s str,
    /// Lower case, as the spec keys it.
    pub method: String,
    pub definition: &'s Value,
    /// Path-level parameters, overridden by the operation's own by name.
    pub parameters: Vec<&'s Value>,
    /// The request's values for the template's `{params}`, decoded.
    pub path_values: Vec<(String, String)>,
}

/// Why a request has no operation.
pub enum Lookup<'s> {
    Found(Operation<'s>),
    /// Outside the spec by design (see `overrides::UNSPECIFIED_PATHS`).
    Unspecified,
    NoPath,
    NoMethod {
        path: &'s str,
    },
}

impl Spec {
    fn new(doc: Value) -> Self {
        let base_path = doc["basePath"].as_str().unwrap_or_default().to_owned();
        let templates = doc["paths"]
            .as_object()
            .map(|paths| paths.keys().map(|text| Template::parse(text)).collect())
            .unwrap_or_default();
        Self {
            doc,
            base_path,
            templates,
        }
    }

    pub fn lookup(&self, method: &str, raw_path: &str) -> Lookup<'_> {
        if overrides::unspecified(raw_path) {
            return Lookup::Unspecified;
        }
        let Some(path) = raw_path.strip_prefix(&self.base_path) else {
            return Lookup::NoPath;
        };
        let segments: Vec<String> = path
            .strip_prefix('/')
            .unwrap_or(path)
            .split('/')
            .map(percent_decode)
            .collect();
        let Some((template, path_values)) = self.best_match(&segments).or_else(|| {
            // Only the listed aliases may carry a trailing slash.
            let alias = overrides::TRAILING_SLASH_ALIASES.iter().any(|(t, _)| {
                segments.last().is_some_and(String::is_empty)
                    && Template::parse(t).matches(&segments).is_some()
            });
            let trimmed = &segments[..segments.len().saturating_sub(1)];
            alias.then(|| self.best_match(trimmed)).flatten()
        }) else {
            return Lookup::NoPath;
        };
        let item = &self.doc["paths"][template.text.as_str()];
        let method = method.to_ascii_lowercase();
        let Some(definition) = item.get(&method) else {
            return Lookup::NoMethod {
                path: &template.text,
            };
        };
        let own = definition["parameters"].as_array();
        let mut parameters: Vec<&Value> = own.map(|p| p.iter().collect()).unwrap_or_default();
        for shared in item["parameters"].as_array().into_iter().flatten() {
            if !parameters.iter().any(|p| p["name"] == shared["name"]) {
                parameters.push(shared);
            }
        }
        Lookup::Found(Operation {
            path: &template.text,
            method,
            definition,
            parameters,
            path_values,
        })
    }

    /// The template that matches with the most literal segments, so that
    /// `pullrequests/activity` wins over `pullrequests/{pull_request_id}`.
    fn best_match(&self, segments: &[String]) -> Option<(&Template, Vec<(String, String)>)> {
        self.templates
            .iter()
            .filter_map(|t| t.matches(segments).map(|values| (t, values)))
            .max_by_key(|(t, _)| t.literals())
    }
}

impl Template {
    fn parse(text: &str) -> Self {
        let segments = text
            .trim_start_matches('/')
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Param(name.to_owned()),
                    None => Segment::Literal(s.to_owned()),
                },
            )
            .collect();
        Self {
            text: text.to_owned(),
            segments,
        }
    }

    fn literals(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    /// The parameter values when `segments` fit. A parameter in last place
    /// takes the rest of the path: branch names and revisions hold slashes.
    fn matches(&self, segments: &[String]) -> Option<Vec<(String, String)>> {
        let last_is_param = matches!(
            self.segments.last(),
            Some(Segment::Param(name)) if SLASHED_PARAMS.contains(&name.as_str())
        );
        if segments.len() < self.segments.len()
            || (segments.len() > self.segments.len() && !last_is_param)
        {
            return None;
        }
        let mut values = Vec::new();
        for (at, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(text) if *text == segments[at] => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    let value = if at + 1 == self.segments.len() {
                        segments[at..].join("/")
                    } else {
                        segments[at].clone()
                    };
                    let may_be_empty = at + 1 == self.segments.len()
                        && overrides::EMPTY_LAST_PARAMETER
                            .iter()
                            .any(|(t, _)| *t == self.text);
                    if value.is_empty() && !may_be_empty {
                        return None;
                    }
                    values.push((name.clone(), value));
                }
            }
        }
        Some(values)
    }
}

/// `%XX` escapes decoded; anything malformed is kept as sent.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escaped = (bytes[at] == b'%')
            .then(|| segment.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(method: &str, path: &str) -> (String, Vec<(String, String)>) {
        match SPEC.lookup(method, path) {
            Lookup::Found(op) => (op.path.to_owned(), op.path_values),
            _ => panic!("{method} {path} has no operation"),
        }
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        let (path, _) = found("GET", "/2.0/repositories/acme/api/pullrequests/activity");
        assert_eq!(
            path,
            "/repositories/{workspace}/{repo_slug}/pullrequests/activity"
        );
    }

    #[test]
    fn a_last_parameter_takes_slashes_and_escapes_are_decoded() {
        let (path, values) = found(
            "GET",
            "/2.0/repositories/acme/api/refs/branches/feature/x%2By",
        );
        assert_eq!(
            path,
            "/repositories/{workspace}/{repo_slug}/refs/branches/{name}"
        );
        assert!(values.contains(&("name".to_owned(), "feature/x+y".to_owned())));
    }

    #[test]
    fn only_listed_paths_may_end_in_a_slash() {
        let (path, _) = found("GET", "/2.0/repositories/acme/api/pipelines/");
        assert_eq!(path, "/repositories/{workspace}/{repo_slug}/pipelines");
        assert!(matches!(
            SPEC.lookup("GET", "/2.0/repositories/acme/api/pullrequests/"),
            Lookup::NoPath
        ));
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        assert!(matches!(SPEC.lookup("GET", "/2.0/nowhere"), Lookup::NoPath));
        assert!(matches!(
            SPEC.lookup("PATCH", "/2.0/user"),
            Lookup::NoMethod { .. }
        ));
        assert!(matches!(
            SPEC.lookup("POST", "/site/oauth2/access_token"),
            Lookup::Unspecified
        ));
    }
}
