//! Liveness and readiness: `/readyz` follows the database, `/healthz` does not.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use support::TestApp;

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn readiness_follows_the_database_and_liveness_does_not() {
    let app = TestApp::start().await;
    let ready = app.send(get("/readyz")).await;
    assert_eq!(
        (ready.status, ready.body.as_str()),
        (StatusCode::OK, "ready\n")
    );

    // The database goes away (every connection closed, as when PostgreSQL is down).
    app.state.store.close().await;
    let ready = app.send(get("/readyz")).await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.body
    );
    assert_eq!(ready.body, "database unavailable\n", "nothing internal");
    let live = app.send(get("/healthz")).await;
    assert_eq!(live.status, StatusCode::OK);
}

#[tokio::test]
async fn a_draining_server_is_not_ready_and_takes_no_new_whip_session() {
    let app = TestApp::start().await;
    let owner = app.user("drain@example.com").await;
    let (_, whip, token) = app
        .broadcast(&owner, &["rtmp://127.0.0.1:9/live/KEY"])
        .await;
    app.state.begin_drain();
    let ready = app.send(get("/readyz")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body, "shutting down\n");
    let mut offer = support::bearer(axum::http::Method::POST, &whip, &token);
    offer.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        "application/sdp".parse().unwrap(),
    );
    let reply = app.send(offer).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.error(), "shutting_down");
    assert!(reply.headers.contains_key(axum::http::header::RETRY_AFTER));
    // Liveness is unaffected: the process still answers while it drains.
    assert_eq!(app.send(get("/healthz")).await.status, StatusCode::OK);
}
