//! The OpenAPI description: committed copy up to date, every operation routed, every route
//! described.
//!
//! After changing the API, refresh the committed copy with
//! `STREAMHARD_UPDATE_OPENAPI=1 cargo test -p streamhard-web --test openapi_spec`.

mod support;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use support::TestApp;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

/// Every route the server has. A route added to the router must be added here and to the
/// description; `/api` routes cannot even be registered without their description.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/auth/me"),
    ("GET", "/api/instance"),
    ("POST", "/api/uplink-probe"),
    ("GET", "/api/broadcasts"),
    ("POST", "/api/broadcasts"),
    ("GET", "/api/broadcasts/{id}"),
    ("DELETE", "/api/broadcasts/{id}"),
    ("GET", "/api/broadcasts/{id}/events"),
    ("POST", "/api/broadcasts/{id}/destinations"),
    ("DELETE", "/api/broadcasts/{id}/destinations/{destination}"),
    ("GET", "/api/me/studio"),
    ("PUT", "/api/me/studio"),
    ("GET", "/api/me/logo"),
    ("PUT", "/api/me/logo"),
    ("DELETE", "/api/me/logo"),
    ("POST", "/whip/{id}"),
    ("OPTIONS", "/whip/{id}"),
    ("DELETE", "/whip/{id}/sessions/{session}"),
    ("PATCH", "/whip/{id}/sessions/{session}"),
];

fn documented() -> BTreeSet<(String, String)> {
    let spec: serde_json::Value =
        serde_json::from_str(streamhard_web::openapi_json_text()).unwrap();
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete", "options", "head"]
                .contains(&method.as_str())
            {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[test]
fn the_committed_openapi_json_matches_the_code() {
    let generated = streamhard_web::openapi_json_text();
    if std::env::var("STREAMHARD_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(COMMITTED, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "crates/web/openapi.json is out of date with the code; review the change and run \
         STREAMHARD_UPDATE_OPENAPI=1 cargo test -p streamhard-web --test openapi_spec"
    );
}

#[test]
fn every_route_is_described_and_nothing_else() {
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let documented = documented();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&expected).collect();
    assert!(
        missing.is_empty(),
        "routes without a description: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "described but not in ROUTES: {unknown:?}"
    );
}

#[tokio::test]
async fn every_described_operation_is_routed() {
    let app = TestApp::start().await;
    for (method, path) in documented() {
        let uri = path
            .replace("{id}", &"a".repeat(32))
            .replace("{destination}", &"b".repeat(32))
            .replace("{session}", &"c".repeat(32));
        let req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&uri)
            .header(header::HOST, support::HOST)
            .header(header::ORIGIN, support::ORIGIN)
            .body(Body::empty())
            .unwrap();
        let reply = app.send(req).await;
        let unrouted = reply.body.contains("\"no_route\"")
            || (reply.status == StatusCode::METHOD_NOT_ALLOWED && reply.body.is_empty());
        assert!(
            !unrouted,
            "{method} {path} is described but not routed ({})",
            reply.status
        );
    }
}

#[tokio::test]
async fn unknown_paths_answer_json_pointing_to_the_description() {
    let app = TestApp::start().await;
    let reply = app
        .send(Request::get("/api/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.error(), "no_route");
    assert!(reply.body.contains("/api/openapi.json"));
}

#[tokio::test]
async fn the_description_is_served_at_api_openapi_json() {
    let app = TestApp::start().await;
    let reply = app
        .send(
            Request::get("/api/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(reply.body, streamhard_web::openapi_json_text());
    let spec = reply.json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["components"]["securitySchemes"]["session"].is_object());
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    assert!(spec["components"]["schemas"]["BroadcastView"].is_object());
}
