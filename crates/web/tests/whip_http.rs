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
            candidates: streamhard_relay::CandidatePolicy::all_interfaces(),
            keyframe_interval: std::time::Duration::from_secs(2),
            start_bitrate_kbps: 2500,
            pipeline: Default::default(),
            limits: Default::default(),
        },
        destination: DestinationSettings {
            allow_private: true,
            max_failures: 1,
            ..Default::default()
        },
        publisher_grace: std::time::Duration::from_secs(30),
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
async fn malformed_sdp_is_400_and_offers_we_cannot_relay_are_422_with_a_reason() {
    let state = state().await;
    let (path, token) = broadcast(&state).await;
    for (body, status, code, says) in [
        (
            "this is not sdp".to_owned(),
            400,
            "invalid_sdp",
            "not valid SDP",
        ),
        (
            OFFER.replace("H264/90000", "VP8/90000"),
            422,
            "no_h264",
            "offers VP8",
        ),
        (
            OFFER.replace("opus/48000/2", "PCMU/8000"),
            422,
            "no_opus",
            "Opus",
        ),
        (
            OFFER.replace("profile-level-id=42e01f", "profile-level-id=f4001f"),
            422,
            "unsupported_h264_profile",
            "high 4:4:4",
        ),
        (
            OFFER.replace("a=fingerprint", "a=broken"),
            400,
            "invalid_offer",
            "negotiated",
        ),
    ] {
        let (got, _, answer) =
            send(&state, offer(&path, Some(&token), "application/sdp", body)).await;
        assert_eq!(got.as_u16(), status, "{answer}");
        assert_eq!(error_code(&answer), code);
        assert!(answer.contains(says), "{answer} should mention {says}");
    }
    // Each refusal is counted by its reason.
    let (_, _, metrics) = send(
        &state,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    for reason in [
        "no_h264",
        "no_opus",
        "unsupported_h264_profile",
        "malformed_sdp",
    ] {
        let line = format!("streamhard_whip_offers_refused_total{{reason=\"{reason}\"}} 1");
        assert!(metrics.contains(&line), "{line} missing in:\n{metrics}");
    }
    assert!(metrics.contains("streamhard_whip_offers_refused_total{reason=\"no_video\"} 0"));
}

/// The recorded offers of real publishers (`crates/relay/fixtures/offers/README.md` says where
/// each came from): every one that carries H.264 gets a 201 with an answer that keeps its own
/// H.264 payload type and profile; Firefox without OpenH264 gets told how to enable it.
#[tokio::test]
async fn recorded_offers_of_real_publishers_are_answered_or_told_what_to_change() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../relay/fixtures/offers");
    let state = state().await;
    let (path, token) = broadcast(&state).await;
    let mut seen = 0;
    for (file, expect) in [
        ("chrome.sdp", Ok(())),
        ("firefox_max_bundle.sdp", Ok(())),
        ("safari.sdp", Ok(())),
        ("obs_whip.sdp", Ok(())),
        ("gstreamer_whipclientsink.sdp", Ok(())),
        ("gstreamer_whipsink.sdp", Ok(())),
        ("ffmpeg_whip.sdp", Ok(())),
        ("firefox_vp8_only.sdp", Err("no_h264")),
    ] {
        let sdp = std::fs::read_to_string(fixtures.join(file)).expect(file);
        let (status, _, body) = send(
            &state,
            offer(&path, Some(&token), "application/sdp", sdp.clone()),
        )
        .await;
        seen += 1;
        match expect {
            Ok(()) => {
                assert_eq!(status, StatusCode::CREATED, "{file}: {body}");
                let answer = streamhard_whip_answer::Answer::parse(&body);
                let h264 = answer.video_h264();
                assert!(!h264.is_empty(), "{file}: no H.264 in the answer:\n{body}");
                for (pt, profile) in &h264 {
                    let offered = format!("a=rtpmap:{pt} H264/90000");
                    assert!(
                        sdp.contains(&offered),
                        "{file}: answer pt {pt} was not offered"
                    );
                    assert!(
                        sdp.to_ascii_lowercase()
                            .contains(&format!("profile-level-id={profile}")),
                        "{file}: answer profile {profile} is not the publisher's"
                    );
                }
                assert!(
                    answer.has_candidates(),
                    "{file}: no candidate in the answer"
                );
                assert!(
                    answer.audio_is_opus_or_absent(),
                    "{file}: audio is not Opus:\n{body}"
                );
            }
            Err(code) => {
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{file}: {body}");
                assert_eq!(error_code(&body), code, "{file}");
                assert!(body.contains("OpenH264"), "{file}: {body}");
            }
        }
    }
    assert_eq!(seen, 8);
}

