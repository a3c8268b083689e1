//! `/api/me/studio` and `/api/me/logo` over HTTP, in-process: what is saved comes back to its
//! owner only, every limit answers a 4xx with a reason, and refused requests change nothing.

mod support;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::{Agent, HOST, TestApp};
use tower::ServiceExt;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
const GIF: &[u8] = b"GIF89a\x01\0\x01\0\x80\0\0\xff\xff\xff\0\0\0!\xf9\x04\x01";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";

/// An answer whose body is kept as bytes (a logo is not text).
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    /// The `error` code of a `{error, message}` body, and its message.
    fn error(&self) -> (String, String) {
        let v = self.json();
        let message = v["message"].as_str().unwrap_or_default().to_owned();
        assert!(!message.is_empty(), "{v}");
        (v["error"].as_str().unwrap().to_owned(), message)
    }
}

async fn send(app: &TestApp, req: Request<Body>) -> Raw {
    let res = streamhard_web::app(app.state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    Raw {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes().to_vec(),
    }
}

/// A request from `agent`'s browser with a body of `content_type`.
fn with_body(
    agent: &Agent,
    method: Method,
    path: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(cookie) = &agent.cookie {
        req = req.header(header::COOKIE, cookie);
    }
    if let Some(origin) = &agent.origin {
        req = req.header(header::ORIGIN, origin);
    }
    let mut req = req.body(body.into()).unwrap();
    req.extensions_mut().insert(ConnectInfo(agent.ip));
    req
}

fn put_settings(agent: &Agent, text: impl Into<String>) -> Request<Body> {
    with_body(
        agent,
        Method::PUT,
        "/api/me/studio",
        "application/json",
        text.into(),
    )
}

fn put_logo(agent: &Agent, content_type: &str, bytes: &[u8]) -> Request<Body> {
    with_body(
        agent,
        Method::PUT,
        "/api/me/logo",
        content_type,
        bytes.to_vec(),
    )
}

async fn settings_of(app: &TestApp, agent: &Agent) -> Value {
    let reply = send(app, agent.get("/api/me/studio")).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json()
}

#[tokio::test]
async fn settings_are_an_empty_object_until_saved_then_come_back_as_saved() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;

    let empty = send(&app, ann.get("/api/me/studio")).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.header(header::CONTENT_TYPE), "application/json");
    assert_eq!(empty.body, b"{}");

    let saved = json!({
        "bar": {"show": true, "text": "Live from Lyon ✓", "colour": "#112233"},
        "logo": {"position": "top-right", "size": 12.5},
        "ticker": {"show": false, "text": ""},
    });
    let reply = send(&app, put_settings(&ann, format!("{saved:#}"))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let stored = send(&app, ann.get("/api/me/studio")).await;
    assert_eq!(stored.json(), saved);
    // Stored re-serialised: compact with sorted keys, not the pretty text that was sent.
    assert!(
        stored
            .body
            .starts_with(br##"{"bar":{"colour":"#112233","show":true"##)
    );

    let replaced = json!({"clock": true});
    let reply = send(&app, put_settings(&ann, replaced.to_string())).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(settings_of(&app, &ann).await, replaced);
}

#[tokio::test]
async fn settings_that_are_not_a_bounded_json_object_are_refused_and_change_nothing() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let kept = json!({"title": "kept"});
    send(&app, put_settings(&ann, kept.to_string())).await;

    let nine_levels = (1..9).fold(json!({}), |inner, _| json!({ "a": inner }));
    let cases: Vec<(String, StatusCode, &str)> = vec![
        ("[1, 2]".into(), StatusCode::BAD_REQUEST, "JSON object"),
        ("\"text\"".into(), StatusCode::BAD_REQUEST, "JSON object"),
        (nine_levels.to_string(), StatusCode::BAD_REQUEST, "8 levels"),
        (
            json!({"ticker": "x".repeat(2001)}).to_string(),
            StatusCode::BAD_REQUEST,
            "2000 characters",
        ),
        (
            json!({"ticker": "x".repeat(16 * 1024)}).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "16 KiB",
        ),
    ];
    for (body, status, said) in cases {
        let reply = send(&app, put_settings(&ann, body.clone())).await;
        assert_eq!(reply.status, status, "{body:.60}");
        let (_, message) = reply.error();
        assert!(message.contains(said), "{message}");
    }

    let not_json = send(&app, put_settings(&ann, "{\"title\": ")).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    not_json.error();
    let as_text = with_body(
        &ann,
        Method::PUT,
        "/api/me/studio",
        "text/plain",
        kept.to_string(),
    );
    let reply = send(&app, as_text).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    reply.error();

    assert_eq!(settings_of(&app, &ann).await, kept);
}

