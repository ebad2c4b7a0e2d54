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
    headers: Vec<(&'static str, String)>,
}

impl Endpoint {
    pub fn new(method: Method, path: ApiPath) -> Self {
        Self {
            method,
            path,
            query: String::new(),
            body: None,
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
        Ok(self)
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
}
