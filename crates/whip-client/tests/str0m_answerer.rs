//! The publisher against a real WebRTC peer: a minimal WHIP endpoint (axum + str0m on
//! 127.0.0.1) that answers the offer, receives the media, asks for a keyframe once, and records
//! what arrived. This checks ICE, DTLS, SRTP, packetization, pacing and RTP times end to end
//! before the relay's own server exists.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::KeyframeRequestKind;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use streamhard_testkit::fixtures::{Fixture, FixtureSpec, TestMedia};
use streamhard_whip_client::{Publisher, PublisherOptions, RtpOffsets};
use tokio::net::UdpSocket;

const TOKEN: &str = "publisher-token";

/// What the answering peer saw.
#[derive(Default)]
struct Seen {
    offer: String,
    post_authorization: Option<String>,
    deleted_with: Option<String>,
    /// (RTP time, frame bytes) of each H.264 frame.
    video: Vec<(u64, Vec<u8>)>,
    /// (RTP time, packet bytes) of each Opus packet.
    audio: Vec<(u64, Vec<u8>)>,
}

type Shared = Arc<Mutex<Seen>>;

async fn serve() -> (SocketAddr, Shared) {
    let seen = Shared::default();
    let app = Router::new()
        .route("/whip", post(answer))
        .route("/whip/session", delete(end_session))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn answer(State(seen): State<Shared>, headers: HeaderMap, offer: String) -> Response {
    {
        let mut seen = seen.lock().expect("not poisoned");
        seen.offer = offer.clone();
        seen.post_authorization = authorization(&headers);
    }
    let Ok(offer) = SdpOffer::from_sdp_string(&offer) else {
        return (StatusCode::BAD_REQUEST, "bad offer").into_response();
    };
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("a UDP port");
    let local = socket.local_addr().expect("bound");
    let mut rtc = RtcConfig::new().build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("a host candidate"));
    let Ok(answer) = rtc.sdp_api().accept_offer(offer) else {
        return (StatusCode::BAD_REQUEST, "offer not acceptable").into_response();
    };
    tokio::spawn(receive(rtc, socket, local, seen));
    (
        StatusCode::CREATED,
        [
            (CONTENT_TYPE, "application/sdp"),
            (LOCATION, "/whip/session"),
        ],
        answer.to_sdp_string(),
    )
        .into_response()
}

async fn end_session(State(seen): State<Shared>, headers: HeaderMap) -> StatusCode {
    seen.lock().expect("not poisoned").deleted_with = authorization(&headers);
    StatusCode::OK
}

/// The answering peer's loop: records media, sends one PLI after the first video frame.
async fn receive(mut rtc: Rtc, socket: UdpSocket, local: SocketAddr, seen: Shared) {
    let mut buffer = vec![0; 2000];
    let mut asked_for_keyframe = false;
    loop {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(at)) => break at,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(Event::MediaData(data))) => {
                    let codec = data.params.spec().codec;
                    let entry = (data.time.numer(), data.data.to_vec());
                    let mut seen = seen.lock().expect("not poisoned");
                    match codec {
                        Codec::H264 => seen.video.push(entry),
                        Codec::Opus => seen.audio.push(entry),
                        _ => {}
                    }
                    drop(seen);
                    if codec == Codec::H264 && !asked_for_keyframe {
                        asked_for_keyframe = true;
                        if let Some(mut writer) = rtc.writer(data.mid) {
                            writer
                                .request_keyframe(None, KeyframeRequestKind::Pli)
                                .expect("PLI negotiated");
                        }
                    }
                }
                Ok(Output::Event(_)) => {}
                Err(_) => return,
            }
        };
        if !rtc.is_alive() {
            return;
        }
        let input = tokio::select! {
            received = socket.recv_from(&mut buffer) => match received {
                Ok((n, source)) => match (&buffer[..n]).try_into() {
                    Ok(contents) => Input::Receive(
                        Instant::now(),
                        Receive { proto: Protocol::Udp, source, destination: local, contents },
                    ),
                    Err(_) => Input::Timeout(Instant::now()),
                },
                Err(_) => return,
            },
            () = tokio::time::sleep_until(timeout.into()) => Input::Timeout(Instant::now()),
        };
        if rtc.handle_input(input).is_err() {
            return;
        }
    }
}

fn small_media(seconds: u32) -> TestMedia {
    let spec = FixtureSpec {
        width: 320,
        height: 180,
        video_kbps: 300,
        ..FixtureSpec::browser_720p(seconds)
    };
    Fixture::generate(spec)
        .and_then(|f| f.load())
        .expect("fixture media")
}

/// Differences between consecutive RTP times, in 32-bit wrapping arithmetic as on the wire.
fn steps(times: &[(u64, Vec<u8>)]) -> Vec<u32> {
    times
        .windows(2)
        .map(|w| (w[1].0 as u32).wrapping_sub(w[0].0 as u32))
        .collect()
}

/// NAL units of an Annex-B buffer without start codes, for comparing frames regardless of
/// which start code length the depacketizer writes.
fn nal_units(frame: &[u8]) -> Vec<&[u8]> {
    streamhard_media::h264::nal_units(frame).collect()
}

