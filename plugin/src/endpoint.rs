//! What an area asks of Bitbucket, kept apart from how it is sent: an
//! `Endpoint` (method, path, query, body), the `Response` it gets, and the
//! `Upstream` seam that sends one. The component sends through
//! `transport::Client`; unit tests answer from a script.

use http::Method;
use percent_encoding::utf8_percent_encode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::Error;
use crate::path::{ApiPath, UNRESERVED};

/// One upstream request, described without sending it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub method: Method,
    pub path: ApiPath,
    query: String,
    body: Option<Vec<u8>>,
    /// The body's media type: JSON unless a form set it.
    content_type: Option<String>,
    headers: Vec<(&'static str, String)>,
}

impl Endpoint {
    pub fn new(method: Method, path: ApiPath) -> Self {
        Self {
            method,
            path,
            query: String::new(),
            body: None,
            content_type: None,
            headers: Vec::new(),
        }
    }

    pub fn get(path: ApiPath) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: ApiPath) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn put(path: ApiPath) -> Self {
        Self::new(Method::PUT, path)
    }

    pub fn delete(path: ApiPath) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// An extra request header (`range`, a different `accept`...).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn query(mut self, key: &str, value: impl AsRef<str>) -> Self {
        if !self.query.is_empty() {
            self.query.push('&');
        }
        self.query.push_str(key);
        self.query.push('=');
        self.query
            .extend(utf8_percent_encode(value.as_ref(), UNRESERVED));
        self
    }

    pub fn query_opt(self, key: &str, value: Option<impl AsRef<str>>) -> Self {
        match value {
            Some(value) => self.query(key, value),
            None => self,
        }
    }

    /// Replaces the whole query with one Bitbucket produced (a `next` link).
    pub fn with_raw_query(mut self, query: String) -> Self {
        self.query = query;
        self
    }

    /// The JSON body.
    pub fn json(mut self, body: &impl Serialize) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::internal(format!("could not encode the request body: {e}")))?;
        self.body = Some(bytes);
        self.content_type = None;
        Ok(self)
    }

    /// A `multipart/form-data` body (see [`Form`]).
    pub fn form(mut self, form: &Form) -> Self {
        let (content_type, body) = form.encode();
        self.body = Some(body);
        self.content_type = Some(content_type);
        self
    }

    /// The body's `content-type`: `application/json` unless a form set it.
    pub fn content_type(&self) -> &str {
        self.content_type.as_deref().unwrap_or("application/json")
    }

    pub fn query_string(&self) -> &str {
        &self.query
    }

    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
    }
}

/// A `multipart/form-data` body (RFC 7578): plain fields, and file fields
/// (whose `Content-Disposition` carries a `filename`, which is how
/// Bitbucket's `POST R/src` tells a file from a meta field of the same
/// name). Values are bytes, sent as they are: the boundary is chosen so it
/// occurs in none of them, so any text (CRLFs, `--` lines, a would-be
/// boundary) round-trips.
#[derive(Clone, Debug, Default)]
pub struct Form {
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    value: Vec<u8>,
}

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    /// A plain field. Names must not hold `"`, CR or LF (the caller checks).
    pub fn field(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.parts.push(Part {
            name: name.to_owned(),
            filename: None,
            value: value.into(),
        });
        self
    }

    /// A file field named `name`, its `filename` the last `/` part of it.
    pub fn file(mut self, name: &str, content: impl Into<Vec<u8>>) -> Self {
        let filename = name.rsplit('/').next().unwrap_or(name).to_owned();
        self.parts.push(Part {
            name: name.to_owned(),
            filename: Some(filename),
            value: content.into(),
        });
        self
    }

    /// The `content-type` (with its boundary) and the body.
    pub fn encode(&self) -> (String, Vec<u8>) {
        let boundary = self.boundary();
        let mut body = Vec::new();
        for part in &self.parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
            if let Some(filename) = &part.filename {
                disposition.push_str(&format!("; filename=\"{filename}\""));
            }
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(b"\r\n");
            if part.filename.is_some() {
                body.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
            } else {
                body.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }

    /// A boundary that occurs in no value, name or file name: the first of
    /// a fixed sequence that nothing holds, so the same form always encodes
    /// the same way.
    fn boundary(&self) -> String {
        (0u64..)
            .map(|n| {
                format!(
                    "atom-form-{:016x}",
                    n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995
                )
            })
            .find(|boundary| {
                let needle = boundary.as_bytes();
                let held = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
                !self.parts.iter().any(|p| {
                    held(&p.value)
                        || held(p.name.as_bytes())
                        || p.filename.as_ref().is_some_and(|f| held(f.as_bytes()))
                })
            })
            .unwrap_or_default()
    }
}