#[tokio::test]
async fn a_logo_comes_back_byte_for_byte_with_safe_headers_and_a_working_etag() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    assert_eq!(
        send(&app, ann.get("/api/me/logo")).await.status,
        StatusCode::NOT_FOUND
    );

    let reply = send(&app, put_logo(&ann, "image/png", PNG)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let logo = send(&app, ann.get("/api/me/logo")).await;
    assert_eq!(logo.status, StatusCode::OK);
    assert_eq!(logo.body, PNG);
    assert_eq!(logo.header(header::CONTENT_TYPE), "image/png");
    assert_eq!(logo.header(header::CACHE_CONTROL), "private, no-cache");
    assert_eq!(logo.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(logo.header(header::CONTENT_DISPOSITION), "inline");
    let etag = logo.header(header::ETAG).to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let mut conditional = ann.get("/api/me/logo");
    conditional
        .headers_mut()
        .insert(header::IF_NONE_MATCH, etag.parse().unwrap());
    let unchanged = send(&app, conditional).await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    assert!(unchanged.body.is_empty());
    assert_eq!(unchanged.header(header::ETAG), etag);

    // A new image has a new tag, so the old one no longer matches.
    let reply = send(&app, put_logo(&ann, "image/gif", GIF)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let mut conditional = ann.get("/api/me/logo");
    conditional
        .headers_mut()
        .insert(header::IF_NONE_MATCH, etag.parse().unwrap());
    let replaced = send(&app, conditional).await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.body, GIF);
    assert_eq!(replaced.header(header::CONTENT_TYPE), "image/gif");
    assert_ne!(replaced.header(header::ETAG), etag);

    for _ in 0..2 {
        let reply = send(&app, ann.delete("/api/me/logo")).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    let gone = send(&app, ann.get("/api/me/logo")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    gone.error();
}

#[tokio::test]
async fn a_logo_of_512_kib_is_accepted_and_one_byte_more_is_refused_with_the_limit() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let mut bytes = PNG.to_vec();
    bytes.resize(512 * 1024, 0x42);
    let reply = send(&app, put_logo(&ann, "image/png", &bytes)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    let mut over = JPEG.to_vec();
    over.resize(512 * 1024 + 1, 0x42);
    let reply = send(&app, put_logo(&ann, "image/jpeg", &over)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let (code, message) = reply.error();
    assert_eq!(code, "logo_too_large");
    assert!(message.contains("512 KiB"), "{message}");

    assert_eq!(send(&app, ann.get("/api/me/logo")).await.body, bytes);
}

#[tokio::test]
async fn svg_unknown_types_and_files_that_are_not_what_they_claim_are_refused() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    send(&app, put_logo(&ann, "image/png", PNG)).await;

    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>";
    let cases: [(&str, &[u8]); 5] = [
        ("image/svg+xml", svg),
        ("image/png", svg),
        ("image/png", JPEG),
        ("application/octet-stream", PNG),
        ("image/webp", b"RIFF\x24\0\0\0WAVEfmt "),
    ];
    for (content_type, bytes) in cases {
        let reply = send(&app, put_logo(&ann, content_type, bytes)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        let (code, message) = reply.error();
        assert_eq!(code, "unsupported_image");
        assert!(
            message.contains("PNG, JPEG, WebP or GIF") || message.contains("is a JPEG image"),
            "{message}"
        );
    }

    let kept = send(&app, ann.get("/api/me/logo")).await;
    assert_eq!(kept.body, PNG);
    assert_eq!(kept.header(header::CONTENT_TYPE), "image/png");
}

#[tokio::test]
async fn without_a_login_every_endpoint_answers_401_and_a_bearer_token_does_not_count() {
    let app = TestApp::start().await;
    let anonymous = app.browser("192.0.2.20");
    let token = "a".repeat(64);
    let requests = || {
        [
            anonymous.get("/api/me/studio"),
            put_settings(&anonymous, "{}"),
            anonymous.get("/api/me/logo"),
            put_logo(&anonymous, "image/png", PNG),
            anonymous.delete("/api/me/logo"),
            support::bearer(Method::GET, "/api/me/studio", &token),
            support::bearer(Method::GET, "/api/me/logo", &token),
        ]
    };
    for req in requests() {
        let what = format!("{} {}", req.method(), req.uri());
        let reply = send(&app, req).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(reply.error().0, "unauthorized", "{what}");
    }
}

#[tokio::test]
async fn changes_from_another_site_are_refused_and_change_nothing() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    send(&app, put_settings(&ann, r#"{"title":"mine"}"#)).await;
    send(&app, put_logo(&ann, "image/png", PNG)).await;

    let mut forged = ann.clone();
    forged.origin = Some("https://evil.example".to_owned());
    for req in [
        put_settings(&forged, r#"{"title":"pwned"}"#),
        put_logo(&forged, "image/gif", GIF),
        forged.delete("/api/me/logo"),
    ] {
        let what = format!("{} {}", req.method(), req.uri());
        let reply = send(&app, req).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{what}");
        assert_eq!(reply.error().0, "cross_origin", "{what}");
    }

    assert_eq!(settings_of(&app, &ann).await, json!({"title": "mine"}));
    assert_eq!(send(&app, ann.get("/api/me/logo")).await.body, PNG);
}

#[tokio::test]
async fn another_user_neither_sees_nor_removes_your_settings_and_logo() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let bob = app.user("bob@example.com").await;
    send(&app, put_settings(&ann, r#"{"title":"Ann's show"}"#)).await;
    send(&app, put_logo(&ann, "image/png", PNG)).await;

    assert_eq!(settings_of(&app, &bob).await, json!({}));
    assert_eq!(
        send(&app, bob.get("/api/me/logo")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, bob.delete("/api/me/logo")).await.status,
        StatusCode::NO_CONTENT
    );
    send(&app, put_settings(&bob, r#"{"title":"Bob's show"}"#)).await;

    assert_eq!(
        settings_of(&app, &ann).await,
        json!({"title": "Ann's show"})
    );
    assert_eq!(send(&app, ann.get("/api/me/logo")).await.body, PNG);
    assert_eq!(
        settings_of(&app, &bob).await,
        json!({"title": "Bob's show"})
    );
}
