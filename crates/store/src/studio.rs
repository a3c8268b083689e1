//! The studio's per-user settings: the overlay settings document and the logo image.
//!
//! Both are one row per user, replaced whole on every save and deleted with the account. The
//! store does not look inside them: the HTTP layer bounds and validates what it hands over
//! (a JSON object, an image of a known type), so these methods only move values in and out.

use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::pool::{Store, with_pool};
use crate::time::Timestamp;
use crate::token::hex;
use crate::users::UserId;

/// A user's uploaded logo.
#[derive(Clone, PartialEq, Eq)]
pub struct Logo {
    /// The MIME type it was uploaded with, e.g. `image/png`.
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, lowercase hex (stable across reads: a cache validator).
    pub sha256: String,
    pub updated_at: Timestamp,
}

/// Debug shows the size, not up to 512 KiB of bytes.
impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logo")
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl Store {
    /// The user's saved overlay settings (a JSON document), if they ever saved any.
    pub async fn studio_settings(&self, user: &UserId) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT document FROM studio_settings WHERE user_id = $1")
                .bind(user.as_str())
                .fetch_optional(pool)
                .await
        })
        .map_err(StoreError::query("find studio settings"))?;
        Ok(row.map(|(document,)| document))
    }

    /// Saves the user's overlay settings, replacing what was there.
    pub async fn put_studio_settings(
        &self,
        user: &UserId,
        document: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO studio_settings (user_id, document, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
            )
            .bind(user.as_str())
            .bind(document)
            .bind(now.unix_seconds())
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(StoreError::query("save studio settings"))
    }

    /// The user's logo, if one is uploaded.
    pub async fn logo(&self, user: &UserId) -> Result<Option<Logo>, StoreError> {
        let row: Option<(String, Vec<u8>, String, i64)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT content_type, bytes, sha256, updated_at FROM studio_logos WHERE user_id = $1",
            )
            .bind(user.as_str())
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query("find logo"))?;
        Ok(row.map(|(content_type, bytes, sha256, updated_at)| Logo {
            content_type,
            bytes,
            sha256,
            updated_at: Timestamp::from_unix_seconds(updated_at),
        }))
    }

    /// Saves the user's logo, replacing the previous one. Returns it as stored.
    pub async fn put_logo(
        &self,
        user: &UserId,
        content_type: &str,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<Logo, StoreError> {
        let sha256 = hex(&Sha256::digest(bytes));
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO studio_logos (user_id, content_type, bytes, sha256, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id) DO UPDATE SET content_type = excluded.content_type, bytes = excluded.bytes, \
                 sha256 = excluded.sha256, updated_at = excluded.updated_at",
            )
            .bind(user.as_str())
            .bind(content_type)
            .bind(bytes)
            .bind(&sha256)
            .bind(now.unix_seconds())
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(StoreError::query("save logo"))?;
        Ok(Logo {
            content_type: content_type.to_owned(),
            bytes: bytes.to_vec(),
            sha256,
            updated_at: now,
        })
    }

    /// Removes the user's logo. Returns whether there was one.
    pub async fn delete_logo(&self, user: &UserId) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM studio_logos WHERE user_id = $1")
                .bind(user.as_str())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query("delete logo"))?;
        Ok(n > 0)
    }
}
