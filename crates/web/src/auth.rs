//! Who is calling: a logged-in user (session cookie) or the holder of a broadcast's bearer
//! token (what OBS puts in its WHIP output settings).
//!
//! When a request has an `Authorization` header, only that header counts: the session cookie
//! is ignored. The CSRF check exempts such requests, so falling back to the cookie would let a
//! forged request with a bogus header ride on the victim's session.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use streamhard_relay::BroadcastId;
use streamhard_store::{BroadcastRecord, SecretToken, User};

use crate::accounts::cookie::session_token;
use crate::error::ApiError;
use crate::state::AppState;

/// What the request presents as its credential.
enum Presented {
    /// An `Authorization` header; `None` when it is not a well-formed bearer token.
    Bearer(Option<SecretToken>),
    Session(SecretToken),
    Nothing,
}

fn presented(headers: &HeaderMap) -> Presented {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .and_then(|t| SecretToken::parse(t.trim()));
        return Presented::Bearer(token);
    }
    match session_token(headers) {
        Some(token) => Presented::Session(token),
        None => Presented::Nothing,
    }
}

/// The logged-in user of the request's session cookie, if any.
async fn session_user(state: &AppState, token: &SecretToken) -> Result<Option<User>, ApiError> {
    state
        .store
        .session_user(token, state.clock.now(), state.config.session_idle)
        .await
        .map_err(ApiError::internal)
}

fn session_ended() -> ApiError {
    ApiError::unauthorized("you are not logged in, or your session has ended: log in again")
}

/// Extracts the logged-in user; answers 401 otherwise. Bearer tokens do not count here: they
/// belong to one broadcast, not to an account.
pub struct CurrentUser(pub User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match presented(&parts.headers) {
            Presented::Session(token) => session_user(state, &token)
                .await?
                .map(CurrentUser)
                .ok_or_else(session_ended),
            Presented::Bearer(_) => Err(ApiError::unauthorized(
                "this endpoint needs a logged-in user (session cookie); a broadcast's bearer token does not open it",
            )),
            Presented::Nothing => Err(ApiError::unauthorized("log in first: POST /api/auth/login")),
        }
    }
}

/// How a request may act on a broadcast.
pub enum Access {
    /// Its owner, logged in.
    Owner(User),
    /// The holder of its bearer token (only while the broadcast runs).
    Token,
}

/// Authorizes a request for broadcast `id`: its bearer token, or the session of its owner.
///
/// A wrong token answers 401 whether or not the broadcast exists, so ids cannot be probed
/// without a token; a logged-in user asking for someone else's broadcast gets 404, exactly
/// as for one that does not exist.
pub async fn authorize_broadcast(
    state: &AppState,
    headers: &HeaderMap,
    id: &BroadcastId,
) -> Result<(Access, Option<BroadcastRecord>), ApiError> {
    match presented(headers) {
        Presented::Bearer(token) => {
            let wrong = || ApiError::unauthorized("the token is not valid for this broadcast");
            let token = token.ok_or_else(wrong)?;
            let stored = state
                .store
                .live_broadcast_token(id.as_str())
                .await
                .map_err(ApiError::internal)?;
            match stored {
                Some((_, hash)) if hash.matches(&token) => {
                    let record = state
                        .store
                        .broadcast(id.as_str())
                        .await
                        .map_err(ApiError::internal)?;
                    Ok((Access::Token, record))
                }
                _ => Err(wrong()),
            }
        }
        Presented::Session(token) => {
            let user = session_user(state, &token)
                .await?
                .ok_or_else(session_ended)?;
            let record = state
                .store
                .broadcast(id.as_str())
                .await
                .map_err(ApiError::internal)?;
            match record {
                Some(record) if record.owner == user.id => Ok((Access::Owner(user), Some(record))),
                _ => Err(ApiError::not_found("broadcast")),
            }
        }
        Presented::Nothing => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "log in, or send the broadcast's token as Authorization: Bearer <token>",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn an_authorization_header_wins_over_the_cookie() {
        let token = SecretToken::generate();
        let mut h = with("cookie", &format!("streamhard_session={}", token.expose()));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwYXNz"),
        );
        assert!(matches!(presented(&h), Presented::Bearer(None)));
    }

    #[test]
    fn a_well_formed_bearer_token_is_read_and_anything_else_is_not() {
        let token = SecretToken::generate();
        let h = with("authorization", &format!("Bearer {}", token.expose()));
        assert!(matches!(presented(&h), Presented::Bearer(Some(t)) if t == token));
        assert!(matches!(
            presented(&with("authorization", "Bearer short")),
            Presented::Bearer(None)
        ));
        assert!(matches!(presented(&HeaderMap::new()), Presented::Nothing));
    }
}
