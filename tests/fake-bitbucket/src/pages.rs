//! Bitbucket's page envelope: `{size, page, pagelen, next, values}`, numbered
//! pages, `pagelen` defaulting to 10 and capped at 100, `next` an absolute
//! URL carrying the other query parameters along.

use axum::response::Response;
use serde_json::{Value, json};

use crate::errors;

pub const DEFAULT_PAGELEN: usize = 10;
pub const MAX_PAGELEN: usize = 100;

pub struct PageParams {
    pub page: usize,
    pub pagelen: usize,
}

impl PageParams {
    pub fn from_query(query: &[(String, String)]) -> Result<Self, Response> {
        let get = |key: &str| {
            query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let page = match get("page") {
            None => 1,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| errors::error(400, "Invalid page"))?,
        };
        let pagelen = match get("pagelen") {
            None => DEFAULT_PAGELEN,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(|| errors::error(400, "Invalid pagelen"))?,
        };
        Ok(Self {
            page,
            pagelen: pagelen.min(MAX_PAGELEN),
        })
    }
}

/// One page of `items`; `url` is the absolute URL of the listing, `query`
/// the request's query pairs (kept in `next`, `page` replaced).
pub fn page(
    items: Vec<Value>,
    params: &PageParams,
    url: &str,
    query: &[(String, String)],
) -> Value {
    page_of(items, params, url, query, |item| item)
}

/// `page`, rendering only the items on the page: a listing of thousands
/// costs what its page costs, not what the whole collection does.
pub fn page_of<T>(
    items: Vec<T>,
    params: &PageParams,
    url: &str,
    query: &[(String, String)],
    render: impl FnMut(T) -> Value,
) -> Value {
    let size = items.len();
    let start = (params.page - 1).saturating_mul(params.pagelen);
    let values: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(params.pagelen)
        .map(render)
        .collect();
    let mut body = json!({
        "size": size,
        "page": params.page,
        "pagelen": params.pagelen,
        "values": values,
    });
    if start + params.pagelen < size {
        body["next"] = json!(link(url, query, params.page + 1, params.pagelen));
    }
    if params.page > 1 {
        body["previous"] = json!(link(url, query, params.page - 1, params.pagelen));
    }
    body
}

fn link(url: &str, query: &[(String, String)], page: usize, pagelen: usize) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in query {
        if key != "page" && key != "pagelen" {
            serializer.append_pair(key, value);
        }
    }
    serializer.append_pair("pagelen", &pagelen.to_string());
    serializer.append_pair("page", &page.to_string());
    format!("{url}?{}", serializer.finish())
}
