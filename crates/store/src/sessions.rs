//! Server-side login sessions.
//!
//! The cookie holds a random [`SecretToken`]; the table holds its hash, the account, and two
//! expiries: absolute (`expires_at`, fixed at login) and idle (`last_seen_at` + the server's
//! idle timeout). Logging out deletes the row, so a copied cookie dies with it.

use std::time::Duration;

use crate::error::StoreError;
use crate::pool::{Store, with_pool};
use crate::time::Timestamp;
use crate::token::SecretToken;
use crate::users::{User, UserId, user_from_row};

/// `last_seen_at` is written at most this often per session, so a page polling the API does
/// not turn every request into a database write. Idle expiry is therefore exact to within
/// this interval.
pub const SESSION_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

impl Store {
    /// Records a session for `user` that ends at `now + lifetime` at the latest.
    pub async fn create_session(
        &self,
        token: &SecretToken,
        user: &UserId,
        now: Timestamp,
        lifetime: Duration,
    ) -> Result<(), StoreError> {
        let hash = token.hash();
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $3, $4)",
            )
            .bind(hash.as_str())
            .bind(user.as_str())
            .bind(now.unix_seconds())
            .bind(now.saturating_add(lifetime).unix_seconds())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query("create session"))?;
        Ok(())
    }

    /// Ends `user`'s sessions beyond the `max` most recently used, never `keep` (the one
    /// just created): called after every login, it bounds the sessions one account can hold
    /// however often it logs in. Returns how many ended.
    ///
    /// "Most recently used" is by `last_seen_at`, then `created_at`: a session in daily use
    /// outlives logins made and abandoned since. Two logins pruning at once each keep at most
    /// `max`, so the bound holds without a lock.
    pub async fn prune_sessions_of(
        &self,
        user: &UserId,
        keep: &SecretToken,
        max: usize,
    ) -> Result<u64, StoreError> {
        let keep = keep.hash();
        // The kept session takes one of the `max` places.
        let others = i64::try_from(max.saturating_sub(1)).unwrap_or(i64::MAX);
        with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 AND token_hash NOT IN \
                 (SELECT token_hash FROM sessions WHERE user_id = $1 AND token_hash <> $2 \
                  ORDER BY last_seen_at DESC, created_at DESC, token_hash LIMIT $3)",
            )
            .bind(user.as_str())
            .bind(keep.as_str())
            .bind(others)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query("prune sessions of user"))
    }

    /// The account logged in with `token`, if the session exists and has expired neither by
    /// age nor by `idle` time without use. Expired sessions are deleted on sight; live ones
    /// are marked as used (at most every [`SESSION_TOUCH_INTERVAL`]).
    pub async fn session_user(
        &self,
        token: &SecretToken,
        now: Timestamp,
        idle: Duration,
    ) -> Result<Option<User>, StoreError> {
        let hash = token.hash();
        let row: Option<(String, String, String, i64, i64, i64)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT u.id, u.email, u.name, u.created_at, s.last_seen_at, s.expires_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
            )
            .bind(hash.as_str())
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query("find session"))?;
        let Some((id, email, name, created_at, last_seen, expires)) = row else {
            return Ok(None);
        };
        let last_seen = Timestamp::from_unix_seconds(last_seen);
        let expired =
            now >= Timestamp::from_unix_seconds(expires) || now >= last_seen.saturating_add(idle);
        if expired {
            self.revoke_session(token).await?;
            return Ok(None);
        }
        if now.since(last_seen) >= SESSION_TOUCH_INTERVAL {
            with_pool!(self, |pool| {
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                    .bind(hash.as_str())
                    .bind(now.unix_seconds())
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            })
            .map_err(StoreError::query("touch session"))?;
        }
        user_from_row((id, email, name, created_at)).map(Some)
    }

    /// Ends a session (logout). Returns whether it existed.
    pub async fn revoke_session(&self, token: &SecretToken) -> Result<bool, StoreError> {
        let hash = token.hash();
        let deleted = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(hash.as_str())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query("revoke session"))?;
        Ok(deleted > 0)
    }

    /// Ends every session of an account (e.g. after a password change).
    pub async fn revoke_sessions_of(&self, user: &UserId) -> Result<u64, StoreError> {
        with_pool!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user.as_str())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query("revoke sessions of user"))
    }

    /// Deletes sessions that expired by age or idleness (housekeeping; lookups already refuse them).
    pub async fn purge_expired_sessions(
        &self,
        now: Timestamp,
        idle: Duration,
    ) -> Result<u64, StoreError> {
        let idle = i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
        // `now - idle` rather than `last_seen_at + idle`: no overflow inside the database.
        let idle_cutoff = now.unix_seconds().saturating_sub(idle);
        with_pool!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(now.unix_seconds())
                .bind(idle_cutoff)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query("purge expired sessions"))
    }
}
