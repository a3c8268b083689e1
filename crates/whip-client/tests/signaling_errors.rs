//! How the publisher treats WHIP servers that say no, or say yes badly. The server is a real
//! HTTP server (axum on 127.0.0.1) answering what each route is named for.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use streamhard_whip_client::{Publisher, PublisherOptions, WhipError};

const TOKEN: &str = "secret-token-4f1c";

/// Headers of the last request the server received.
type Seen = Arc<Mutex<Option<HeaderMap>>>;

async fn serve() -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = Router::new()
        .route(
            "/unauthorized",
            post(move |headers: HeaderMap| async move {
                *record.lock().expect("not poisoned") = Some(headers);
                (
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":"unauthorized","message":"bad token"}"#,
                )
            }),
        )
        .route(
            "/unsupported",
            post(|| async { (StatusCode::UNSUPPORTED_MEDIA_TYPE, "only application/sdp") }),
        )
        .route(
            "/ok-without-location",
            post(|| async {
                (
                    StatusCode::CREATED,
                    [(CONTENT_TYPE, "application/sdp")],
                    "v=0\r\n",
                )
            }),
        )
        .route(
            "/ok-as-text",
            post(|| async {
                (
                    StatusCode::CREATED,
                    [(CONTENT_TYPE, "text/plain"), (LOCATION, "/session/1")],
                    "v=0\r\n",
                )
            }),
        )
        .route(
            "/ok-but-huge",
            post(|| async {
                (
                    StatusCode::CREATED,
                    [(CONTENT_TYPE, "application/sdp"), (LOCATION, "/session/1")],
                    "a".repeat(1024 * 1024),
                )
            }),
        )
        .route(
            "/ok-but-not-sdp",
            post(|| async {
                (
                    StatusCode::CREATED,
                    [
                        (CONTENT_TYPE, "application/sdp; charset=utf-8"),
                        (LOCATION, "/session/1"),
                    ],
                    "this is not an SDP answer",
                )
                    .into_response()
            }),
        )
        .route(
            "/ok-with-200",
            post(|| async { (StatusCode::OK, "v=0\r\n") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

async fn connect(addr: SocketAddr, path: &str) -> WhipError {
    let options = PublisherOptions {
        http_timeout: Duration::from_secs(5),
        ..PublisherOptions::default()
    };
    Publisher::connect(&format!("http://{addr}{path}"), Some(TOKEN), options)
        .await
        .expect_err("the server refuses")
}

/// Neither the token nor the URL's path (which names the broadcast) may appear in what an
/// error prints; the message does not even name the server. (Debug output of a transport error
/// may still show the socket address, which is not a secret.)
fn assert_no_secrets(error: &WhipError, addr: SocketAddr, path: &str) {
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
        assert!(!text.contains(path), "URL leaked: {text}");
    }
    assert!(!error.to_string().contains(&addr.to_string()), "{error}");
}

#[tokio::test]
async fn unauthorized_is_reported_with_the_servers_reason_and_no_secrets() {
    let (addr, seen) = serve().await;
    let error = connect(addr, "/unauthorized").await;
    match &error {
        WhipError::Status {
            request,
            status,
            body,
        } => {
            assert_eq!((*request, *status), ("POST", 401));
            assert!(body.contains("bad token"), "{body}");
        }
        other => panic!("expected a 401 status error, got {other:?}"),
    }
    assert_no_secrets(&error, addr, "/unauthorized");
    let headers = seen
        .lock()
        .expect("not poisoned")
        .take()
        .expect("a request");
    assert_eq!(headers[CONTENT_TYPE], "application/sdp");
    assert_eq!(headers[AUTHORIZATION], format!("Bearer {TOKEN}").as_str());
}

#[tokio::test]
async fn unsupported_media_type_is_reported_as_a_status_error() {
    let (addr, _) = serve().await;
    let error = connect(addr, "/unsupported").await;
    assert!(
        matches!(&error, WhipError::Status { status: 415, body, .. } if body == "only application/sdp"),
        "{error:?}"
    );
}

#[tokio::test]
async fn success_other_than_201_created_is_refused() {
    let (addr, _) = serve().await;
    let error = connect(addr, "/ok-with-200").await;
    assert!(
        matches!(error, WhipError::Status { status: 200, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn created_without_location_is_refused() {
    let (addr, _) = serve().await;
    let error = connect(addr, "/ok-without-location").await;
    assert!(matches!(error, WhipError::MissingLocation), "{error:?}");
}

#[tokio::test]
async fn an_answer_that_is_not_application_sdp_is_refused() {
    let (addr, _) = serve().await;
    let error = connect(addr, "/ok-as-text").await;
    assert!(
        matches!(&error, WhipError::UnexpectedContentType(t) if t == "text/plain"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_oversized_answer_is_refused_without_reading_it_all() {
    let (addr, _) = serve().await;
    let error = connect(addr, "/ok-but-huge").await;
    assert!(
        matches!(
            error,
            WhipError::BodyTooLarge {
                request: "POST",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_answer_that_does_not_parse_as_sdp_is_refused() {
    let (addr, _) = serve().await;
    let error = connect(addr, "/ok-but-not-sdp").await;
    assert!(matches!(error, WhipError::InvalidAnswer(_)), "{error:?}");
}

#[tokio::test]
async fn a_server_that_is_not_listening_is_a_transport_error_without_the_url() {
    // Bind then drop: the port is very likely closed afterwards.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("bound")
    };
    let error = connect(addr, "/whip/broadcast-7731").await;
    assert!(
        matches!(
            error,
            WhipError::Http {
                request: "POST",
                ..
            }
        ),
        "{error:?}"
    );
    assert_no_secrets(&error, addr, "broadcast-7731");
}

#[tokio::test]
async fn urls_that_are_not_absolute_http_are_refused_before_any_request() {
    for url in [
        "/relative/whip",
        "ftp://127.0.0.1/whip",
        "not a url",
        "http://",
    ] {
        let error = Publisher::connect(url, None, PublisherOptions::default())
            .await
            .expect_err("refused");
        assert!(matches!(error, WhipError::InvalidUrl), "{url}: {error:?}");
    }
}

#[tokio::test]
async fn a_token_that_cannot_be_a_header_is_refused() {
    let error = Publisher::connect(
        "http://127.0.0.1:9/whip",
        Some("a\nb"),
        PublisherOptions::default(),
    )
    .await
    .expect_err("refused");
    assert!(matches!(error, WhipError::InvalidToken), "{error:?}");
}
