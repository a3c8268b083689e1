//! `/api/auth`: signup, login, logout and the current user.
//!
//! Passwords are hashed with argon2id on a blocking thread, at most a few at a time (each
//! hash takes 19 MiB and tens of milliseconds; unbounded, a burst of logins could exhaust the
//! machine). A failed login answers the same status, body and time whether the email has an
//! account or not.

pub mod cookie;
pub mod hasher;
pub mod throttle;

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use streamhard_store::{
    Email, Password, PasswordError, PasswordHash, SecretToken, StoreError, User, UserName,
};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::client::ClientIp;
use crate::error::ApiError;
use crate::state::AppState;
use throttle::{Key, Limit};

/// Failed logins allowed per account before it must wait (a victim's account can be slowed,
/// not locked for good: the window is short).
pub const ACCOUNT_LIMIT: Limit = Limit {
    failures: 5,
    window: Duration::from_secs(15 * 60),
};
/// Failed logins allowed per client address (IPv6: per /64), across all accounts.
pub const ADDRESS_LIMIT: Limit = Limit {
    failures: 20,
    window: Duration::from_secs(15 * 60),
};
/// Signups allowed per client address: each costs an argon2 hash and a row.
pub const SIGNUP_LIMIT: Limit = Limit {
    failures: 10,
    window: Duration::from_secs(60 * 60),
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Display name, 1 to 100 characters.
    pub name: String,
    pub email: String,
    /// At least 10 characters.
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// An account as shown to its owner.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub name: String,
    /// Normalised (trimmed, lowercase).
    pub email: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            name: user.name.to_string(),
            email: user.email.to_string(),
            created_at: user.created_at.unix_seconds(),
        }
    }
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(t)| t)
        .map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))
}

/// Runs argon2 on one of the hashing threads ([`hasher`]); 503 when too many are waiting.
async fn hashing<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    state.hasher.run(work).await.map_err(|hasher::Busy| {
        ApiError::unavailable(
            Duration::from_secs(1),
            "busy",
            "the server is checking many passwords right now; try again in a second",
        )
    })
}

fn too_many(wait: Duration) -> ApiError {
    ApiError::too_many_requests(
        wait,
        format!(
            "too many attempts; try again in {} seconds",
            wait.as_secs().max(1)
        ),
    )
}

/// Logs `user` in: a new server-side session and its cookie.
async fn start_session(state: &AppState, user: &User) -> Result<HeaderMap, ApiError> {
    let token = SecretToken::generate();
    let lifetime = state.config.session_lifetime;
    state
        .store
        .create_session(&token, &user.id, state.clock.now(), lifetime)
        .await
        .map_err(ApiError::internal)?;
    // Every login makes a session: keep an account's number bounded however often it logs in.
    let ended = state
        .store
        .prune_sessions_of(&user.id, &token, state.config.max_login_sessions_per_user)
        .await
        .map_err(ApiError::internal)?;
    if ended > 0 {
        tracing::info!(
            sessions = ended,
            "a login ended the account's least recently used sessions"
        );
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        SET_COOKIE,
        cookie::set(&token, lifetime, state.config.cookie_secure),
    );
    Ok(headers)
}

/// Creates an account and logs it in.
#[utoipa::path(
    post,
    path = "/api/auth/signup",
    tag = "accounts",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created; the session cookie is set", body = UserView),
        (status = 400, description = "Invalid name, email or password", body = crate::error::ErrorBody),
        (status = 403, description = "Signup is disabled on this server, or cross-origin request", body = crate::error::ErrorBody),
        (status = 409, description = "An account with this email exists", body = crate::error::ErrorBody),
        (status = 429, description = "Too many signups from this address", body = crate::error::ErrorBody),
    )
)]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<Json<SignupRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    if !state.config.signup_enabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "signup_disabled",
            "this server does not accept new accounts; ask its operator (streamhard user add)",
        ));
    }
    let body = json_body(body)?;
    let now = state.clock.now();
    let key = Key::signup(ip);
    if let Some(wait) = state.throttle().blocked(&key, SIGNUP_LIMIT, now) {
        return Err(too_many(wait));
    }
    let name = UserName::parse(&body.name)
        .map_err(|e| ApiError::bad_request("invalid_name", e.to_string()))?;
    let email = Email::parse(&body.email)
        .map_err(|e| ApiError::bad_request("invalid_email", e.to_string()))?;
    let password = Password::new(body.password)
        .map_err(|e| ApiError::bad_request("invalid_password", e.to_string()))?;
    state.throttle().fail(key, SIGNUP_LIMIT, now);

    let hash = hashing(&state, move || PasswordHash::create(&password))
        .await?
        .map_err(ApiError::internal)?;
    let user = match state.store.create_user(&email, &name, &hash, now).await {
        Ok(user) => user,
        Err(StoreError::EmailTaken) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "an account with this email address exists: log in instead",
            ));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let headers = start_session(&state, &user).await?;
    Ok((StatusCode::CREATED, headers, Json(UserView::from(&user))).into_response())
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("the email address or the password is wrong")
}