/// Just enough reading of our own answers for the assertions above.
mod streamhard_whip_answer {
    pub struct Answer<'a> {
        sections: Vec<(&'a str, Vec<&'a str>)>,
    }

    impl<'a> Answer<'a> {
        pub fn parse(sdp: &'a str) -> Self {
            let mut sections: Vec<(&str, Vec<&str>)> = vec![("", Vec::new())];
            for line in sdp.lines() {
                if let Some(m) = line.strip_prefix("m=") {
                    sections.push((m, Vec::new()));
                } else if let Some(last) = sections.last_mut() {
                    last.1.push(line);
                }
            }
            Self { sections }
        }

        /// (payload type, profile-level-id) of every H.264 format in active video sections.
        pub fn video_h264(&self) -> Vec<(String, String)> {
            let mut out = Vec::new();
            for (m, attrs) in &self.sections {
                if !m.starts_with("video")
                    || m.split(' ').nth(1) == Some("0")
                        && !attrs.contains(&"a=bundle-only")
                        && !attrs.iter().any(|a| a.starts_with("a=mid:"))
                {
                    continue;
                }
                for a in attrs {
                    if let Some(rest) = a.strip_prefix("a=rtpmap:")
                        && rest.to_ascii_lowercase().contains(" h264/90000")
                    {
                        let pt = rest.split(' ').next().unwrap_or("").to_owned();
                        let fmtp = format!("a=fmtp:{pt} ");
                        let profile = attrs
                            .iter()
                            .find_map(|f| f.strip_prefix(&fmtp))
                            .and_then(|f| {
                                f.split(';')
                                    .find_map(|kv| kv.strip_prefix("profile-level-id="))
                            })
                            .unwrap_or("")
                            .to_ascii_lowercase();
                        out.push((pt, profile));
                    }
                }
            }
            out
        }

        pub fn has_candidates(&self) -> bool {
            self.sections
                .iter()
                .any(|(_, attrs)| attrs.iter().any(|a| a.starts_with("a=candidate:")))
        }

        pub fn audio_is_opus_or_absent(&self) -> bool {
            self.sections
                .iter()
                .filter(|(m, _)| m.starts_with("audio") && !m.starts_with("audio 0"))
                .all(|(_, attrs)| {
                    attrs
                        .iter()
                        .any(|a| a.to_ascii_lowercase().contains("opus/48000"))
                })
        }
    }
}

#[tokio::test]
async fn options_advertises_sdp_and_cors_exposes_location_and_etag() {
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
    // No ICE servers are configured, so no Link header.
    assert!(headers.get(header::LINK).is_none());

    let post = Request::post(&path)
        .header(header::ORIGIN, "https://studio.example")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/sdp")
        .body(Body::from(OFFER))
        .unwrap();
    let (_, headers, _) = send(&state, post).await;
    let exposed = headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("location") && exposed.contains("etag"),
        "{exposed}"
    );
}

