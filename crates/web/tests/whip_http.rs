//! WHIP (RFC 9725) over the in-process router: every answer a publisher can get.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use streamhard_relay::{DestinationSettings, IngestConfig, Relay, RelayConfig};
use streamhard_web::{AppState, WebConfig, app};
use tower::ServiceExt;

const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 8C:71:B3:8D:A5:38:FD:8F:A4:2E:A2:65:6C:86:52:BC:E0:6E:94:F2:9F:7C:4D:B5:DF:AF:AA:6F:44:90:8D:F4\r\n\
a=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=msid:- a\r\na=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1111 cname:x\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 8C:71:B3:8D:A5:38:FD:8F:A4:2E:A2:65:6C:86:52:BC:E0:6E:94:F2:9F:7C:4D:B5:DF:AF:AA:6F:44:90:8D:F4\r\n\
a=setup:actpass\r\na=mid:1\r\na=sendonly\r\na=msid:- v\r\na=rtcp-mux\r\na=rtcp-rsize\r\n\
a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack\r\na=rtcp-fb:102 nack pli\r\na=rtcp-fb:102 transport-cc\r\n\
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\na=ssrc:2222 cname:x\r\n";

async fn state() -> AppState {
    let relay = Relay::start(RelayConfig {
        ingest: IngestConfig {
            udp_bind: "127.0.0.1:0".parse().unwrap(),
            advertised_ip: "127.0.0.1".parse().unwrap(),
            keyframe_interval: std::time::Duration::from_secs(2),
            start_bitrate_kbps: 2500,
            pipeline: Default::default(),
        },
        destination: DestinationSettings {
            allow_private: true,
            max_failures: 1,
            ..Default::default()
        },
    })
    .await
    .expect("relay");
    let store = streamhard_store::Store::open_sqlite_in_memory()
        .await
        .expect("store");
    AppState::new(
        Arc::clone(&relay),
        store,
        WebConfig {
            allow_private_destinations: true,
            max_destinations: 4,
            ..WebConfig::default()
        },
    )
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Creates a broadcast; returns (whip path, token).
async fn broadcast(state: &AppState) -> (String, String) {
    // Broadcasts belong to accounts: sign one up, then create with its session cookie.
    let signup = r#"{"name":"Publisher","email":"publisher@example.com","password":"correct horse battery"}"#;
    let req = Request::post("/api/auth/signup")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::HOST, "relay.test")
        .header(header::ORIGIN, "http://relay.test")
        .body(Body::from(signup))
        .unwrap();
    let (status, headers, body) = send(state, req).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let cookie = headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body = r#"{"destinations":[{"name":"local","url":"rtmp://127.0.0.1:9/live/KEY"}]}"#;
    let req = Request::post("/api/broadcasts")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::HOST, "relay.test")
        .header(header::ORIGIN, "http://relay.test")
        .header(header::COOKIE, cookie)
        .body(Body::from(body))
        .unwrap();
    let (status, _, body) = send(state, req).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let whip = v["whip_url"].as_str().unwrap();
    assert!(whip.starts_with("http://relay.test/whip/"), "{whip}");
    (
        whip.trim_start_matches("http://relay.test").to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

fn offer(
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut req = Request::post(path).header(header::CONTENT_TYPE, content_type);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    req.body(body.into()).unwrap()
}

fn error_code(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    v["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_offer_gets_201_an_sdp_answer_and_a_session_location() {
    let state = state().await;
    let (path, token) = broadcast(&state).await;
    let (status, headers, body) =
        send(&state, offer(&path, Some(&token), "application/sdp", OFFER)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/sdp");
    let location = headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{path}/sessions/")),
        "{location}"
    );
    assert!(body.contains("a=ice-lite"), "ICE-lite answer");
    assert!(
        body.contains("a=candidate:"),
        "our one candidate is in the answer"
    );
    assert!(body.contains("H264/90000") && body.contains("opus/48000"));
    assert!(body.contains("packetization-mode=1"));
    assert!(body.contains("x-google-start-bitrate=2500"));
    assert!(!body.contains("urn:3gpp:video-orientation"));

    // A second offer replaces the session; the first location is then gone.
    let (status, headers, _) =
        send(&state, offer(&path, Some(&token), "application/sdp", OFFER)).await;
    assert_eq!(status, StatusCode::CREATED);
    let second = headers[header::LOCATION].to_str().unwrap().to_owned();
    assert_ne!(second, location);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let delete = |loc: &str| {
        Request::delete(loc)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        send(&state, delete(&location)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(&state, delete(&second)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401() {
    let state = state().await;
    let (path, _) = broadcast(&state).await;
    let (status, headers, body) = send(&state, offer(&path, None, "application/sdp", OFFER)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(error_code(&body), "unauthorized");
    let (status, _, _) = send(&state, offer(&path, Some("nope"), "application/sdp", OFFER)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = send(
        &state,
        offer("/whip/not-an-id", Some("nope"), "application/sdp", OFFER),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_wrong_content_type_is_415_and_an_oversized_body_413() {
    let state = state().await;
    let (path, token) = broadcast(&state).await;
    let (status, _, body) = send(
        &state,
        offer(&path, Some(&token), "application/json", OFFER),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(&body), "unsupported_media_type");
    let huge = "a".repeat(streamhard_web::MAX_SDP_BYTES + 1);
    let (status, _, body) = send(&state, offer(&path, Some(&token), "application/sdp", huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "offer_too_large");
}

#[tokio::test]
async fn malformed_sdp_and_offers_without_h264_or_opus_are_400_with_a_reason() {
    let state = state().await;
    let (path, token) = broadcast(&state).await;
    for (body, reason) in [
        ("this is not sdp".to_owned(), "video"),
        (OFFER.replace("H264/90000", "VP8/90000"), "H.264"),
        (OFFER.replace("opus/48000/2", "PCMU/8000"), "Opus"),
        (OFFER.replace("a=fingerprint", "a=broken"), "negotiated"),
    ] {
        let (status, _, answer) =
            send(&state, offer(&path, Some(&token), "application/sdp", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(error_code(&answer), "invalid_offer");
        assert!(answer.contains(reason), "{answer} should mention {reason}");
    }
}

#[tokio::test]
async fn options_advertises_sdp_and_cors_and_patch_is_405() {
    let state = state().await;
    let (path, token) = broadcast(&state).await;
    let req = Request::options(&path)
        .header(header::ORIGIN, "https://studio.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type",
        )
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&state, req).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let plain = Request::options(&path).body(Body::empty()).unwrap();
    let (_, headers, _) = send(&state, plain).await;
    assert_eq!(headers["accept-post"], "application/sdp");

    let (_, headers, _) = send(&state, offer(&path, Some(&token), "application/sdp", OFFER)).await;
    let location = headers[header::LOCATION].to_str().unwrap();
    let patch = Request::patch(location)
        .header(header::CONTENT_TYPE, "application/trickle-ice-sdpfrag")
        .body(Body::from("a=candidate:1 1 udp 1 127.0.0.1 9 typ host"))
        .unwrap();
    assert_eq!(send(&state, patch).await.0, StatusCode::METHOD_NOT_ALLOWED);
}
