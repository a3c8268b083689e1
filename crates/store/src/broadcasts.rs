//! Broadcast history: who broadcast when, for how long, to how many destinations on which
//! platforms. Also the hash of each broadcast's WHIP token and the node holding it, so another
//! node sharing the database can authenticate and redirect.
//!
//! No column can hold a URL: destinations are recorded as [`Platform`] values only.

use std::time::Duration;

use crate::error::{StoreError, is_unique_violation};
use crate::platform::{self, Platform};
use crate::pool::{Store, with_pool};
use crate::time::Timestamp;
use crate::token::TokenHash;
use crate::users::UserId;

/// What is recorded when a broadcast is created.
#[derive(Clone, Debug)]
pub struct NewBroadcast<'a> {
    pub id: &'a str,
    pub owner: &'a UserId,
    /// The node holding it live (empty for a single-node deployment).
    pub node: &'a str,
    pub token: &'a TokenHash,
    pub created_at: Timestamp,
    /// One entry per destination.
    pub destinations: &'a [Platform],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BroadcastRecord {
    pub id: String,
    pub owner: UserId,
    pub node: String,
    pub created_at: Timestamp,
    /// `None` while live.
    pub ended_at: Option<Timestamp>,
    /// Destinations it ever had, including those added while live.
    pub destination_count: u64,
    /// The platforms among them, sorted, each once.
    pub platforms: Vec<Platform>,
}

impl BroadcastRecord {
    /// How long it ran; `None` while live.
    pub fn duration(&self) -> Option<Duration> {
        self.ended_at.map(|end| end.since(self.created_at))
    }
}

type Row = (String, String, String, i64, Option<i64>, i64, String);
const COLUMNS: &str = "id, user_id, node, created_at, ended_at, destination_count, platforms";

fn from_row(
    (id, owner, node, created_at, ended_at, count, platforms): Row,
) -> Result<BroadcastRecord, StoreError> {
    Ok(BroadcastRecord {
        id,
        owner: UserId::from_stored(owner),
        node,
        created_at: Timestamp::from_unix_seconds(created_at),
        ended_at: ended_at.map(Timestamp::from_unix_seconds),
        destination_count: u64::try_from(count)
            .map_err(|_| StoreError::Corrupt(format!("broadcasts.destination_count: {count}")))?,
        platforms: platform::split(&platforms)
            .map_err(|e| StoreError::Corrupt(format!("broadcasts.platforms: {e}")))?,
    })
}

fn count_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    pub async fn record_broadcast(&self, new: &NewBroadcast<'_>) -> Result<(), StoreError> {
        let result = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO broadcasts (id, user_id, node, token_hash, created_at, ended_at, destination_count, platforms) \
                 VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)",
            )
            .bind(new.id)
            .bind(new.owner.as_str())
            .bind(new.node)
            .bind(new.token.as_str())
            .bind(new.created_at.unix_seconds())
            .bind(count_i64(new.destinations.len()))
            .bind(platform::join(new.destinations))
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateBroadcast),
            Err(e) => Err(StoreError::query("record broadcast")(e)),
        }
    }

    /// Records destinations added while live. Returns false if the broadcast is unknown or over.
    pub async fn add_broadcast_destinations(
        &self,
        id: &str,
        added: &[Platform],
    ) -> Result<bool, StoreError> {
        // Read-modify-write of the platform set in one transaction, so two concurrent
        // additions cannot lose each other's platform.
        let updated = with_pool!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let current: Option<(String,)> =
                    sqlx::query_as("SELECT platforms FROM broadcasts WHERE id = $1 AND ended_at IS NULL")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some((current,)) = current else {
                    return Ok::<_, sqlx::Error>(Err(()));
                };
                let mut all = added.to_vec();
                // A name this version does not know (written by a newer one) fails the update
                // rather than being dropped from the history.
                all.extend(platform::split(&current).map_err(|e| sqlx::Error::Decode(e.into()))?);
                sqlx::query(
                    "UPDATE broadcasts SET destination_count = destination_count + $2, platforms = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(count_i64(added.len()))
                .bind(platform::join(&all))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Ok(()))
            }
            .await
        })
        .map_err(StoreError::query("add broadcast destinations"))?;
        Ok(updated.is_ok())
    }

    /// Marks a broadcast as over. Returns false if unknown or already over (the first end wins).
    pub async fn end_broadcast(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let n = with_pool!(self, |pool| {
            sqlx::query("UPDATE broadcasts SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL")
                .bind(id)
                .bind(now.unix_seconds())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query("end broadcast"))?;
        Ok(n > 0)
    }

    /// Ends every broadcast `node` left open, e.g. at start after a crash: live broadcasts do
    /// not survive a restart (their stream keys were only in memory).
    pub async fn end_broadcasts_of_node(
        &self,
        node: &str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE broadcasts SET ended_at = $2 WHERE node = $1 AND ended_at IS NULL")
                .bind(node)
                .bind(now.unix_seconds())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query("end broadcasts of node"))
    }

    pub async fn broadcast(&self, id: &str) -> Result<Option<BroadcastRecord>, StoreError> {
        let row: Option<Row> = with_pool!(self, |pool| {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM broadcasts WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(StoreError::query("find broadcast"))?;
        row.map(from_row).transpose()
    }

    /// The hash of a broadcast's WHIP token, while it is live.
    pub async fn live_broadcast_token(
        &self,
        id: &str,
    ) -> Result<Option<(UserId, TokenHash)>, StoreError> {
        let row: Option<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT user_id, token_hash FROM broadcasts WHERE id = $1 AND ended_at IS NULL",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query("find broadcast token"))?;
        Ok(row.map(|(owner, hash)| (UserId::from_stored(owner), TokenHash::from_stored(hash))))
    }

    /// A user's broadcasts, newest first, at most `limit`.
    pub async fn broadcasts_of(
        &self,
        owner: &UserId,
        limit: u32,
    ) -> Result<Vec<BroadcastRecord>, StoreError> {
        let rows: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM broadcasts WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2"
            ))
            .bind(owner.as_str())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .map_err(StoreError::query("list broadcasts"))?;
        rows.into_iter().map(from_row).collect()
    }

    /// How many broadcasts of a user are not over (for the per-user limit).
    pub async fn open_broadcast_count(&self, owner: &UserId) -> Result<u64, StoreError> {
        let (n,): (i64,) = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*) FROM broadcasts WHERE user_id = $1 AND ended_at IS NULL",
            )
            .bind(owner.as_str())
            .fetch_one(pool)
            .await
        })
        .map_err(StoreError::query("count open broadcasts"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
