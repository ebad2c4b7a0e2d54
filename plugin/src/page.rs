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

use crate::bounds::CURSOR_CHARS;
use crate::endpoint::{Endpoint, Upstream, answer_of};
use crate::error::Error;
use crate::quote::quote;
use crate::types::PageRequest;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A first-page request with Bitbucket's defaults.
pub fn first_page() -> PageRequest {
    PageRequest {
        cursor: None,
        size: None,
        pages: None,
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
    /// Bitbucket's partial response (`fields=`) every page is asked with:
    /// only what the listing reads comes over the wire and is decoded.
    /// Kept out of cursors and added to each request.
    pub fields: Option<&'static str>,
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
            fields: None,
        }
    }

    /// The listing, asking each page for `fields` only.
    pub const fn fields(self, fields: &'static str) -> Listing {
        Listing {
            fields: Some(fields),
            ..self
        }
    }

    /// `endpoint` with the listing's partial-response fields, if it has any.
    fn narrowed(&self, endpoint: Endpoint) -> Endpoint {
        match self.fields {
            Some(fields) => endpoint.query("fields", fields),
            None => endpoint,
        }
    }

    fn takes(&self, key: &str) -> bool {
        matches!(key, "page" | "pagelen")
            || (key == "q" && self.filter)
            || (key == "sort" && self.sort)
            || self.params.contains(&key)
    }
}

/// Most pages one call fetches (`page.pages`). At 100 items a page that is
/// 2,000 items, a few MiB inside the sandbox's memory limit.
pub const MAX_PAGES_PER_CALL: u32 = 20;

/// The pages `page` asks for from `endpoint`, mapped through `map`, and the
/// cursor of the page after them.
///
/// The first page is fetched alone. When its answer gives the listing's
/// `size` and its `next` numbers the pages, the rest are known in advance
/// and go out together (`Upstream::send_all`, a bounded few in flight);
/// otherwise each `next` is followed in turn. A later page that fails ends
/// the call with what came before it and a cursor that starts at it, so
/// nothing fetched is lost and the caller's next call meets the failure.
pub fn fetch<T, U>(
    upstream: &dyn Upstream,
    endpoint: Endpoint,
    page: Option<&PageRequest>,
    listing: Listing,
    mut map: impl FnMut(T) -> U,
) -> Result<(Vec<U>, Option<String>), Error>
where
    T: DeserializeOwned,
{
    let wanted = pages_wanted(page)?;
    let first_endpoint = apply(endpoint, page, listing)?;
    let first: Paginated<T> = upstream.json(&listing.narrowed(first_endpoint.clone()))?;
    let mut next = next_cursor(&first_endpoint, &first, listing);
    let known = Known {
        total: first.size,
        pagelen: first.pagelen,
    };
    let mut items: Vec<U> = first.values.into_iter().map(&mut map).collect();
    let mut fetched = 1;
    while fetched < wanted {
        let Some(cursor) = next.take() else { break };
        let query = decode_cursor(&cursor, listing)?;
        let batch = numbered_pages(&query, known, wanted - fetched).map_or_else(
            || vec![first_endpoint.clone().with_raw_query(query.clone())],
            |queries| {
                queries
                    .into_iter()
                    .map(|query| first_endpoint.clone().with_raw_query(query))
                    .collect()
            },
        );
        let sent: Vec<Endpoint> = batch.iter().cloned().map(|e| listing.narrowed(e)).collect();
        for (answer, endpoint) in upstream.send_all(&sent).into_iter().zip(&batch) {
            let answer = answer.and_then(|response| answer_of::<Paginated<T>>(endpoint, &response));
            let Ok(answer) = answer else {
                // Later answers of the batch are dropped: the cursor replays them.
                next = Some(encode_cursor(listing, endpoint.query_string()));
                return Ok((items, next));
            };
            next = next_cursor(endpoint, &answer, listing);
            items.extend(answer.values.into_iter().map(&mut map));
            fetched += 1;
            if next.is_none() {
                break;
            }
        }
    }
    Ok((items, next))
}

/// `page.pages`, within 1 to [`MAX_PAGES_PER_CALL`].
fn pages_wanted(page: Option<&PageRequest>) -> Result<u32, Error> {
    let wanted = page.and_then(|page| page.pages).unwrap_or(1);
    if !(1..=MAX_PAGES_PER_CALL).contains(&wanted) {
        return Err(Error::validation(
            "page.pages",
            format!("must be from 1 to {MAX_PAGES_PER_CALL}"),
        ));
    }
    Ok(wanted)
}

