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
