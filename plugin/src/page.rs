//! Bitbucket's paginated envelope and the contract's page request and cursor.
//!
//! A cursor is Bitbucket's own `next` link reduced to its query string and
//! base64url-encoded. Only the query travels: the path is rebuilt from the
//! request every time, so a forged cursor cannot point the tenant's
//! credential at another endpoint or host.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::types::PageRequest;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 100;
const MAX_CURSOR_LEN: usize = 4096;

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
    pub const FULL: Listing = Listing {
        filter: true,
        sort: true,
        number_pages_when_next_missing: false,
        max_size: MAX_PAGE_SIZE,
    };
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
        return Ok(endpoint.with_raw_query(decode_cursor(cursor)?));
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
        return Some(encode_cursor(
            next.split_once('?').map_or("", |(_, query)| query),
        ));
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
    Some(encode_cursor(&query))
}

pub fn encode_cursor(query: &str) -> String {
    URL_SAFE_NO_PAD.encode(query)
}

pub fn decode_cursor(cursor: &str) -> Result<String, Error> {
    let invalid = || Error::validation("page.cursor", "is not a cursor this component issued");
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    let query = String::from_utf8(bytes).map_err(|_| invalid())?;
    let url_safe = query
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%&=+:,!*'()$/@;{}".contains(&b));
    if query.is_empty() || !url_safe {
        return Err(invalid());
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::ApiPath;

    fn page(cursor: Option<String>, size: Option<u32>) -> PageRequest {
        PageRequest {
            cursor,
            size,
            q: None,
            sort: None,
        }
    }

    #[test]
    fn cursor_round_trips_the_query_only() {
        let answer: Paginated<u8> = Paginated {
            values: vec![1],
            next: Some("https://api.bitbucket.org/2.0/repositories/acme?page=2&pagelen=50&q=name%20~%20%22a%22".into()),
            page: Some(1),
            pagelen: Some(50),
            size: None,
        };
        let endpoint = Endpoint::get(ApiPath::new("repositories/acme"));
        let cursor = next_cursor(&endpoint, &answer, Listing::FULL).unwrap();
        let next = apply(endpoint, Some(&page(Some(cursor), None)), Listing::FULL).unwrap();
        assert_eq!(
            next.query_string(),
            "page=2&pagelen=50&q=name%20~%20%22a%22"
        );
        assert_eq!(next.path.as_str(), "/repositories/acme");
    }

    #[test]
    fn forged_cursors_and_sizes_are_refused_by_field() {
        let endpoint = || Endpoint::get(ApiPath::new("x"));
        let forged = URL_SAFE_NO_PAD.encode("a=1#@evil.example/");
        for (request, field) in [
            (page(Some(forged), None), "page.cursor"),
            (page(Some("!!".into()), None), "page.cursor"),
            (page(None, Some(0)), "page.size"),
            (page(None, Some(101)), "page.size"),
        ] {
            match apply(endpoint(), Some(&request), Listing::FULL) {
                Err(Error::Validation(e)) => assert_eq!(e.field, field),
                _ => panic!("{field} should have been refused"),
            }
        }
    }

    #[test]
    fn full_page_without_next_pages_by_number_when_asked() {
        let listing = Listing {
            filter: false,
            sort: true,
            number_pages_when_next_missing: true,
            max_size: MAX_PAGE_SIZE,
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
        assert_eq!(decode_cursor(&cursor).unwrap(), "pagelen=2&page=4");
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