#[tokio::test]
async fn publishes_h264_and_opus_that_a_webrtc_peer_receives_in_real_time() {
    let media = small_media(2);
    let (addr, seen) = serve().await;
    let options = PublisherOptions {
        // Start close to the 32-bit wrap: both clocks wrap during the test.
        rtp_offsets: Some(RtpOffsets {
            video: u32::MAX - 45_000,
            audio: u32::MAX - 24_000,
        }),
        ..PublisherOptions::default()
    };
    let mut publisher = Publisher::connect(&format!("http://{addr}/whip"), Some(TOKEN), options)
        .await
        .expect("connected");
    let started = Instant::now();
    let report = publisher
        .send(&media, Duration::from_secs(2))
        .await
        .expect("sent");
    let elapsed = started.elapsed();
    // Let the last packets and the RTCP feedback arrive.
    publisher
        .idle(Duration::from_millis(300))
        .await
        .expect("idle");
    let keyframe_requests = publisher.keyframe_requests();
    publisher.delete().await.expect("deleted");

    // Real time: 2 s of media takes about 2 s (the last frame is due at 1.967 s).
    assert!(
        (Duration::from_millis(1900)..Duration::from_millis(2500)).contains(&elapsed),
        "{elapsed:?}"
    );
    assert_eq!(report.video_frames, 60);
    assert_eq!(report.audio_packets, 100);
    assert_eq!(keyframe_requests.pli, 1, "{keyframe_requests:?}");

    let seen = seen.lock().expect("not poisoned");
    assert_eq!(
        seen.post_authorization.as_deref(),
        Some("Bearer publisher-token")
    );
    assert_eq!(seen.deleted_with.as_deref(), Some("Bearer publisher-token"));
    // Loopback loses nothing: every frame arrives, identical, 1/30 s apart on the 90 kHz clock.
    assert_eq!(seen.video.len(), 60);
    assert!(
        steps(&seen.video).iter().all(|&s| s == 3000),
        "{:?}",
        steps(&seen.video)
    );
    for (sent, (_, received)) in media.video.iter().zip(&seen.video) {
        assert_eq!(
            nal_units(&sent.data),
            nal_units(received),
            "frame {}",
            sent.index
        );
    }
    assert_eq!(seen.video[0].0 as u32, u32::MAX - 45_000);
    // Audio: 20 ms packets, 960 samples apart on the 48 kHz clock, bytes unchanged.
    assert_eq!(seen.audio.len(), 100);
    assert!(
        steps(&seen.audio).iter().all(|&s| s == 960),
        "{:?}",
        steps(&seen.audio)
    );
    for (sent, (_, received)) in media.audio.iter().zip(&seen.audio) {
        assert_eq!(sent.data.as_ref(), received.as_slice());
    }
    assert_eq!(seen.audio[0].0 as u32, u32::MAX - 24_000);
}

#[tokio::test]
async fn offers_and_sends_video_only_when_audio_is_disabled() {
    let media = small_media(1);
    let (addr, seen) = serve().await;
    let options = PublisherOptions {
        audio: false,
        ..PublisherOptions::default()
    };
    let mut publisher = Publisher::connect(&format!("http://{addr}/whip"), None, options)
        .await
        .expect("connected");
    let report = publisher
        .send(&media, Duration::from_millis(500))
        .await
        .expect("sent");
    publisher
        .idle(Duration::from_millis(200))
        .await
        .expect("idle");
    publisher.delete().await.expect("deleted");

    assert_eq!((report.video_frames, report.audio_packets), (15, 0));
    let seen = seen.lock().expect("not poisoned");
    assert!(!seen.offer.contains("m=audio"), "{}", seen.offer);
    assert_eq!(seen.post_authorization, None);
    assert_eq!(seen.video.len(), 15);
    assert!(seen.audio.is_empty());
}

#[tokio::test]
async fn a_second_send_continues_the_stream_and_loops_the_media() {
    let media = small_media(1);
    let (addr, seen) = serve().await;
    let mut publisher = Publisher::connect(
        &format!("http://{addr}/whip"),
        None,
        PublisherOptions::default(),
    )
    .await
    .expect("connected");
    publisher
        .send(&media, Duration::from_millis(800))
        .await
        .expect("first send");
    let report = publisher
        .send(&media, Duration::from_millis(800))
        .await
        .expect("second send");
    publisher
        .idle(Duration::from_millis(200))
        .await
        .expect("idle");
    publisher.delete().await.expect("deleted");

    // 1.6 s of a 1 s file: frames 24..47 are the second call's, wrapping at frame 30.
    assert_eq!(report.video_frames, 24);
    let seen = seen.lock().expect("not poisoned");
    assert_eq!(seen.video.len(), 48);
    assert!(
        steps(&seen.video).iter().all(|&s| s == 3000),
        "{:?}",
        steps(&seen.video)
    );
    assert!(
        steps(&seen.audio).iter().all(|&s| s == 960),
        "{:?}",
        steps(&seen.audio)
    );
    assert_eq!(
        nal_units(&seen.video[30].1),
        nal_units(&media.video[0].data),
        "the loop restarts on the first (key)frame"
    );
}
