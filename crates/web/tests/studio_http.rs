//! The studio as the server delivers it: the page at each of its paths, its modules with the
//! right types, caching by ETag, the security headers, and the two small endpoints the pages
//! call before and around login (`/api/instance`, `/api/uplink-probe`).

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use streamhard_web::WebConfig;
use support::{HOST, TestApp};

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn every_page_path_answers_with_the_studio_document_and_its_security_headers() {
    let app = TestApp::start().await;
    for path in ["/", "/login", "/signup", "/history"] {
        let reply = app.send(get(path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(
            reply
                .body
                .contains(r#"<script type="module" src="/studio/js/main.js">"#)
        );
        let csp = reply.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(reply.headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-cache");
    }
}

#[tokio::test]
async fn modules_styles_and_the_worker_are_served_with_their_types() {
    let app = TestApp::start().await;
    for (path, kind) in [
        ("/studio/js/main.js", "text/javascript; charset=utf-8"),
        (
            "/studio/js/studio/compositor.worker.js",
            "text/javascript; charset=utf-8",
        ),
        ("/studio/css/studio.css", "text/css; charset=utf-8"),
        ("/studio/img/icon.svg", "image/svg+xml"),
    ] {
        let reply = app.send(get(path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], kind, "{path}");
        assert!(!reply.body.is_empty());
    }
}

#[tokio::test]
async fn an_unchanged_file_costs_a_304_and_a_changed_etag_the_whole_file() {
    let app = TestApp::start().await;
    let first = app.send(get("/studio/js/main.js")).await;
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    let again = Request::get("/studio/js/main.js")
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    let reply = app.send(again).await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    assert!(reply.body.is_empty());
    let stale = Request::get("/studio/js/main.js")
        .header(header::IF_NONE_MATCH, "\"0000\"")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(stale).await.status, StatusCode::OK);
}

#[tokio::test]
async fn head_gives_the_length_without_the_body() {
    let app = TestApp::start().await;
    let full = app.send(get("/studio/css/studio.css")).await;
    let head = Request::head("/studio/css/studio.css")
        .body(Body::empty())
        .unwrap();
    let reply = app.send(head).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.is_empty());
    assert_eq!(
        reply.headers[header::CONTENT_LENGTH].to_str().unwrap(),
        full.body.len().to_string()
    );
}

#[tokio::test]
async fn paths_outside_the_studio_and_unknown_files_are_404s_with_a_reason() {
    let app = TestApp::start().await;
    for path in [
        "/studio/../Cargo.toml",
        "/studio/%2e%2e/Cargo.toml",
        "/studio/js//main.js",
        "/studio/index.html",
        "/studio/nope.js",
        "/studio/js/main.js.map",
    ] {
        let reply = app.send(get(path)).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.body
        );
    }
    // Everything else is still the API's JSON 404.
    let reply = app.send(get("/nothing-here")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "no_route");
}

#[tokio::test]
async fn a_studio_directory_on_disk_replaces_the_embedded_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<p>from disk</p>").unwrap();
    let app = TestApp::with_config(WebConfig {
        studio_dir: Some(dir.path().to_path_buf()),
        ..support::config()
    })
    .await;
    let reply = app.send(get("/")).await;
    assert_eq!(reply.body, "<p>from disk</p>");
    assert_eq!(
        app.send(get("/studio/js/main.js")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_instance_says_whether_signup_is_open_without_a_login() {
    let open = TestApp::start().await;
    assert_eq!(
        open.send(get("/api/instance")).await.json()["signup_enabled"],
        true
    );
    let closed = TestApp::with_config(WebConfig {
        signup_enabled: false,
        ..support::config()
    })
    .await;
    assert_eq!(
        closed.send(get("/api/instance")).await.json()["signup_enabled"],
        false
    );
}

fn probe(agent: &support::Agent, bytes: usize) -> Request<Body> {
    let mut req = agent.request(Method::POST, "/api/uplink-probe", None);
    *req.body_mut() = Body::from(vec![7u8; bytes]);
    req.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/octet-stream".parse().unwrap(),
    );
    req
}

#[tokio::test]
async fn the_uplink_probe_takes_a_mebibyte_from_a_user_and_refuses_more_or_strangers() {
    let app = TestApp::start().await;
    let user = app.user("probe@example.com").await;
    let reply = app.send(probe(&user, 1024 * 1024)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let reply = app.send(probe(&user, 3 * 1024 * 1024)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error(), "too_large");
    let stranger = app.browser("192.0.2.99");
    assert_eq!(
        app.send(probe(&stranger, 10)).await.status,
        StatusCode::UNAUTHORIZED
    );
}