/// A successful (2xx) upstream answer.
#[derive(Debug, Default)]
pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::unavailable(
                format!("Bitbucket answered JSON this component does not understand: {e}"),
                Some(self.status),
            )
        })
    }
}

/// Where the areas send their endpoints: Bitbucket through the sandbox, or a
/// script in a unit test.
pub trait Upstream {
    /// Sends `endpoint`; a non-2xx answer comes back as the contract's error.
    fn send(&self, endpoint: &Endpoint) -> Result<Response, Error>;

    /// Sends every endpoint and answers in the same order, each as `send`
    /// would. An upstream may have several in flight at once.
    fn send_all(&self, endpoints: &[Endpoint]) -> Vec<Result<Response, Error>> {
        endpoints.iter().map(|e| self.send(e)).collect()
    }

    fn config(&self) -> &Config;

    /// Requests that left for Bitbucket so far, retries and redirects included.
    fn requests_sent(&self) -> u32;
}

impl dyn Upstream + '_ {
    pub fn json<T: DeserializeOwned>(&self, endpoint: &Endpoint) -> Result<T, Error> {
        answer_of(endpoint, &self.send(endpoint)?)
    }

    /// Every endpoint's answer as JSON, in order; the first failure fails all.
    pub fn json_all<T: DeserializeOwned>(&self, endpoints: &[Endpoint]) -> Result<Vec<T>, Error> {
        self.send_all(endpoints)
            .into_iter()
            .zip(endpoints)
            .map(|(answer, endpoint)| answer_of(endpoint, &answer?))
            .collect()
    }
}

/// `response` to `endpoint` as JSON. A write that is not idempotent and
/// succeeded with an answer this component cannot read was done, but what it
/// made is lost: `outcome-unknown`, so nobody sends it again.
pub fn answer_of<T: DeserializeOwned>(
    endpoint: &Endpoint,
    response: &Response,
) -> Result<T, Error> {
    response.json().map_err(|error| {
        if endpoint.method.is_idempotent() {
            error
        } else {
            Error::outcome_unknown(&format!(
                "Bitbucket answered HTTP {} with a body this component cannot read",
                response.status
            ))
        }
    })
}

/// A scripted upstream for unit tests: answers in order and records every
/// endpoint it was sent.
#[cfg(test)]
pub mod script {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;

    #[derive(Default)]
    pub struct Script {
        config: Config,
        answers: RefCell<VecDeque<Result<Response, Error>>>,
        pub sent: RefCell<Vec<Endpoint>>,
    }

    impl Script {
        pub fn new() -> Self {
            Self::default()
        }

        /// Queues a 200 with `body` as JSON.
        pub fn ok(self, body: serde_json::Value) -> Self {
            self.answer(Ok(Response {
                status: 200,
                body: body.to_string().into_bytes(),
                ..Response::default()
            }))
        }

        pub fn answer(self, answer: Result<Response, Error>) -> Self {
            self.answers.borrow_mut().push_back(answer);
            self
        }

        /// The JSON body of the `i`th request sent.
        pub fn body(&self, i: usize) -> serde_json::Value {
            serde_json::from_slice(self.sent.borrow()[i].body().unwrap_or(b"null")).unwrap()
        }
    }

    impl Upstream for Script {
        fn send(&self, endpoint: &Endpoint) -> Result<Response, Error> {
            self.sent.borrow_mut().push(endpoint.clone());
            self.answers
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| Err(Error::internal("the script has no more answers")))
        }

        fn config(&self) -> &Config {
            &self.config
        }

