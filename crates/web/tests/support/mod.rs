//! An in-process server for HTTP tests: the real router over a real relay (UDP on port 0) and
//! a real SQLite store in a temporary directory, with a manual clock.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use streamhard_relay::{DestinationSettings, IngestConfig, Relay, RelayConfig};
use streamhard_store::{Store, Timestamp};
use streamhard_web::{AppState, Clock, WebConfig, app};
use tower::ServiceExt;

pub const HOST: &str = "relay.test";
pub const ORIGIN: &str = "http://relay.test";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub state: AppState,
    pub clock: Clock,
    _dir: tempfile::TempDir,
}

/// The answer to one request, body read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    /// The `error` code of a `{error, message}` body; checks there is a message too.
    pub fn error(&self) -> String {
        let v = self.json();
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {}", self.body))
            .to_owned()
    }

    /// The session cookie set by this answer (`name=value`).
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("streamhard_session="))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
    }
}

/// Permissive settings for tests: private destinations allowed (they are local RTMP ports).
pub fn config() -> WebConfig {
    WebConfig {
        allow_private_destinations: true,
        max_destinations: 4,
        ..WebConfig::default()
    }
}

impl TestApp {
    pub async fn start() -> Self {
        Self::with_config(config()).await
    }

    pub async fn with_config(config: WebConfig) -> Self {
        let relay = Relay::start(RelayConfig {
            ingest: IngestConfig {
                udp_bind: "127.0.0.1:0".parse().unwrap(),
                candidates: streamhard_relay::CandidatePolicy::all_interfaces(),
                keyframe_interval: Duration::from_secs(2),
                start_bitrate_kbps: 2500,
                pipeline: Default::default(),
                limits: Default::default(),
            },
            destination: DestinationSettings {
                allow_private: true,
                max_failures: 1,
                ..Default::default()
            },
            publisher_grace: Duration::from_secs(30),
        })
        .await
        .expect("relay");
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("streamhard.db"))
            .await
            .expect("store");
        let clock = Clock::manual(Timestamp::now());
        let state = AppState::new(Arc::clone(&relay), store, config).with_clock(clock.clone());
        Self {
            state,
            clock,
            _dir: dir,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = app(self.state.clone()).oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// A browser on our own page, not logged in yet, from `ip`.
    pub fn browser(&self, ip: &str) -> Agent {
        Agent {
            ip: format!("{ip}:40000").parse().unwrap(),
            cookie: None,
            origin: Some(ORIGIN.to_owned()),
        }
    }

    /// Signs up `email` and returns its logged-in browser.
    pub async fn user(&self, email: &str) -> Agent {
        let mut agent = self.browser("192.0.2.10");
        let reply = self
            .send(agent.post(
                "/api/auth/signup",
                json!({"name": "Test User", "email": email, "password": PASSWORD}),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        agent.cookie = Some(
            reply
                .session_cookie()
                .expect("signup sets the session cookie"),
        );
        agent
    }

    pub async fn login(&self, agent: &mut Agent, email: &str, password: &str) -> Reply {
        let reply = self
            .send(agent.post(
                "/api/auth/login",
                json!({"email": email, "password": password}),
            ))
            .await;
        if let Some(cookie) = reply.session_cookie() {
            agent.cookie = Some(cookie);
        }
        reply
    }

    /// Creates a broadcast as `agent`; returns (id, whip path, token).
    pub async fn broadcast(&self, agent: &Agent, urls: &[&str]) -> (String, String, String) {
        let reply = self
            .send(agent.post("/api/broadcasts", destinations(urls)))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let v = reply.json();
        let whip = v["whip_url"]
            .as_str()
            .unwrap()
            .trim_start_matches(ORIGIN)
            .to_owned();
        (
            v["id"].as_str().unwrap().to_owned(),
            whip,
            v["token"].as_str().unwrap().to_owned(),
        )
    }
}

pub fn destinations(urls: &[&str]) -> Value {
    json!({"destinations": urls.iter().enumerate().map(|(i, u)| json!({"name": format!("d{i}"), "url": u})).collect::<Vec<_>>()})
}

/// A client: its address, its session cookie, and the `Origin` its browser sends.
#[derive(Clone, Debug)]
pub struct Agent {
    pub ip: SocketAddr,
    pub cookie: Option<String>,
    pub origin: Option<String>,
}

impl Agent {
    pub fn request(&self, method: Method, path: &str, body: Option<Value>) -> Request<Body> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, HOST);
        if let Some(cookie) = &self.cookie {
            req = req.header(header::COOKIE, cookie);
        }
        let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        if let (Some(origin), true) = (&self.origin, unsafe_method) {
            req = req.header(header::ORIGIN, origin);
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        req.extensions_mut().insert(ConnectInfo(self.ip));
        req
    }

    pub fn get(&self, path: &str) -> Request<Body> {
        self.request(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> Request<Body> {
        self.request(Method::POST, path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Request<Body> {
        self.request(Method::DELETE, path, None)
    }
}

pub fn bearer(method: Method, path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}
