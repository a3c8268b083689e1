//! Accounts.

use std::fmt;

use rand::RngCore;

use crate::email::Email;
use crate::error::{StoreError, is_unique_violation};
use crate::name::UserName;
use crate::password::PasswordHash;
use crate::pool::{Store, with_pool};
use crate::time::Timestamp;

/// A random 128-bit id, hex encoded: never derived from the email, so an account's id does
/// not change meaning if its address does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: UserName,
    pub created_at: Timestamp,
}

type UserRow = (String, String, String, i64);

pub(crate) fn user_from_row((id, email, name, created_at): UserRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(id),
        email: Email::parse(&email)
            .map_err(|e| StoreError::Corrupt(format!("users.email: {e}")))?,
        name: UserName::parse(&name)
            .map_err(|e| StoreError::Corrupt(format!("users.name: {e}")))?,
        created_at: Timestamp::from_unix_seconds(created_at),
    })
}

impl Store {
    /// Creates an account. A second account with the same normalised email is refused with
    /// [`StoreError::EmailTaken`].
    pub async fn create_user(
        &self,
        email: &Email,
        name: &UserName,
        password: &PasswordHash,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        let id = UserId::random();
        let result = with_pool!(self, |pool| {
            sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id.as_str())
                .bind(email.as_str())
                .bind(name.as_str())
                .bind(password.as_str())
                .bind(now.unix_seconds())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        });
        match result {
            Ok(_) => Ok(User {
                id,
                email: email.clone(),
                name: name.clone(),
                created_at: now,
            }),
            Err(e) if is_unique_violation(&e) => Err(StoreError::EmailTaken),
            Err(e) => Err(StoreError::query("create user")(e)),
        }
    }

    pub async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT id, email, name, created_at FROM users WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await
        })
        .map_err(StoreError::query("find user"))?;
        row.map(user_from_row).transpose()
    }

    /// The account and its password hash, for login.
    pub async fn credentials(
        &self,
        email: &Email,
    ) -> Result<Option<(User, PasswordHash)>, StoreError> {
        let row: Option<(String, String, String, i64, String)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, email, name, created_at, password_hash FROM users WHERE email = $1",
            )
            .bind(email.as_str())
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query("find credentials"))?;
        row.map(|(id, email, name, created_at, hash)| {
            Ok((
                user_from_row((id, email, name, created_at))?,
                PasswordHash::from_stored(hash),
            ))
        })
        .transpose()
    }

    /// Every account, oldest first (for `streamhard user list`).
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, email, name, created_at FROM users ORDER BY created_at, email",
            )
            .fetch_all(pool)
            .await
        })
        .map_err(StoreError::query("list users"))?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// Deletes an account with its sessions and history. Returns whether it existed.
    pub async fn delete_user(&self, email: &Email) -> Result<bool, StoreError> {
        let result = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM users WHERE email = $1")
                .bind(email.as_str())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query("delete user"))?;
        Ok(result > 0)
    }
}

impl UserId {
    pub(crate) fn from_stored(stored: String) -> Self {
        Self(stored)
    }
}