        fn requests_sent(&self) -> u32 {
            self.sent.borrow().len() as u32
        }
    }

    /// Lets a test hand a borrowed script to code that opens its own upstream.
    impl Upstream for &Script {
        fn send(&self, endpoint: &Endpoint) -> Result<Response, Error> {
            (**self).send(endpoint)
        }

        fn config(&self) -> &Config {
            (**self).config()
        }

        fn requests_sent(&self) -> u32 {
            (**self).requests_sent()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        let endpoint = Endpoint::get(ApiPath::new("repositories/acme"))
            .query("q", r#"name ~ "api" AND is_private = true"#)
            .query("sort", "-updated_on");
        assert_eq!(
            endpoint.query_string(),
            "q=name%20~%20%22api%22%20AND%20is_private%20%3D%20true&sort=-updated_on"
        );
    }

    /// A strict RFC 7578 reading: the body split at `CRLF--boundary`, each
    /// part's headers up to the first blank line, its value the rest.
    fn parse(content_type: &str, body: &[u8]) -> Vec<(String, Option<String>, Vec<u8>)> {
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let delimiter = format!("\r\n--{boundary}");
        let mut rest = body
            .strip_prefix(format!("--{boundary}\r\n").as_bytes())
            .unwrap()
            .to_vec();
        let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
        let mut parts = Vec::new();
        loop {
            let end = find(&rest, delimiter.as_bytes()).expect("a closing delimiter");
            let part = &rest[..end];
            let split = find(part, b"\r\n\r\n").unwrap();
            let headers = String::from_utf8(part[..split].to_vec()).unwrap();
            let value = part[split + 4..].to_vec();
            let disposition = headers
                .lines()
                .find(|l| l.starts_with("Content-Disposition"))
                .unwrap();
            let quoted = |key: &str| {
                let start = disposition.find(&format!("{key}=\""))? + key.len() + 2;
                let len = disposition[start..].find('"')?;
                Some(disposition[start..start + len].to_owned())
            };
            parts.push((quoted("name").unwrap(), quoted("filename"), value));
            let after = &rest[end + delimiter.len()..];
            if after.starts_with(b"--\r\n") {
                assert_eq!(after.len(), 4, "nothing after the close");
                return parts;
            }
            rest = after.strip_prefix(b"\r\n").unwrap().to_vec();
        }
    }

    #[test]
    fn a_form_round_trips_any_text_whatever_it_holds() {
        // The boundary a form would use, planted in the values.
        let probe = Form::new().field("message", "m");
        let (probe_type, _) = probe.encode();
        let planted = probe_type.rsplit('=').next().unwrap().to_owned();
        let nasty =
            format!("line one\r\n--{planted}\r\n\r\n--{planted}--\r\nunicode: é ✓ \0 end\r\n");
        let form = Form::new()
            .field("message", nasty.clone())
            .field("files", "/gone.md")
            .file("/docs/x.md", nasty.clone())
            .file("/empty.txt", "");
        let (content_type, body) = form.encode();
        assert!(
            !content_type.ends_with(&planted),
            "the boundary moved off the value"
        );
        assert_eq!(
            parse(&content_type, &body),
            vec![
                ("message".to_owned(), None, nasty.clone().into_bytes()),
                ("files".to_owned(), None, b"/gone.md".to_vec()),
                (
                    "/docs/x.md".to_owned(),
                    Some("x.md".to_owned()),
                    nasty.into_bytes()
                ),
                (
                    "/empty.txt".to_owned(),
                    Some("empty.txt".to_owned()),
                    Vec::new()
                ),
            ]
        );
        // The same form encodes the same way.
        assert_eq!(form.encode(), (content_type, body));
    }

    #[test]
    fn a_form_sets_its_content_type_and_json_stays_the_default() {
        let path = ApiPath::new("repositories/a/b/src");
        let json = Endpoint::post(path.clone())
            .json(&serde_json::json!({}))
            .unwrap();
        assert_eq!(json.content_type(), "application/json");
        let form = Endpoint::post(path).form(&Form::new().field("message", "m"));
        assert!(
            form.content_type()
                .starts_with("multipart/form-data; boundary=atom-form-")
        );
    }
}
