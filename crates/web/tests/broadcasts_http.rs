//! `/api/broadcasts` over the in-process router: ownership, bearer tokens, history, live
//! destination changes, validation, per-user limits and the event stream.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use streamhard_web::{AppState, WebConfig};
use support::{Agent, TestApp, bearer, config, destinations};
use tower::ServiceExt;

/// Nothing listens on the discard port, so these destinations retry quietly.
const DEST: &str = "rtmp://127.0.0.1:9/live/KEY-SECRET-123";
const DEST2: &str = "rtmp://127.0.0.1:9/other/KEY-SECRET-456?auth=SECRET-QUERY";

fn whip_offer(path: &str, agent: Option<&Agent>, token: Option<&str>) -> Request<Body> {
    let mut req = match agent {
        Some(agent) => agent.post(path, json!({})),
        None => Request::post(path)
            .header(header::HOST, support::HOST)
            .body(Body::from("{}"))
            .unwrap(),
    };
    // Not an SDP content type: a request that passes authorization is answered 415.
    req.headers_mut()
        .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
    if let Some(token) = token {
        req.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
    }
    req
}

#[tokio::test]
async fn creating_a_broadcast_needs_a_logged_in_user() {
    let app = TestApp::start().await;
    let anonymous = app.browser("192.0.2.1");
    let reply = app
        .send(anonymous.post("/api/broadcasts", destinations(&[DEST])))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error(), "unauthorized");

    let ann = app.user("ann@example.com").await;
    let (_, _, token) = app.broadcast(&ann, &[DEST]).await;
    let mut req = bearer(Method::POST, "/api/broadcasts", &token);
    *req.body_mut() = Body::from(destinations(&[DEST]).to_string());
    req.headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    assert_eq!(
        app.send(req).await.status,
        StatusCode::UNAUTHORIZED,
        "a broadcast token is not an account"
    );
}

