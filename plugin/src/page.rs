//! Bitbucket's paginated envelope and the contract's page request and cursor.
//!
//! A cursor is `{tag}?{query}`, base64url-encoded: the tag of the listing
//! that issued it and Bitbucket's own `next` link reduced to its query
//! string. Only the query travels: the path is rebuilt from the request every
//! time, so a forged cursor cannot point the tenant's credential at another
//! endpoint or host. And only the parameters its listing sends travel:
//! `page` (a number, or an opaque token on listings that page by hash),
//! `pagelen` within the listing's bounds, `q` and `sort` where the listing
//! takes them, and the listing's own filters. A cursor carrying anything
//! else, asking for a page size outside the bounds, or issued by another
//! listing is refused by name (`page.cursor`) rather than cleaned: it was
//! not issued by this component, and a silent repair would hide that.
//! Cursors are not signed; the tag catches a cursor passed to the wrong
//! operation, the allowlist is what keeps a forged one harmless.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::limits::CURSOR_CHARS;
use crate::quote::quote;
use crate::types::PageRequest;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A first-page request with Bitbucket's defaults.
pub fn first_page() -> PageRequest {
    PageRequest {
        cursor: None,
        size: None,
        q: None,
        sort: None,
    }
}

/// `{size, page, pagelen, next, previous, values}`
#[derive(Deserialize)]
pub struct Paginated<T> {
    #[serde(default = "Vec::new")]
    pub values: Vec<T>,
    pub next: Option<String>,
    pub page: Option<u32>,
    pub pagelen: Option<u32>,
    /// The total, when Bitbucket computed it.
    pub size: Option<u64>,
}

/// What a listing endpoint accepts besides `page` and `pagelen`.
#[derive(Clone, Copy)]
pub struct Listing {
    /// Names the listing inside its cursors, so another listing refuses them.
    pub tag: &'static str,
    /// The listing's own query parameters (filters), which Bitbucket's
    /// `next` carries along.
    pub params: &'static [&'static str],
    /// Accepts BBQL `q`.
    pub filter: bool,
    /// Accepts `sort`.
    pub sort: bool,
    /// Bitbucket omits `next` on some full pages (BCLOUD-20639): page by number.
    pub number_pages_when_next_missing: bool,
    /// Larger page sizes are lowered to this (pull requests cap at 50).
    pub max_size: u32,
}

impl Listing {
    /// A listing that takes `q`, `sort` and its own `params`, up to 100 a page.
    pub const fn new(tag: &'static str, params: &'static [&'static str]) -> Listing {
        Listing {
            tag,
            params,
            filter: true,
            sort: true,
            number_pages_when_next_missing: false,
            max_size: MAX_PAGE_SIZE,
        }
    }

    fn takes(&self, key: &str) -> bool {
        matches!(key, "page" | "pagelen")
            || (key == "q" && self.filter)
            || (key == "sort" && self.sort)
            || self.params.contains(&key)
    }
}

/// One page of `T` from `endpoint`, mapped through `map`, and the cursor of the next.
pub fn fetch<T, U>(
    upstream: &dyn Upstream,
    endpoint: Endpoint,
    page: Option<&PageRequest>,
    listing: Listing,
    map: impl FnMut(T) -> U,
) -> Result<(Vec<U>, Option<String>), Error>
where
    T: DeserializeOwned,
{
    let endpoint = apply(endpoint, page, listing)?;
    let answer: Paginated<T> = upstream.json(&endpoint)?;
    let next = next_cursor(&endpoint, &answer, listing);
    Ok((answer.values.into_iter().map(map).collect(), next))
}

/// Adds the page request to `endpoint`: the cursor's query when there is a
/// cursor, else `pagelen`, `q` and `sort`.
pub fn apply(
    endpoint: Endpoint,
    page: Option<&PageRequest>,
    listing: Listing,
) -> Result<Endpoint, Error> {
    let Some(page) = page else {
        return Ok(endpoint.query(
            "pagelen",
            DEFAULT_PAGE_SIZE.min(listing.max_size).to_string(),
        ));
    };
    let size = page.size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(Error::validation(
            "page.size",
            format!("must be from 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    if page.q.is_some() && !listing.filter {
        return Err(Error::validation(
            "page.q",
            "this listing does not accept a BBQL filter; use its own filter parameters",
        ));
    }
    if page.sort.is_some() && !listing.sort {
        return Err(Error::validation(
            "page.sort",
            "this listing cannot be sorted",
        ));
    }
    if let Some(cursor) = &page.cursor {
        return Ok(endpoint.with_raw_query(decode_cursor(cursor, listing)?));
    }
    Ok(endpoint
        .query("pagelen", size.min(listing.max_size).to_string())
        .query_opt("q", page.q.as_deref().filter(|q| !q.trim().is_empty()))
        .query_opt(
            "sort",
            page.sort.as_deref().filter(|s| !s.trim().is_empty()),
        ))
}

pub fn next_cursor<T>(
    endpoint: &Endpoint,
    answer: &Paginated<T>,
    listing: Listing,
) -> Option<String> {
    if let Some(next) = &answer.next {
        let query = next.split_once('?').map_or("", |(_, query)| query);
        return Some(encode_cursor(listing, query));
    }
    if !listing.number_pages_when_next_missing {
        return None;
    }
    let (page, pagelen) = (answer.page?, answer.pagelen?);
    if answer.values.is_empty() || (answer.values.len() as u32) < pagelen {
        return None;
    }
    let query: Vec<&str> = endpoint
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("page="))
        .collect();
    let mut query = query.join("&");
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(&format!("page={}", page + 1));
    Some(encode_cursor(listing, &query))
}

/// The cursor of `query` for `listing`, holding only what [`decode_cursor`]
/// accepts: a parameter Bitbucket added that the listing does not send is
/// left out, a page size beyond the listing's bounds is lowered to them.
pub fn encode_cursor(listing: Listing, query: &str) -> String {
    let kept: Vec<String> = query
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !listing.takes(key) {
                return None;
            }
            if key == "pagelen" {
                let size = value.parse::<u32>().ok()?.clamp(1, listing.max_size);
                return Some(format!("pagelen={size}"));
            }
            Some(pair.to_owned())
        })
        .collect();
    URL_SAFE_NO_PAD.encode(format!("{}?{}", listing.tag, kept.join("&")))
}

