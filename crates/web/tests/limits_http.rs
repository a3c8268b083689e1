//! Limits that bound what one account can hold on the server: login sessions and event
//! streams. Each refusal has its status, its code and a message, and others keep being served.

mod support;

use axum::http::StatusCode;
use streamhard_web::{WebConfig, app};
use support::{PASSWORD, TestApp, config};
use tower::ServiceExt;

const DESTINATION: &str = "rtmp://127.0.0.1:1/live/key";

#[tokio::test]
async fn a_login_past_the_cap_ends_the_least_recently_used_session_and_keeps_the_others() {
    let app = TestApp::with_config(WebConfig {
        max_login_sessions_per_user: 3,
        ..config()
    })
    .await;
    let signed_up = app.user("ann@example.com").await;
    let other = app.user("bob@example.com").await;
    let mut browsers = vec![signed_up];
    for _ in 0..2 {
        app.clock.advance(std::time::Duration::from_secs(10));
        let mut browser = app.browser("192.0.2.20");
        let reply = app.login(&mut browser, "ann@example.com", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        browsers.push(browser);
    }
    // The first session is in use; the second (older than the third) was left alone.
    app.clock.advance(std::time::Duration::from_secs(120));
    let me = app.send(browsers[0].get("/api/auth/me")).await;
    assert_eq!(me.status, StatusCode::OK);

    let mut fourth = app.browser("192.0.2.21");
    let reply = app.login(&mut fourth, "ann@example.com", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    browsers.push(fourth);

    let statuses: Vec<_> = {
        let mut v = Vec::new();
        for b in &browsers {
            v.push(app.send(b.get("/api/auth/me")).await.status);
        }
        v
    };
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::UNAUTHORIZED,
            StatusCode::OK,
            StatusCode::OK
        ],
        "the session unused longest ended, the one in use did not"
    );
    let bob = app.send(other.get("/api/auth/me")).await;
    assert_eq!(
        bob.status,
        StatusCode::OK,
        "another account is not affected"
    );
}

/// Opens `/api/broadcasts/{id}/events` and keeps the answer (and so the stream) alive; the
/// stream ends when the answer is dropped, as when a client goes away.
async fn open_stream(
    test: &TestApp,
    request: axum::http::Request<axum::body::Body>,
) -> axum::response::Response {
    app(test.state.clone()).oneshot(request).await.unwrap()
}

async fn error_of(response: axum::response::Response) -> (StatusCode, Option<String>, String) {
    use http_body_util::BodyExt;
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    (status, retry, v["error"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn event_streams_are_capped_per_user_and_per_node_and_a_closed_one_frees_its_place() {
    let app = TestApp::with_config(WebConfig {
        max_event_streams_per_user: 2,
        max_event_streams: 3,
        ..config()
    })
    .await;
    let ann = app.user("ann@example.com").await;
    let bob = app.user("bob@example.com").await;
    let (ann_id, _, ann_token) = app.broadcast(&ann, &[DESTINATION]).await;
    let (bob_id, _, _) = app.broadcast(&bob, &[DESTINATION]).await;
    let ann_events = format!("/api/broadcasts/{ann_id}/events");
    let bob_events = format!("/api/broadcasts/{bob_id}/events");

    // Ann's two: one with her cookie, one with the broadcast's token. Both are hers.
    let first = open_stream(&app, ann.get(&ann_events)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let by_token = open_stream(
        &app,
        support::bearer(axum::http::Method::GET, &ann_events, &ann_token),
    )
    .await;
    assert_eq!(by_token.status(), StatusCode::OK);
    let third = open_stream(&app, ann.get(&ann_events)).await;
    assert_eq!(
        error_of(third).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some("5".into()),
            "event_stream_limit".into()
        )
    );

    // Bob is not held back by Ann's streams, until the node's total is reached.
    let bobs = open_stream(&app, bob.get(&bob_events)).await;
    assert_eq!(bobs.status(), StatusCode::OK);
    let over = open_stream(&app, bob.get(&bob_events)).await;
    assert_eq!(
        error_of(over).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("5".into()),
            "event_streams_full".into()
        )
    );
    // The rest of the API still answers.
    let show = app
        .send(ann.get(&format!("/api/broadcasts/{ann_id}")))
        .await;
    assert_eq!(show.status, StatusCode::OK);

    // Ann closes one: its place is free at once, for her and for the node.
    drop(first);
    let again = open_stream(&app, ann.get(&ann_events)).await;
    assert_eq!(again.status(), StatusCode::OK);
    drop((again, by_token, bobs));
    let streams: Vec<_> = {
        let mut v = Vec::new();
        for (who, path) in [
            (&ann, &ann_events),
            (&ann, &ann_events),
            (&bob, &bob_events),
        ] {
            v.push(open_stream(&app, who.get(path)).await);
        }
        v
    };
    assert!(
        streams.iter().all(|s| s.status() == StatusCode::OK),
        "nothing is left counted after the streams closed"
    );
}
