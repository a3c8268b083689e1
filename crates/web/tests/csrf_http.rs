//! The CSRF defence: cookie-authenticated state changes must come from our own origin;
//! bearer-token requests are exempt.

mod support;

use axum::http::{Method, StatusCode, header};
use serde_json::json;
use streamhard_web::WebConfig;
use support::{PASSWORD, TestApp, bearer, config, destinations};

const DEST: &str = "rtmp://127.0.0.1:9/live/KEY";

#[tokio::test]
async fn a_cookie_request_from_another_origin_is_refused_and_changes_nothing() {
    let app = TestApp::start().await;
    let mut ann = app.user("ann@example.com").await;
    ann.origin = Some("https://evil.example".into());
    let reply = app
        .send(ann.post("/api/broadcasts", destinations(&[DEST])))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error(), "cross_origin");
    ann.origin = Some(support::ORIGIN.into());
    assert_eq!(
        app.send(ann.get("/api/broadcasts")).await.json()["broadcasts"],
        json!([])
    );
}

#[tokio::test]
async fn a_cookie_request_without_origin_or_fetch_metadata_is_refused() {
    let app = TestApp::start().await;
    let mut ann = app.user("ann@example.com").await;
    ann.origin = None;
    let reply = app
        .send(ann.post("/api/broadcasts", destinations(&[DEST])))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = app
        .send(ann.request(Method::POST, "/api/auth/logout", None))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "logout is a state change too"
    );
}

#[tokio::test]
async fn sec_fetch_site_same_origin_is_accepted_and_same_site_is_not() {
    let app = TestApp::start().await;
    let mut ann = app.user("ann@example.com").await;
    ann.origin = None;
    let mut req = ann.post("/api/broadcasts", destinations(&[DEST]));
    req.headers_mut()
        .insert("sec-fetch-site", "same-origin".parse().unwrap());
    assert_eq!(app.send(req).await.status, StatusCode::CREATED);
    let mut req = ann.post("/api/broadcasts", destinations(&[DEST]));
    req.headers_mut()
        .insert("sec-fetch-site", "same-site".parse().unwrap());
    assert_eq!(app.send(req).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn reads_with_the_cookie_need_no_origin() {
    let app = TestApp::start().await;
    let mut ann = app.user("ann@example.com").await;
    ann.origin = None;
    assert_eq!(
        app.send(ann.get("/api/auth/me")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(ann.get("/api/broadcasts")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_foreign_page_cannot_log_a_visitor_in_login_csrf() {
    let app = TestApp::start().await;
    app.user("attacker@example.com").await;
    let mut visitor = app.browser("192.0.2.77");
    visitor.origin = Some("https://evil.example".into());
    let reply = app
        .login(&mut visitor, "attacker@example.com", PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.session_cookie().is_none());
}

#[tokio::test]
async fn scripts_without_origin_and_without_cookie_can_log_in() {
    let app = TestApp::start().await;
    app.user("ann@example.com").await;
    let mut script = app.browser("192.0.2.78");
    script.origin = None;
    assert_eq!(
        app.login(&mut script, "ann@example.com", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bearer_token_requests_are_exempt_even_from_another_origin() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let (id, _, token) = app.broadcast(&ann, &[DEST]).await;
    let mut req = bearer(Method::DELETE, &format!("/api/broadcasts/{id}"), &token);
    req.headers_mut().insert(
        header::ORIGIN,
        "https://studio.elsewhere.example".parse().unwrap(),
    );
    assert_eq!(app.send(req).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_authorization_header_does_not_let_a_forged_request_ride_on_the_cookie() {
    let app = TestApp::start().await;
    let mut ann = app.user("ann@example.com").await;
    ann.origin = Some("https://evil.example".into());
    let mut req = ann.post("/api/broadcasts", destinations(&[DEST]));
    req.headers_mut()
        .insert(header::AUTHORIZATION, "Bearer nonsense".parse().unwrap());
    let reply = app.send(req).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "the cookie is ignored when Authorization is present"
    );
}

#[tokio::test]
async fn with_a_public_url_only_its_origin_is_ours() {
    let app = TestApp::with_config(WebConfig {
        public_url: Some("https://live.example.com".into()),
        ..config()
    })
    .await;
    let mut ann = app.browser("192.0.2.1");
    ann.origin = Some("https://live.example.com".into());
    let body = json!({"name": "A", "email": "a@example.com", "password": PASSWORD});
    assert_eq!(
        app.send(ann.post("/api/auth/signup", body.clone()))
            .await
            .status,
        StatusCode::CREATED
    );
    ann.origin = Some(support::ORIGIN.into()); // matches Host, but not the public URL
    assert_eq!(
        app.send(ann.post("/api/auth/signup", body)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_foreign_logout_with_any_authorization_header_leaves_the_cookie_session_alone() {
    let app = TestApp::start().await;
    let mut ann = app.user("ann@example.com").await;
    ann.origin = Some("https://evil.example".into());
    let mut req = ann.request(Method::POST, "/api/auth/logout", None);
    req.headers_mut()
        .insert(header::AUTHORIZATION, "Bearer whatever".parse().unwrap());
    let reply = app.send(req).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert!(
        reply.headers.get(header::SET_COOKIE).is_none(),
        "the cookie is not touched"
    );
    // The session still works from our own page.
    ann.origin = Some(support::ORIGIN.into());
    let me = app.send(ann.get("/api/auth/me")).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
}