/// The queries of up to `count` pages from `next` on, when `next` numbers
/// its page and the listing's total is known: the same query with each page
/// number in turn, up to the last page the total allows.
fn numbered_pages(next: &str, known: Known, count: u32) -> Option<Vec<String>> {
    let total = known.total?;
    let number = |key: &str| {
        next.split('&')
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
            .and_then(|value| value.parse::<u64>().ok())
    };
    let from = number("page")?;
    let pagelen = number("pagelen").or(known.pagelen.map(u64::from))?;
    if from == 0 || pagelen == 0 {
        return None;
    }
    let last = total.div_ceil(pagelen).min(from + u64::from(count) - 1);
    if last < from {
        return None;
    }
    let with_page = |page: u64| {
        next.split('&')
            .map(|pair| {
                if pair.starts_with("page=") {
                    format!("page={page}")
                } else {
                    pair.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    Some((from..=last).map(with_page).collect())
}

/// What the first page said about the whole listing.
#[derive(Clone, Copy)]
struct Known {
    total: Option<u64>,
    pagelen: Option<u32>,
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
            pages: None,
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

    fn pages(count: u32) -> PageRequest {
        PageRequest {
            size: Some(2),
            pages: Some(count),
            ..page(None, None)
        }
    }

    /// Bitbucket's answer for page `n` of a 5-item listing in pages of 2.
    fn numbered(n: u32, total: Option<u64>) -> serde_json::Value {
        let items: Vec<u32> = ((n - 1) * 2 + 1..=(n * 2).min(5)).collect();
        let mut answer = json!({"values": items, "page": n, "pagelen": 2});
        if let Some(total) = total {
            answer["size"] = json!(total);
        }
        if n < 3 {
            answer["next"] = json!(format!(
                "https://api.bitbucket.org/2.0/x?role=admin&pagelen=2&page={}",
                n + 1
            ));
        }
        answer
    }

    fn queries(script: &Script) -> Vec<String> {
        script
            .sent
            .borrow()
            .iter()
            .map(|e| e.query_string().to_owned())
            .collect()
    }

    #[test]
    fn with_a_known_total_the_later_pages_are_asked_for_together() {
        let script = Script::new()
            .ok(numbered(1, Some(5)))
            .ok(numbered(2, Some(5)))
            .ok(numbered(3, Some(5)));
        let endpoint = Endpoint::get(ApiPath::new("x")).query("role", "admin");
        let (items, next) = fetch(&script, endpoint, Some(&pages(20)), REPOS, |v: u32| v).unwrap();
        assert_eq!(items, [1, 2, 3, 4, 5]);
        assert_eq!(next, None);
        assert_eq!(
            queries(&script),
            [
                "role=admin&pagelen=2",
                "role=admin&pagelen=2&page=2",
                "role=admin&pagelen=2&page=3"
            ]
        );
    }

    #[test]
    fn pages_stop_at_the_count_asked_and_the_cursor_goes_on_from_there() {
        let script = Script::new()
            .ok(numbered(1, Some(5)))
            .ok(numbered(2, Some(5)));
        let endpoint = Endpoint::get(ApiPath::new("x")).query("role", "admin");
        let (items, next) = fetch(&script, endpoint, Some(&pages(2)), REPOS, |v: u32| v).unwrap();
        assert_eq!(items, [1, 2, 3, 4]);
        assert_eq!(script.requests_sent(), 2);
        let rest = apply(
            Endpoint::get(ApiPath::new("x")),
            Some(&page(next, None)),
            REPOS,
        )
        .unwrap();
        assert_eq!(rest.query_string(), "role=admin&pagelen=2&page=3");
    }

    #[test]
    fn without_a_total_each_next_is_followed_in_turn() {
        let script = Script::new()
            .ok(numbered(1, None))
            .ok(numbered(2, None))
            .ok(numbered(3, None));
        let endpoint = Endpoint::get(ApiPath::new("x")).query("role", "admin");
        let (items, next) = fetch(&script, endpoint, Some(&pages(20)), REPOS, |v: u32| v).unwrap();
        assert_eq!(items, [1, 2, 3, 4, 5]);
        assert_eq!(next, None);
        assert_eq!(script.requests_sent(), 3);
    }

    #[test]
    fn a_later_page_that_fails_ends_the_call_with_the_items_before_it() {
        let script = Script::new()
            .ok(numbered(1, Some(5)))
            .answer(Err(Error::unavailable(
                "Bitbucket answered HTTP 503",
                Some(503),
            )))
            .ok(numbered(3, Some(5)));
        let endpoint = Endpoint::get(ApiPath::new("x")).query("role", "admin");
        let (items, next) = fetch(&script, endpoint, Some(&pages(20)), REPOS, |v: u32| v).unwrap();
        assert_eq!(
            items,
            [1, 2],
            "page 3 arrived after the failure and is replayed"
        );
        let again = apply(
            Endpoint::get(ApiPath::new("x")),
            Some(&page(next, None)),
            REPOS,
        )
        .unwrap();
        assert_eq!(again.query_string(), "role=admin&pagelen=2&page=2");
    }

    #[test]
    fn a_first_page_that_fails_fails_the_call() {
        let script = Script::new().answer(Err(Error::unavailable("down", Some(503))));
        let result = fetch(
            &script,
            Endpoint::get(ApiPath::new("x")),
            Some(&pages(5)),
            REPOS,
            |v: u32| v,
        );
        assert!(matches!(result, Err(Error::UpstreamUnavailable(_))));
    }

    #[test]
    fn a_page_count_outside_the_bounds_is_refused_before_sending() {
        for count in [0, MAX_PAGES_PER_CALL + 1] {
            let script = Script::new();
            let result = fetch(
                &script,
                Endpoint::get(ApiPath::new("x")),
                Some(&pages(count)),
                REPOS,
                |v: u32| v,
            );
            let Err(Error::Validation(e)) = result else {
                panic!("{count} pages accepted");
            };
            assert_eq!(e.field, "page.pages");
            assert_eq!(script.requests_sent(), 0);
        }
    }
}
