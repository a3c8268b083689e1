//! Errors of the store. They never carry a password, a token or a database URL: the store
//! only ever sees hashes, and connection errors name the backend, not the URL.

use crate::pool::Backend;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the {backend} database: {source}")]
    Open {
        backend: Backend,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot bring the {backend} database schema up to date: {source}")]
    Migrate {
        backend: Backend,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("an account with this email address already exists")]
    EmailTaken,
    #[error("a broadcast with this id already exists")]
    DuplicateBroadcast,
    #[error("database query `{operation}` failed: {source}")]
    Query {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A row this version cannot interpret (edited by hand, or written by a newer version).
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Wraps a sqlx error with the name of the operation that failed, for the log.
    pub(crate) fn query(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { operation, source }
    }
}

/// Whether a failed statement broke a UNIQUE or PRIMARY KEY constraint.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}
