//! Opening the database: which backend, connection options, migrations.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::StoreError;

/// The schema, embedded at build time. The SQL is portable, so both backends run the same files.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for another process's write lock on the SQLite file (the CLI
/// adding a user while the server runs) before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a free connection (or for PostgreSQL to answer).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// A PostgreSQL URL. It may hold a password, so Debug does not show it.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

/// Where the data lives.
#[derive(Clone, Debug)]
pub enum Location {
    /// An SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…`).
    Postgres(DatabaseUrl),
}

impl Location {
    /// `--database-url` when given, else `streamhard.db` in the data directory.
    pub fn from_config(database_url: Option<&str>, data_dir: &Path) -> Self {
        match database_url {
            Some(url) => Location::Postgres(DatabaseUrl::new(url)),
            None => Location::Sqlite(data_dir.join("streamhard.db")),
        }
    }
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The accounts database. Cheap to clone (a connection pool inside).
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Runs `$body` with `$pool` bound to the backend's pool. The body is compiled once per
/// backend, so one piece of portable SQL serves both with their own types.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::pool::Pool::Sqlite($pool) => $body,
            $crate::pool::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Store {
    pub async fn open(location: &Location) -> Result<Self, StoreError> {
        match location {
            Location::Sqlite(path) => Self::open_sqlite(path).await,
            Location::Postgres(url) => Self::open_postgres(url).await,
        }
    }

    /// Opens (creating if needed) an SQLite file in WAL mode, so readers never block the
    /// writer and a second process can use the file at the same time.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let open = |source| StoreError::Open {
            backend: Backend::Sqlite,
            source,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(open)?;
        let store = Self {
            pool: Pool::Sqlite(pool),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// A private in-memory SQLite database (tests): one connection that never closes, since
    /// the data lives only as long as it.
    pub async fn open_sqlite_in_memory() -> Result<Self, StoreError> {
        let open = |source| StoreError::Open {
            backend: Backend::Sqlite,
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(open)?
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(open)?;
        let store = Self {
            pool: Pool::Sqlite(pool),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn open_postgres(url: &DatabaseUrl) -> Result<Self, StoreError> {
        let open = |source| StoreError::Open {
            backend: Backend::Postgres,
            source,
        };
        let options = PgConnectOptions::from_str(url.expose()).map_err(open)?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(open)?;
        let store = Self {
            pool: Pool::Postgres(pool),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let backend = self.backend();
        with_pool!(self, |pool| MIGRATOR.run(pool).await)
            .map_err(|source| StoreError::Migrate { backend, source })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(drop))
        .map_err(StoreError::query("ping"))
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}
