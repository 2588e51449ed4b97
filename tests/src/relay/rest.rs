//! The relay's REST API from a test: plain HTTP requests through a real
//! client (`ureq`, run off the async runtime), and typed calls on
//! [`RelayProcess`] that parse the answers with `protocol::api`'s types.

use std::sync::OnceLock;

use protocol::api::{RegisterRequest, SessionInfo, ShareRequest, ShareResponse};
use protocol::Role;
use serde_json::Value;

use super::RelayProcess;
use crate::wait::DEADLINE;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body as received.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON, or as `Value::String` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as `T`; panics with the status and body if it is not one.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} answer is not a {}: {e}\n{}",
                self.status,
                std::any::type_name::<T>(),
                self.text()
            )
        })
    }

    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One HTTP request: `key` goes in `X-API-Key`, `body` is sent as JSON.
/// Blocks the thread; see [`fetch`] from async code.
pub fn fetch_blocking(method: &str, url: &str, key: Option<&str>, body: Option<&Value>) -> Reply {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    let sent = match body {
        Some(body) => client().run(
            request
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .expect("an HTTP request"),
        ),
        None => client().run(request.body(()).expect("an HTTP request")),
    };
    let mut response = sent.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"));
    Reply {
        status: response.status().as_u16(),
        headers,
        body,
    }
}

/// [`fetch_blocking`] from async code (on a blocking thread, so the
/// runtime keeps serving the test's sockets meanwhile).
pub async fn fetch(method: &str, url: &str, key: Option<&str>, body: Option<&Value>) -> Reply {
    let (method, url) = (method.to_owned(), url.to_owned());
    let (key, body) = (key.map(str::to_owned), body.cloned());
    tokio::task::spawn_blocking(move || {
        fetch_blocking(&method, &url, key.as_deref(), body.as_ref())
    })
    .await
    .expect("the HTTP request's thread")
}

/// An HTTP request answered with JSON: the status and the body (as
/// `Value::String` when it is not JSON).
pub async fn http(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let reply = fetch(method, url, key, body).await;
    (reply.status, reply.json())
}

/// One client for every request: statuses are answers, not errors; no
/// proxy (everything is on loopback); every request ends within the deadline.
fn client() -> &'static ureq::Agent {
    static CLIENT: OnceLock<ureq::Agent> = OnceLock::new();
    CLIENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_global(Some(DEADLINE))
            .build()
            .new_agent()
    })
}

impl RelayProcess {
    /// Registers a session for `key` over REST; returns its id.
    pub fn register_session(&self, key: &str, agent_type: &str) -> String {
        let request = RegisterRequest {
            agent_type: agent_type.into(),
            transport: Some("ws".into()),
            ..RegisterRequest::default()
        };
        let body = serde_json::to_value(request).expect("a register request");
        let url = format!("{}/api/v1/agent-instances", self.http_url());
        let reply = fetch_blocking("POST", &url, Some(key), Some(&body));
        assert!(
            reply.status == 200 || reply.status == 201,
            "register failed: {} {}",
            reply.status,
            reply.text()
        );
        reply.parse::<SessionInfo>().agent_instance_id
    }

    /// A REST call to `/api/v1/{path}` (e.g. `agent-instances`) with `key` in
    /// `X-API-Key`: the status and the body as JSON (see [`http`]).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}/api/v1/{path}", self.http_url());
        http(method, &url, Some(key), body).await
    }

    /// The session `id` as `key` sees it, or `None` when the relay does not
    /// show it (unknown, or not this key's).
    pub async fn session(&self, key: &str, id: &str) -> Option<SessionInfo> {
        let url = format!("{}/api/v1/agent-instances/{id}", self.http_url());
        let reply = fetch("GET", &url, Some(key), None).await;
        (reply.status == 200).then(|| reply.parse())
    }

    /// Every session of `key`'s user.
    pub async fn sessions(&self, key: &str) -> Vec<SessionInfo> {
        let url = format!("{}/api/v1/agent-instances", self.http_url());
        let reply = fetch("GET", &url, Some(key), None).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.parse()
    }

    /// Mints a share link for `session` with `role`, valid for `ttl_secs`.
    pub async fn share(
        &self,
        key: &str,
        session: &str,
        role: Role,
        ttl_secs: u64,
    ) -> ShareResponse {
        let body = serde_json::to_value(ShareRequest { role, ttl_secs }).expect("a share request");
        let url = format!("{}/api/v1/agent-instances/{session}/share", self.http_url());
        let reply = fetch("POST", &url, Some(key), Some(&body)).await;
        assert!(
            reply.status == 200 || reply.status == 201,
            "share failed: {} {}",
            reply.status,
            reply.text()
        );
        reply.parse()
    }

    /// The value of the Prometheus gauge or counter `name` (e.g.
    /// `tether_relay_viewers`) from `GET /metrics` (asked with the local-dev
    /// key: metrics need one); panics if it is missing.
    pub async fn metric(&self, name: &str) -> u64 {
        let url = format!("{}/metrics", self.http_url());
        let text = fetch("GET", &url, Some(&self.api_key()), None).await.text();
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} not in /metrics:\n{text}"))
    }
}