/// The query a cursor of `listing` carries, or a validation error on
/// `page.cursor` when it is not one this listing issued.
pub fn decode_cursor(cursor: &str, listing: Listing) -> Result<String, Error> {
    let refuse = |why: String| Error::validation("page.cursor", why);
    let invalid = || refuse("is not a cursor this component issued".to_owned());
    if cursor.len() > CURSOR_CHARS {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (tag, query) = text.split_once('?').ok_or_else(invalid)?;
    if tag != listing.tag {
        return Err(refuse(format!(
            "belongs to another listing ('{}'), not to this one ('{}')",
            quote(tag),
            listing.tag
        )));
    }
    let url_safe = query
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%&=+:,!*'()$/@;{}".contains(&b));
    if query.is_empty() || !url_safe {
        return Err(invalid());
    }
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !listing.takes(key) {
            return Err(refuse(format!(
                "carries '{}', which this listing does not send",
                quote(key)
            )));
        }
        if key == "pagelen"
            && !value
                .parse::<u32>()
                .is_ok_and(|size| (1..=listing.max_size).contains(&size))
        {
            return Err(refuse(format!(
                "asks for a page size outside 1 to {}",
                listing.max_size
            )));
        }
    }
    Ok(query.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::script::Script;
    use crate::path::ApiPath;

    const REPOS: Listing = Listing::new("repositories", &["role"]);
    const PULLS: Listing = Listing {
        max_size: 50,
        ..Listing::new("pullrequests", &["state"])
    };

    fn page(cursor: Option<String>, size: Option<u32>) -> PageRequest {
        PageRequest {
            cursor,
            size,
            q: None,
            sort: None,
        }
    }

    fn forged(listing: Listing, query: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}?{query}", listing.tag))
    }

    fn refusal(result: Result<Endpoint, Error>) -> (String, String) {
        match result {
            Err(Error::Validation(e)) => (e.field, e.message),
            Err(_) => panic!("expected a validation error"),
            Ok(endpoint) => panic!("accepted: {}", endpoint.query_string()),
        }
    }

    #[test]
    fn cursor_round_trips_the_query_only() {
        let answer: Paginated<u8> = Paginated {
            values: vec![1],
            next: Some("https://api.bitbucket.org/2.0/repositories/acme?role=admin&page=2&pagelen=50&q=name%20~%20%22a%22".into()),
            page: Some(1),
            pagelen: Some(50),
            size: None,
        };
        let endpoint = Endpoint::get(ApiPath::new("repositories/acme"));
        let cursor = next_cursor(&endpoint, &answer, REPOS).unwrap();
        let next = apply(endpoint, Some(&page(Some(cursor), None)), REPOS).unwrap();
        assert_eq!(
            next.query_string(),
            "role=admin&page=2&pagelen=50&q=name%20~%20%22a%22"
        );
        assert_eq!(next.path.as_str(), "/repositories/acme");
    }

    #[test]
    fn opaque_page_tokens_keep_working() {
        let commits = Listing {
            filter: false,
            sort: false,
            ..Listing::new("commits", &["include", "exclude", "path"])
        };
        let answer: Paginated<u8> = Paginated {
            values: vec![1],
            next: Some(
                "https://api.bitbucket.org/2.0/repositories/a/b/commits?include=main&page=dbtR"
                    .into(),
            ),
            page: None,
            pagelen: None,
            size: None,
        };
        let endpoint = || Endpoint::get(ApiPath::new("repositories/a/b/commits"));
        let cursor = next_cursor(&endpoint(), &answer, commits).unwrap();
        let next = apply(endpoint(), Some(&page(Some(cursor), None)), commits).unwrap();
        assert_eq!(next.query_string(), "include=main&page=dbtR");
    }

    #[test]
    fn forged_cursors_and_sizes_are_refused_by_field() {
        let endpoint = || Endpoint::get(ApiPath::new("x"));
        for (request, field) in [
            (
                page(Some(forged(REPOS, "a=1#@evil.example/")), None),
                "page.cursor",
            ),
            (page(Some("!!".into()), None), "page.cursor"),
            (
                page(Some(URL_SAFE_NO_PAD.encode("page=2")), None),
                "page.cursor",
            ),
            (page(None, Some(0)), "page.size"),
            (page(None, Some(101)), "page.size"),
        ] {
            assert_eq!(refusal(apply(endpoint(), Some(&request), REPOS)).0, field);
        }
    }

    #[test]
    fn a_cursor_asking_for_a_huge_page_or_a_foreign_parameter_is_never_sent() {
        for (listing, query, why) in [
            (REPOS, "page=2&pagelen=100000", "outside 1 to 100"),
            (REPOS, "page=2&pagelen=0", "outside 1 to 100"),
            (REPOS, "page=2&pagelen=ten", "outside 1 to 100"),
            (PULLS, "page=2&pagelen=51", "outside 1 to 50"),
            (
                REPOS,
                "page=2&pagelen=10&pagelen=100000",
                "outside 1 to 100",
            ),
            (REPOS, "page=2&state=MERGED", "carries 'state'"),
            (REPOS, "page=2&fields=%2Bvalues.owner", "carries 'fields'"),
            (REPOS, "page=2&%70agelen=100000", "carries '%70agelen'"),
            (PULLS, "page=2&role=owner", "carries 'role'"),
        ] {
            let script = Script::new().ok(json!({"values": []}));
            let request = page(Some(forged(listing, query)), None);
            let result = fetch(
                &script,
                Endpoint::get(ApiPath::new("x")),
                Some(&request),
                listing,
                |v: u8| v,
            );
            let Err(Error::Validation(e)) = result else {
                panic!("{query} should have been refused");
            };
            assert_eq!(e.field, "page.cursor");
            assert!(e.message.contains(why), "{query}: {}", e.message);
            assert_eq!(script.requests_sent(), 0, "{query} was sent");
        }
    }

    #[test]
    fn a_cursor_of_one_listing_is_refused_by_another() {
        let answer: Paginated<u8> = Paginated {
            values: vec![1],
            next: Some("https://api.bitbucket.org/2.0/x?page=2&pagelen=50".into()),
            page: None,
            pagelen: None,
            size: None,
        };
        let endpoint = || Endpoint::get(ApiPath::new("x"));
        let cursor = next_cursor(&endpoint(), &answer, PULLS).unwrap();
        let (field, message) = refusal(apply(
            endpoint(),
            Some(&page(Some(cursor.clone()), None)),
            REPOS,
        ));
        assert_eq!(field, "page.cursor");
        assert!(message.contains("another listing"), "{message}");
        assert!(apply(endpoint(), Some(&page(Some(cursor), None)), PULLS).is_ok());
    }

    #[test]
    fn issued_cursors_hold_only_what_the_listing_takes() {
        let answer: Paginated<u8> = Paginated {
            values: vec![1],
            next: Some(
                "https://api.bitbucket.org/2.0/x?state=OPEN&fields=values.id&pagelen=100&page=2"
                    .into(),
            ),
            page: None,
            pagelen: None,
            size: None,
        };
        let endpoint = || Endpoint::get(ApiPath::new("x"));
        let cursor = next_cursor(&endpoint(), &answer, PULLS).unwrap();
        let next = apply(endpoint(), Some(&page(Some(cursor), None)), PULLS).unwrap();
        assert_eq!(next.query_string(), "state=OPEN&pagelen=50&page=2");
    }

    #[test]
    fn full_page_without_next_pages_by_number_when_asked() {
        let listing = Listing {
            filter: false,
            number_pages_when_next_missing: true,
            ..Listing::new("pipelines", &[])
        };
        let answer: Paginated<u8> = Paginated {
            values: vec![1, 2],
            next: None,
            page: Some(3),
            pagelen: Some(2),
            size: None,
        };
        let endpoint = Endpoint::get(ApiPath::new("p"))
            .query("pagelen", "2")
            .query("page", "3");
        let cursor = next_cursor(&endpoint, &answer, listing).unwrap();
        assert_eq!(decode_cursor(&cursor, listing).unwrap(), "pagelen=2&page=4");
        let short: Paginated<u8> = Paginated {
            values: vec![1],
            next: None,
            page: Some(4),
            pagelen: Some(2),
            size: None,
        };
        assert!(next_cursor(&endpoint, &short, listing).is_none());
    }
}