/// Logs in with email and password; sets the session cookie.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = UserView),
        (status = 401, description = "Wrong email or password (the same answer for both)", body = crate::error::ErrorBody),
        (status = 403, description = "Cross-origin request", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed attempts for this account or address; see Retry-After", body = crate::error::ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let now = state.clock.now();
    let email = Email::parse(&body.email);
    // An address that does not parse cannot have an account, but is still throttled by what
    // was typed, so it behaves exactly like an unknown one.
    let account = Key::Account(match &email {
        Ok(e) => e.to_string(),
        Err(_) => body.email.trim().to_lowercase().chars().take(254).collect(),
    });
    let address = Key::address(ip);
    {
        let throttle = state.throttle();
        let waits = [
            throttle.blocked(&account, ACCOUNT_LIMIT, now),
            throttle.blocked(&address, ADDRESS_LIMIT, now),
        ];
        if let Some(wait) = waits.into_iter().flatten().max() {
            return Err(too_many(wait));
        }
    }

    let user = match (email, Password::for_login(body.password)) {
        (Ok(email), Ok(password)) => {
            let credentials = state
                .store
                .credentials(&email)
                .await
                .map_err(ApiError::internal)?;
            hashing(&state, move || match credentials {
                Some((user, hash)) => match hash.verify(&password) {
                    Ok(true) => Ok(Some(user)),
                    Ok(false) => Ok(None),
                    Err(e) => Err(e),
                },
                None => {
                    PasswordHash::verify_dummy(&password);
                    Ok(None)
                }
            })
            .await?
            .map_err(|e: PasswordError| ApiError::internal(e))?
        }
        (Err(_), Ok(password)) => {
            hashing(&state, move || PasswordHash::verify_dummy(&password)).await?;
            None
        }
        // Longer than any password we accept: wrong without hashing, for any account.
        (_, Err(_)) => None,
    };
    let Some(user) = user else {
        let mut throttle = state.throttle();
        throttle.fail(account, ACCOUNT_LIMIT, now);
        throttle.fail(address, ADDRESS_LIMIT, now);
        return Err(invalid_credentials());
    };
    state.throttle().clear(&account);
    let headers = start_session(&state, &user).await?;
    Ok((StatusCode::OK, headers, Json(UserView::from(&user))).into_response())
}

/// Ends the session (it is deleted on the server) and clears the cookie. A request with an
/// `Authorization` header is judged by that header alone: it ends no cookie session (and
/// leaves the cookie alone), as the CSRF check lets such requests through from any origin.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "accounts",
    responses(
        (status = 204, description = "Logged out (also when there was no session)"),
        (status = 403, description = "Cross-origin request", body = crate::error::ErrorBody),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if let Some(token) = cookie::session_token(&headers) {
        state
            .store
            .revoke_session(&token)
            .await
            .map_err(ApiError::internal)?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, cookie::clear(state.config.cookie_secure))],
    )
        .into_response())
}

/// The logged-in user.
#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "accounts",
    responses(
        (status = 200, body = UserView),
        (status = 401, description = "Not logged in, or the session expired", body = crate::error::ErrorBody),
    )
)]
pub async fn me(CurrentUser(user): CurrentUser) -> Json<UserView> {
    Json(UserView::from(&user))
}