#[tokio::test]
async fn methods_a_whip_resource_does_not_have_are_405() {
    let state = state().await;
    let (path, token) = broadcast(&state).await;
    let req = Request::get(&path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, req).await.0, StatusCode::METHOD_NOT_ALLOWED);
    let (_, headers, _) = send(&state, offer(&path, Some(&token), "application/sdp", OFFER)).await;
    let location = headers[header::LOCATION].to_str().unwrap();
    let req = Request::post(location)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, req).await.0, StatusCode::METHOD_NOT_ALLOWED);
}

fn patch(location: &str, token: &str, if_match: Option<&str>, body: &str) -> Request<Body> {
    let mut req = Request::patch(location)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/trickle-ice-sdpfrag");
    if let Some(tag) = if_match {
        req = req.header(header::IF_MATCH, tag);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

const TRICKLE: &str = "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
    m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
    a=candidate:1 1 udp 2122260223 127.0.0.1 61764 typ host\r\na=end-of-candidates\r\n";

#[tokio::test]
async fn patch_trickles_candidates_with_the_etag_and_refuses_a_stale_one() {
    let state = state().await;
    let (path, token) = broadcast(&state).await;
    let (_, headers, _) = send(&state, offer(&path, Some(&token), "application/sdp", OFFER)).await;
    let location = headers[header::LOCATION].to_str().unwrap().to_owned();
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let (status, _, body) = send(&state, patch(&location, &token, Some(&etag), TRICKLE)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = send(&state, patch(&location, &token, Some("\"old\""), TRICKLE)).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(error_code(&body), "stale_etag");
    let (status, _, body) = send(&state, patch(&location, &token, None, TRICKLE)).await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(error_code(&body), "if_match_required");
    let wrong_type = Request::patch(&location)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/sdp")
        .header(header::IF_MATCH, &etag)
        .body(Body::from(TRICKLE))
        .unwrap();
    assert_eq!(
        send(&state, wrong_type).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let (status, _, body) = send(&state, patch(&location, &token, Some(&etag), "garbage")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "invalid_sdpfrag");
    let (status, _, _) = send(&state, patch(&location, "wrong", Some(&etag), TRICKLE)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn patch_restarts_ice_on_the_same_session_with_new_credentials_and_etag() {
    let state = state().await;
    let (path, token) = broadcast(&state).await;
    let (_, headers, _) = send(&state, offer(&path, Some(&token), "application/sdp", OFFER)).await;
    let location = headers[header::LOCATION].to_str().unwrap().to_owned();
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let restart = TRICKLE.replace("ice-ufrag:abcd", "ice-ufrag:wxyz").replace(
        "ice-pwd:abcdefghijklmnopqrstuvwx",
        "ice-pwd:zyxwvutsrqponmlkjihgfedc",
    );

    // A restart needs If-Match: *.
    let (status, _, body) = send(&state, patch(&location, &token, Some(&etag), &restart)).await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED, "{body}");

    let (status, headers, body) = send(&state, patch(&location, &token, Some("*"), &restart)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/trickle-ice-sdpfrag"
    );
    let new_etag = headers[header::ETAG].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    assert!(body.contains("a=ice-lite"), "{body}");
    let ufrag = body
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .expect("new ufrag");
    assert_eq!(format!("\"{ufrag}\""), new_etag);
    assert!(
        body.contains("a=ice-pwd:") && body.contains("a=candidate:"),
        "{body}"
    );
    assert!(
        body.contains("a=mid:0") && body.ends_with("a=end-of-candidates\r\n"),
        "{body}"
    );

    // The same session goes on: its location still answers, now with the new tag.
    let (status, _, _) = send(&state, patch(&location, &token, Some(&new_etag), &restart)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = send(&state, patch(&location, &token, Some(&etag), &restart)).await;
    assert_eq!(
        status,
        StatusCode::PRECONDITION_FAILED,
        "the old tag is stale"
    );
    let delete = Request::delete(&location)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, delete).await.0, StatusCode::OK);
    let (status, _, _) = send(&state, patch(&location, &token, Some(&new_etag), TRICKLE)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
