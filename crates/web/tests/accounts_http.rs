//! Signup, login, logout, sessions and login throttling over the in-process router.

mod support;

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use serde_json::json;
use streamhard_web::WebConfig;
use support::{PASSWORD, TestApp, config};

#[tokio::test]
async fn signup_creates_an_account_logs_it_in_and_me_shows_it() {
    let app = TestApp::start().await;
    let mut browser = app.browser("192.0.2.1");
    let reply = app
        .send(browser.post(
            "/api/auth/signup",
            json!({"name": " Ann Lee ", "email": "Ann@Example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let created = reply.json();
    assert_eq!(created["email"], "ann@example.com");
    assert_eq!(created["name"], "Ann Lee");
    assert!(created.get("password").is_none() && !reply.body.contains(PASSWORD));
    browser.cookie = reply.session_cookie();

    let me = app.send(browser.get("/api/auth/me")).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json(), created);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_secure_only_when_configured() {
    let app = TestApp::start().await;
    let reply = app
        .send(app.browser("192.0.2.1").post(
            "/api/auth/signup",
            json!({"name": "A", "email": "a@example.com", "password": PASSWORD}),
        ))
        .await;
    let cookie = reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("; HttpOnly")
            && cookie.contains("; SameSite=Lax")
            && cookie.contains("; Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");

    let secure = TestApp::with_config(WebConfig {
        cookie_secure: true,
        ..config()
    })
    .await;
    let reply = secure
        .send(secure.browser("192.0.2.1").post(
            "/api/auth/signup",
            json!({"name": "A", "email": "a@example.com", "password": PASSWORD}),
        ))
        .await;
    assert!(
        reply.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .ends_with("; Secure")
    );
}

#[tokio::test]
async fn signup_refuses_bad_input_with_a_reason() {
    let app = TestApp::start().await;
    let browser = app.browser("192.0.2.1");
    for (body, code) in [
        (
            json!({"name": "A", "email": "a@example.com", "password": "short"}),
            "invalid_password",
        ),
        (
            json!({"name": "A", "email": "not-an-email", "password": PASSWORD}),
            "invalid_email",
        ),
        (
            json!({"name": " ", "email": "a@example.com", "password": PASSWORD}),
            "invalid_name",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": "x".repeat(2000)}),
            "invalid_password",
        ),
        (
            json!({"name": "A", "email": "a@example.com"}),
            "invalid_body",
        ),
        (
            json!({"name": "A", "email": "a@example.com", "password": PASSWORD, "admin": true}),
            "invalid_body",
        ),
    ] {
        let reply = app
            .send(browser.post("/api/auth/signup", body.clone()))
            .await;
        assert!(reply.status.is_client_error(), "{body}: {}", reply.status);
        assert_eq!(reply.error(), code, "{body}");
    }
}

#[tokio::test]
async fn an_email_signs_up_once_whatever_its_case() {
    let app = TestApp::start().await;
    app.user("ann@example.com").await;
    let reply = app
        .send(app.browser("192.0.2.2").post(
            "/api/auth/signup",
            json!({"name": "B", "email": " ANN@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error(), "email_taken");
}

#[tokio::test]
async fn signup_can_be_disabled() {
    let app = TestApp::with_config(WebConfig {
        signup_enabled: false,
        ..config()
    })
    .await;
    let reply = app
        .send(app.browser("192.0.2.1").post(
            "/api/auth/signup",
            json!({"name": "A", "email": "a@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error(), "signup_disabled");
}

#[tokio::test]
async fn login_sets_a_new_session_and_logout_revokes_it_on_the_server() {
    let app = TestApp::start().await;
    app.user("ann@example.com").await;
    let mut browser = app.browser("192.0.2.3");
    let reply = app.login(&mut browser, "ANN@example.com ", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["email"], "ann@example.com");
    let stolen = browser.clone();

    let out = app
        .send(browser.request(axum::http::Method::POST, "/api/auth/logout", None))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // A copy of the cookie made before logout no longer works: the session is gone.
    let me = app.send(stolen.get("/api/auth/me")).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.error(), "unauthorized");
}

#[tokio::test]
async fn me_without_a_session_or_with_a_forged_cookie_is_401() {
    let app = TestApp::start().await;
    let mut browser = app.browser("192.0.2.1");
    assert_eq!(
        app.send(browser.get("/api/auth/me")).await.status,
        StatusCode::UNAUTHORIZED
    );
    browser.cookie = Some(format!("streamhard_session={}", "0".repeat(64)));
    assert_eq!(
        app.send(browser.get("/api/auth/me")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_session_ends_after_the_idle_timeout_and_use_keeps_it_alive() {
    let app = TestApp::with_config(WebConfig {
        session_idle: Duration::from_secs(3600),
        ..config()
    })
    .await;
    let ann = app.user("ann@example.com").await;
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(50 * 60));
        assert_eq!(
            app.send(ann.get("/api/auth/me")).await.status,
            StatusCode::OK
        );
    }
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        app.send(ann.get("/api/auth/me")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_much_it_is_used() {
    let app = TestApp::with_config(WebConfig {
        session_idle: Duration::from_secs(3600),
        session_lifetime: Duration::from_secs(4 * 3600),
        ..config()
    })
    .await;
    let ann = app.user("ann@example.com").await;
    for _ in 0..7 {
        app.clock.advance(Duration::from_secs(30 * 60));
        assert_eq!(
            app.send(ann.get("/api/auth/me")).await.status,
            StatusCode::OK
        );
    }
    app.clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(
        app.send(ann.get("/api/auth/me")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn unknown_email_and_wrong_password_answer_identically() {
    let app = TestApp::start().await;
    app.user("ann@example.com").await;
    let mut browser = app.browser("192.0.2.4");
    let wrong = app
        .login(&mut browser, "ann@example.com", "wrong password!")
        .await;
    let unknown = app
        .login(&mut browser, "nobody@example.com", PASSWORD)
        .await;
    let malformed = app.login(&mut browser, "nobody", PASSWORD).await;
    for reply in [&wrong, &unknown, &malformed] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body, wrong.body);
        assert_eq!(reply.error(), "unauthorized");
        assert!(reply.session_cookie().is_none());
    }
}

#[tokio::test]
async fn an_unknown_email_costs_as_much_time_as_a_wrong_password() {
    let app = TestApp::with_config(config()).await;
    app.user("ann@example.com").await;
    // Different addresses and accounts so throttling does not interfere.
    let time = |email: &'static str, password: &'static str, n: u8| {
        let app = &app;
        async move {
            let mut samples = Vec::new();
            for i in 0..3u8 {
                let mut browser = app.browser(&format!("198.51.100.{}", n * 10 + i));
                let start = Instant::now();
                let reply = app.login(&mut browser, email, password).await;
                samples.push(start.elapsed());
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            }
            samples.sort();
            samples[1]
        }
    };
    let wrong = time("ann@example.com", "wrong password!", 1).await;
    let unknown = time("nobody@example.com", "wrong password!", 2).await;
    // Both run one argon2 verification; without the dummy hash the unknown email would
    // answer in well under a tenth of the time.
    assert!(
        unknown * 2 >= wrong && wrong * 2 >= unknown,
        "wrong password {wrong:?}, unknown email {unknown:?}"
    );
}

#[tokio::test]
async fn an_account_is_throttled_after_five_failures_with_retry_after() {
    let app = TestApp::start().await;
    app.user("ann@example.com").await;
    // Each attempt from a different address: the per-account limit alone applies.
    for i in 0..5 {
        let mut attacker = app.browser(&format!("203.0.113.{i}"));
        assert_eq!(
            app.login(&mut attacker, "ann@example.com", "guess number x")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let mut attacker = app.browser("203.0.113.99");
    let blocked = app
        .login(&mut attacker, "ann@example.com", "guess number y")
        .await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(blocked.error(), "too_many_requests");
    let retry: u64 = blocked.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Even the right password waits: the throttle is no oracle.
    let mut owner = app.browser("192.0.2.50");
    assert_eq!(
        app.login(&mut owner, "ann@example.com", PASSWORD)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other accounts are not affected.
    app.user("bob@example.com").await;
    assert_eq!(
        app.login(&mut owner, "bob@example.com", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
    // After the window, the owner logs in.
    app.clock.advance(Duration::from_secs(retry));
    assert_eq!(
        app.login(&mut owner, "ann@example.com", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_client_address_is_throttled_across_accounts() {
    let app = TestApp::start().await;
    let mut attacker = app.browser("203.0.113.7");
    for i in 0..20 {
        let reply = app
            .login(
                &mut attacker,
                &format!("victim{i}@example.com"),
                "guess number x",
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let blocked = app
        .login(&mut attacker, "victim99@example.com", "guess number x")
        .await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers.contains_key(header::RETRY_AFTER));
    // Another address is not.
    let mut other = app.browser("203.0.113.8");
    assert_eq!(
        app.login(&mut other, "victim99@example.com", "guess number x")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_successful_login_forgets_the_accounts_earlier_failures() {
    let app = TestApp::start().await;
    app.user("ann@example.com").await;
    let mut ann = app.browser("192.0.2.60");
    for _ in 0..4 {
        app.login(&mut ann, "ann@example.com", "typo typo typo")
            .await;
    }
    assert_eq!(
        app.login(&mut ann, "ann@example.com", PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
    for _ in 0..4 {
        assert_eq!(
            app.login(&mut ann, "ann@example.com", "typo typo typo")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn signups_from_one_address_are_limited() {
    let app = TestApp::start().await;
    let browser = app.browser("203.0.113.20");
    for i in 0..10 {
        let body =
            json!({"name": "Bot", "email": format!("bot{i}@example.com"), "password": PASSWORD});
        assert_eq!(
            app.send(browser.post("/api/auth/signup", body))
                .await
                .status,
            StatusCode::CREATED,
            "signup {i}"
        );
    }
    let reply = app
        .send(browser.post(
            "/api/auth/signup",
            json!({"name": "Bot", "email": "bot10@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
}
