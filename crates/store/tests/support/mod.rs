//! Runs one store test on a fresh SQLite file or a fresh PostgreSQL database.
//!
//! PostgreSQL: the server at `STREAMHARD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) gets a new database `streamhard_test_<random>`
//! per test, dropped afterwards even when the test fails. When no server answers the tests
//! fail with a message saying so, unless `STREAMHARD_SKIP_POSTGRES=1` is set explicitly.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use rand::RngCore;
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use streamhard_store::{DatabaseUrl, Store};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open_sqlite(&dir.path().join("test.db"))
        .await
        .expect("SQLite opens");
    test(store.clone()).await;
    store.close().await;
}

pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if std::env::var("STREAMHARD_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
        eprintln!("STREAMHARD_SKIP_POSTGRES=1: not running this test on PostgreSQL");
        return;
    }
    let admin_url = std::env::var("STREAMHARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    let admin_options = PgConnectOptions::from_str(&admin_url)
        .expect("STREAMHARD_TEST_POSTGRES_URL is a postgres:// URL");
    let mut admin = match tokio::time::timeout(Duration::from_secs(10), admin_options.connect())
        .await
    {
        Ok(Ok(connection)) => connection,
        Ok(Err(e)) => panic!(
            "PostgreSQL is not reachable at {}:{} ({e}). The store suite runs on PostgreSQL too: start it \
             (.ci/run does), point STREAMHARD_TEST_POSTGRES_URL at one, or set STREAMHARD_SKIP_POSTGRES=1 to skip",
            admin_options.get_host(),
            admin_options.get_port()
        ),
        Err(_) => panic!(
            "PostgreSQL at {}:{} did not answer within 10 s. Start it (.ci/run does), point \
             STREAMHARD_TEST_POSTGRES_URL at one, or set STREAMHARD_SKIP_POSTGRES=1 to skip",
            admin_options.get_host(),
            admin_options.get_port()
        ),
    };

    let mut suffix = [0u8; 8];
    rand::rng().fill_bytes(&mut suffix);
    let database = format!(
        "streamhard_test_{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&mut admin)
        .await
        .expect("CREATE DATABASE");

    let url = admin_options
        .clone()
        .database(&database)
        .to_url_lossy()
        .to_string();
    let store = Store::open_postgres(&DatabaseUrl::new(url))
        .await
        .expect("the fresh PostgreSQL database opens");
    // Run the test as its own task so a failing assertion comes back as an error here and
    // the database is dropped before the failure is reported.
    let outcome = tokio::spawn(test(store.clone())).await;
    store.close().await;
    sqlx::query(&format!("DROP DATABASE {database} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("DROP DATABASE");
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
}

/// Generates `sqlite::<test>` and `postgres::<test>` for each test function `async fn(Store)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    $crate::support::on_sqlite(super::$test).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    $crate::support::on_postgres(super::$test).await
                }
            )*
        }
    };
}
