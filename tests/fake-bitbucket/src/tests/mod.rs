//! The fake over real HTTP on 127.0.0.1: routes, shapes, state machines and
//! webhook deliveries, as a client sees them.

mod commit_src;
mod deployments;
mod faults;
mod git;
mod history;
mod hooks;
mod pipelines;
mod projects;
mod pullrequests;
mod repositories;
mod review;
mod settings;
mod source;
mod spec;
mod tags;
mod tracker;
mod variables;

use axum::http::{HeaderMap, Method, Request, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::{ADA_TOKEN, FakeBitbucket, GRACE_TOKEN};

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Api {
    pub fake: FakeBitbucket,
}

impl Api {
    pub async fn start() -> Self {
        let fake = FakeBitbucket::start().await.expect("the fake starts");
        // The tests' webhook receivers listen on 127.0.0.1.
        fake.control().allow_loopback_webhooks = true;
        Self { fake }
    }

    /// A request to `path` (absolute URL or a path on the fake) as `token`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let (content_type, body) = match body {
            Some(body) => (Some("application/json"), Bytes::from(body.to_string())),
            None => (None, Bytes::new()),
        };
        self.send(method, path, token, content_type, body, headers)
            .await
    }

    /// A request with a raw body of `content_type`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.fake.base_url())
        };
        let mut request = Request::builder().method(method).uri(url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let response = client
            .request(request.body(Full::new(body)).unwrap())
            .await
            .expect("the fake answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, Some(ADA_TOKEN), None, &[])
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(ADA_TOKEN), Some(body), &[])
            .await
    }

    pub async fn post_as_grace(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(GRACE_TOKEN), Some(body), &[])
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(ADA_TOKEN), Some(body), &[])
            .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, Some(ADA_TOKEN), None, &[])
            .await
    }
}

pub const PLUGIN: &str = "/2.0/repositories/atom-labs/bitbucket-plugin";
pub const SERVICE: &str = "/2.0/repositories/acme/api-service-00";

/// The `values` of a page.
pub fn values(page: &Value) -> Vec<Value> {
    page["values"].as_array().cloned().unwrap_or_default()
}

pub fn strings(page: &Value, field: &str) -> Vec<String> {
    values(page)
        .iter()
        .map(|v| {
            field
                .split('.')
                .fold(v, |v, key| &v[key])
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}