#[tokio::test]
async fn the_token_opens_the_whip_endpoint_and_the_broadcast_and_so_does_the_owners_cookie() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let (id, whip, token) = app.broadcast(&ann, &[DEST]).await;
    assert_eq!(whip, format!("/whip/{id}"));
    assert_eq!(token.len(), 64);

    assert_eq!(
        app.send(whip_offer(&whip, None, Some(&token))).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        app.send(whip_offer(&whip, Some(&ann), None)).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        app.send(whip_offer(&whip, None, None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(whip_offer(&whip, None, Some(&"0".repeat(64))))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let shown = app
        .send(bearer(
            Method::GET,
            &format!("/api/broadcasts/{id}"),
            &token,
        ))
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json()["state"], "waiting");
    assert_eq!(
        app.send(ann.get(&format!("/api/broadcasts/{id}")))
            .await
            .json(),
        shown.json()
    );
}

#[tokio::test]
async fn two_users_cannot_see_or_touch_each_others_broadcasts() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let bob = app.user("bob@example.com").await;
    let (id, whip, ann_token) = app.broadcast(&ann, &[DEST]).await;
    let (bob_id, _, _) = app.broadcast(&bob, &[DEST]).await;
    let dest_id = app
        .send(ann.get(&format!("/api/broadcasts/{id}")))
        .await
        .json()["destinations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let base = format!("/api/broadcasts/{id}");
    for req in [
        bob.get(&base),
        bob.get(&format!("{base}/events")),
        bob.post(
            &format!("{base}/destinations"),
            json!({"name": "x", "url": DEST}),
        ),
        bob.delete(&format!("{base}/destinations/{dest_id}")),
        bob.delete(&base),
    ] {
        let what = format!("{} {}", req.method(), req.uri());
        let reply = app.send(req).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{what}: {}",
            reply.body
        );
        assert_eq!(reply.error(), "not_found");
    }
    assert_eq!(
        app.send(whip_offer(&whip, Some(&bob), None)).await.status,
        StatusCode::NOT_FOUND
    );
    let listed = app.send(bob.get("/api/broadcasts")).await.json();
    assert_eq!(listed["broadcasts"].as_array().unwrap().len(), 1);
    assert_eq!(listed["broadcasts"][0]["id"], bob_id.as_str());

    // Ann's token opens only Ann's broadcast.
    let reply = app
        .send(bearer(
            Method::GET,
            &format!("/api/broadcasts/{bob_id}"),
            &ann_token,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // And Ann's broadcast is untouched.
    let shown = app.send(ann.get(&base)).await.json();
    assert_eq!(shown["state"], "waiting");
    assert_eq!(shown["destinations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_and_unknown_ids_are_404_for_a_user_and_401_for_a_token() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    assert_eq!(
        app.send(ann.get("/api/broadcasts/..%2Fetc")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(ann.get(&format!("/api/broadcasts/{}", "a".repeat(32))))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let reply = app
        .send(bearer(
            Method::GET,
            &format!("/api/broadcasts/{}", "a".repeat(32)),
            &"0".repeat(64),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn stopping_records_the_end_in_the_history_and_retires_the_token() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let (id, _, token) = app.broadcast(&ann, &[DEST, DEST2]).await;
    let (running, _, _) = app.broadcast(&ann, &[DEST]).await;
    app.clock.advance(Duration::from_secs(125));
    assert_eq!(
        app.send(ann.delete(&format!("/api/broadcasts/{id}")))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(
        app.state
            .relay
            .broadcast(&streamhard_relay::BroadcastId::parse(&id).unwrap())
            .is_none()
    );
    // Stopping again is fine; the token, though, ended with the broadcast.
    assert_eq!(
        app.send(ann.delete(&format!("/api/broadcasts/{id}")))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.send(bearer(
            Method::GET,
            &format!("/api/broadcasts/{id}"),
            &token
        ))
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );

    let list = app.send(ann.get("/api/broadcasts")).await.json();
    let list = list["broadcasts"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let ended = list.iter().find(|b| b["id"] == id.as_str()).unwrap();
    assert_eq!(ended["state"], "ended");
    assert_eq!(ended["duration_seconds"], 125);
    assert_eq!(ended["destination_count"], 2);
    assert_eq!(ended["platforms"], json!(["custom"]));
    assert_eq!(ended["destinations"], json!([]));
    assert!(ended["ended_at"].as_i64().unwrap() > ended["created_at"].as_i64().unwrap());
    let live = list.iter().find(|b| b["id"] == running.as_str()).unwrap();
    assert_eq!(live["state"], "waiting");
    assert_eq!(live["ended_at"], Value::Null);
    let url = live["destinations"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("rtmp://127.0.0.1:9/live") && !url.contains("KEY"),
        "{url}"
    );
}

#[tokio::test]
async fn destinations_are_added_and_removed_while_the_broadcast_runs() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let (id, _, token) = app.broadcast(&ann, &[DEST]).await;
    let path = format!("/api/broadcasts/{id}/destinations");

    let added = app
        .send(ann.post(&path, json!({"name": "Second", "url": DEST2})))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let added = added.json();
    assert_eq!(added["name"], "Second");
    let url = added["url"].as_str().unwrap();
    assert!(
        url.starts_with("rtmp://127.0.0.1:9/other") && !url.contains("KEY"),
        "{url}"
    );
    let added_id = added["id"].as_str().unwrap();
    let shown = app
        .send(ann.get(&format!("/api/broadcasts/{id}")))
        .await
        .json();
    assert_eq!(shown["destinations"].as_array().unwrap().len(), 2);

    // The bearer token may change destinations too (it stands for the broadcast).
    let remove = bearer(Method::DELETE, &format!("{path}/{added_id}"), &token);
    assert_eq!(app.send(remove).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.send(ann.delete(&format!("{path}/{added_id}")))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let shown = app
        .send(ann.get(&format!("/api/broadcasts/{id}")))
        .await
        .json();
    assert_eq!(shown["destinations"].as_array().unwrap().len(), 1);
    assert_eq!(
        shown["destination_count"], 2,
        "the history counts every destination it had"
    );

    app.send(ann.delete(&format!("/api/broadcasts/{id}"))).await;
    let reply = app
        .send(ann.post(&path, json!({"name": "Late", "url": DEST})))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "an ended broadcast takes no destinations"
    );
}

#[tokio::test]
async fn no_response_ever_contains_a_stream_key_or_full_url() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let created = app
        .send(ann.post("/api/broadcasts", destinations(&[DEST, DEST2])))
        .await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let mut bodies = vec![created.body];
    bodies.push(
        app.send(ann.post(
            &format!("/api/broadcasts/{id}/destinations"),
            json!({"name": "x", "url": DEST}),
        ))
        .await
        .body,
    );
    bodies.push(
        app.send(ann.get(&format!("/api/broadcasts/{id}")))
            .await
            .body,
    );
    bodies.push(app.send(ann.get("/api/broadcasts")).await.body);
    bodies.push(
        app.send(ann.post(
            "/api/broadcasts",
            destinations(&["rtmp://127.0.0.1:9/live/KEY-SECRET-123 x"]),
        ))
        .await
        .body,
    );
    for body in bodies {
        for secret in ["KEY-SECRET", "SECRET-QUERY", "live/KEY"] {
            assert!(!body.contains(secret), "{secret} in {body}");
        }
    }
}

#[tokio::test]
async fn invalid_destinations_are_refused_with_a_reason() {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let five = [DEST; 5];
    for (body, code) in [
        (json!({"destinations": []}), "no_destinations"),
        (destinations(&five), "too_many_destinations"),
        (
            destinations(&["http://example.com/app/KEY"]),
            "invalid_destination",
        ),
        (destinations(&["rtmp:///app/KEY"]), "invalid_destination"),
        (
            json!({"destinations": [{"name": "", "url": DEST}]}),
            "invalid_destination",
        ),
        (
            json!({"destinations": [{"name": "x".repeat(101), "url": DEST}]}),
            "invalid_destination",
        ),
        (json!({"destinations": [{"url": DEST}]}), "invalid_body"),
        (
            json!({"destinations": [{"name": "a", "url": format!("rtmp://h/app/{}", "k".repeat(70_000))}]}),
            "invalid_body",
        ),
    ] {
        let reply = app.send(ann.post("/api/broadcasts", body.clone())).await;
        assert!(reply.status.is_client_error(), "{}", reply.status);
        assert_eq!(reply.error(), code, "{}", reply.body);
    }
}

#[tokio::test]
async fn destinations_on_private_addresses_are_refused_unless_the_operator_allows_them() {
    let app = TestApp::with_config(WebConfig {
        allow_private_destinations: false,
        ..config()
    })
    .await;
    let ann = app.user("ann@example.com").await;
    for url in [
        "rtmp://127.0.0.1/live/KEY-SECRET-123",
        "rtmp://localhost/live/KEY-SECRET-123",
        "rtmp://10.1.2.3/live/KEY-SECRET-123",
        "rtmp://192.168.0.10/live/KEY-SECRET-123",
        "rtmps://169.254.169.254/latest/KEY-SECRET-123",
        "rtmp://0.0.0.0/live/KEY-SECRET-123",
        "rtmp://[::1]/live/KEY-SECRET-123",
        "rtmp://[fe80::1]/live/KEY-SECRET-123",
        "rtmp://[fd12::1]/live/KEY-SECRET-123",
        "rtmp://[::ffff:127.0.0.1]/live/KEY-SECRET-123",
        "rtmp://224.0.0.1/live/KEY-SECRET-123",
    ] {
        let reply = app
            .send(ann.post("/api/broadcasts", destinations(&[url])))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(
            reply.error(),
            "private_destination",
            "{url}: {}",
            reply.body
        );
        assert!(reply.body.contains("--allow-private-destinations"));
        assert!(!reply.body.contains("KEY-SECRET"));
    }
    assert_eq!(
        app.send(ann.get("/api/broadcasts")).await.json()["broadcasts"],
        json!([])
    );
}

#[tokio::test]
async fn a_private_destination_added_live_is_refused_too() {
    let permissive = TestApp::start().await;
    let ann = permissive.user("ann@example.com").await;
    let (id, _, _) = permissive.broadcast(&ann, &[DEST]).await;
    // The same relay and database, served with the default rule.
    let strict = AppState::new(
        permissive.state.relay.clone(),
        permissive.state.store.clone(),
        WebConfig {
            allow_private_destinations: false,
            ..config()
        },
    )
    .with_clock(permissive.clock.clone());
    let req = ann.post(
        &format!("/api/broadcasts/{id}/destinations"),
        json!({"name": "meta", "url": "rtmp://169.254.169.254/a/KEY"}),
    );
    let res = streamhard_web::app(strict).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "private_destination");
    let shown = permissive
        .send(ann.get(&format!("/api/broadcasts/{id}")))
        .await
        .json();
    assert_eq!(shown["destinations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_user_runs_at_most_the_configured_number_of_broadcasts() {
    let app = TestApp::with_config(WebConfig {
        max_broadcasts_per_user: 2,
        ..config()
    })
    .await;
    let ann = app.user("ann@example.com").await;
    let (first, _, _) = app.broadcast(&ann, &[DEST]).await;
    app.broadcast(&ann, &[DEST]).await;
    let reply = app
        .send(ann.post("/api/broadcasts", destinations(&[DEST])))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), "broadcast_limit");
    // Another user has their own allowance.
    let bob = app.user("bob@example.com").await;
    app.broadcast(&bob, &[DEST]).await;
    // Stopping one frees a slot.
    app.send(ann.delete(&format!("/api/broadcasts/{first}")))
        .await;
    app.broadcast(&ann, &[DEST]).await;
}

#[tokio::test]
async fn a_user_runs_at_most_the_configured_number_of_destinations_across_broadcasts() {
    let app = TestApp::with_config(WebConfig {
        max_destinations_per_user: 3,
        ..config()
    })
    .await;
    let ann = app.user("ann@example.com").await;
    let (id, _, token) = app.broadcast(&ann, &[DEST, DEST]).await;
    let reply = app
        .send(ann.post("/api/broadcasts", destinations(&[DEST, DEST])))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), "destination_limit");
    let path = format!("/api/broadcasts/{id}/destinations");
    assert_eq!(
        app.send(ann.post(&path, json!({"name": "third", "url": DEST})))
            .await
            .status,
        StatusCode::CREATED
    );
    let reply = app
        .send(ann.post(&path, json!({"name": "fourth", "url": DEST})))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    // The owner's limit holds for the bearer token too.
    let mut req = bearer(Method::POST, &path, &token);
    *req.body_mut() = Body::from(json!({"name": "fourth", "url": DEST}).to_string());
    req.headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    assert_eq!(app.send(req).await.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn one_broadcast_has_at_most_the_configured_destinations_even_when_added_live() {
    let app = TestApp::start().await; // max_destinations: 4
    let ann = app.user("ann@example.com").await;
    let (id, _, _) = app.broadcast(&ann, &[DEST; 4]).await;
    let reply = app
        .send(ann.post(
            &format!("/api/broadcasts/{id}/destinations"),
            json!({"name": "5th", "url": DEST}),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "too_many_destinations");
}

/// Reads the next `data:` payload of an event stream, waiting at most `timeout`.
async fn next_event(body: &mut Body, timeout: Duration) -> Option<Value> {
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(timeout, body.frame())
            .await
            .expect("an event in time")?;
        let frame = frame.expect("body frame");
        if let Some(data) = frame.data_ref() {
            text.push_str(std::str::from_utf8(data).unwrap());
        }
        if let Some(end) = text.find("\n\n") {
            let event = &text[..end];
            if let Some(json) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                return Some(serde_json::from_str(json.trim()).unwrap());
            }
            text.drain(..end + 2);
        }
    }
}

#[tokio::test]
async fn the_event_stream_sends_the_view_at_once_on_changes_and_every_two_seconds_and_ends_with_the_broadcast()
 {
    let app = TestApp::start().await;
    let ann = app.user("ann@example.com").await;
    let (id, _, token) = app.broadcast(&ann, &[DEST]).await;
    let res = streamhard_web::app(app.state.clone())
        .oneshot(bearer(
            Method::GET,
            &format!("/api/broadcasts/{id}/events"),
            &token,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = res.into_body();

    let first = next_event(&mut body, Duration::from_secs(2)).await.unwrap();
    assert_eq!(first["id"], id.as_str());
    assert_eq!(first["state"], "waiting");
    // Nothing changes, yet a view comes within about 2 s.
    let started = tokio::time::Instant::now();
    let again = next_event(&mut body, Duration::from_secs(4)).await.unwrap();
    assert!(
        started.elapsed() <= Duration::from_millis(2600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(again["id"], id.as_str());

    let path = format!("/api/broadcasts/{id}/destinations");
    app.send(ann.post(&path, json!({"name": "added", "url": DEST2})))
        .await;
    let mut seen_added = false;
    for _ in 0..6 {
        let event = next_event(&mut body, Duration::from_secs(3)).await.unwrap();
        if event["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "added")
        {
            seen_added = true;
            break;
        }
    }
    assert!(seen_added, "the added destination shows up in the stream");

    app.send(ann.delete(&format!("/api/broadcasts/{id}"))).await;
    let mut last = None;
    while let Some(event) = next_event(&mut body, Duration::from_secs(3)).await {
        last = Some(event);
    }
    assert_eq!(last.expect("a final view")["state"], "ended");
}
