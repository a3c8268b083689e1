//! What only the SQLite backend has: a file on disk that two processes share.

use std::time::Duration;

use streamhard_store::{Email, Password, PasswordHash, SecretToken, Store, Timestamp, UserName};

const NOW: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

async fn add(store: &Store, address: &str) {
    let hash =
        PasswordHash::create(&Password::new("correct horse battery".into()).unwrap()).unwrap();
    store
        .create_user(
            &Email::parse(address).unwrap(),
            &UserName::parse("X").unwrap(),
            &hash,
            NOW,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn two_stores_on_one_file_write_concurrently_and_see_each_others_rows() {
    // The server and `streamhard user add` each open the file with their own pool.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamhard.db");
    let server = Store::open_sqlite(&path).await.unwrap();
    let cli = Store::open_sqlite(&path).await.unwrap();
    let writes = (0..20).map(|i| {
        let store = if i % 2 == 0 {
            server.clone()
        } else {
            cli.clone()
        };
        tokio::spawn(async move { add(&store, &format!("user{i}@example.com")).await })
    });
    for write in writes.collect::<Vec<_>>() {
        write.await.unwrap();
    }
    assert_eq!(server.users().await.unwrap().len(), 20);
    assert_eq!(cli.users().await.unwrap().len(), 20);
}

#[tokio::test]
async fn the_file_holds_no_password_and_no_session_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamhard.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    let password = "recognisable-password-4711";
    let hash = PasswordHash::create(&Password::new(password.into()).unwrap()).unwrap();
    let user = store
        .create_user(
            &Email::parse("ann@example.com").unwrap(),
            &UserName::parse("Ann").unwrap(),
            &hash,
            NOW,
        )
        .await
        .unwrap();
    let token = SecretToken::generate();
    store
        .create_session(&token, &user.id, NOW, Duration::from_secs(3600))
        .await
        .unwrap();
    store.close().await;

    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains("ann@example.com"),
        "the check reads the database's content"
    );
    assert!(contains(token.hash().as_str()));
    assert!(!contains(password));
    assert!(!contains(token.expose()));
}

#[tokio::test]
async fn opening_an_existing_file_again_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamhard.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    add(&store, "ann@example.com").await;
    store.close().await;
    let reopened = Store::open_sqlite(&path).await.unwrap();
    assert_eq!(reopened.users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_in_memory_store_keeps_its_rows_across_queries() {
    let store = Store::open_sqlite_in_memory().await.unwrap();
    add(&store, "ann@example.com").await;
    add(&store, "bob@example.com").await;
    assert_eq!(store.users().await.unwrap().len(), 2);
}
