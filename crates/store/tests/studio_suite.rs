//! The studio's per-user settings and logo, run identically on SQLite and on PostgreSQL.

mod support;

use std::time::Duration;

use streamhard_store::{Email, Password, PasswordHash, Store, Timestamp, User, UserName};

const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn at(seconds_after_t0: u64) -> Timestamp {
    T0.saturating_add(Duration::from_secs(seconds_after_t0))
}

async fn add_user(store: &Store, address: &str) -> User {
    let hash =
        PasswordHash::create(&Password::new("correct horse battery".into()).unwrap()).unwrap();
    store
        .create_user(
            &Email::parse(address).unwrap(),
            &UserName::parse("Ann Lee").unwrap(),
            &hash,
            T0,
        )
        .await
        .unwrap()
}

/// Every byte value, NUL and invalid UTF-8 included, repeated to `len` bytes.
fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 256) as u8).collect()
}

async fn settings_are_absent_until_saved_and_each_save_replaces_the_last(store: Store) {
    let ann = add_user(&store, "ann@example.com").await;
    assert_eq!(store.studio_settings(&ann.id).await.unwrap(), None);

    store
        .put_studio_settings(&ann.id, r#"{"bar":{"text":"Hello"}}"#, T0)
        .await
        .unwrap();
    assert_eq!(
        store.studio_settings(&ann.id).await.unwrap().as_deref(),
        Some(r#"{"bar":{"text":"Hello"}}"#)
    );

    store
        .put_studio_settings(&ann.id, r#"{"clock":true,"title":"Ünïcode ✓"}"#, at(5))
        .await
        .unwrap();
    assert_eq!(
        store.studio_settings(&ann.id).await.unwrap().as_deref(),
        Some(r#"{"clock":true,"title":"Ünïcode ✓"}"#)
    );
}

async fn one_users_settings_and_logo_are_not_anothers(store: Store) {
    let ann = add_user(&store, "ann@example.com").await;
    let bob = add_user(&store, "bob@example.com").await;
    store
        .put_studio_settings(&ann.id, r#"{"owner":"ann"}"#, T0)
        .await
        .unwrap();
    store
        .put_logo(&ann.id, "image/png", b"ann's logo", T0)
        .await
        .unwrap();

    assert_eq!(store.studio_settings(&bob.id).await.unwrap(), None);
    assert_eq!(store.logo(&bob.id).await.unwrap(), None);
    assert!(!store.delete_logo(&bob.id).await.unwrap());
    assert!(store.logo(&ann.id).await.unwrap().is_some());
}

async fn a_logo_comes_back_byte_for_byte_with_its_type_hash_and_time(store: Store) {
    let ann = add_user(&store, "ann@example.com").await;
    assert_eq!(store.logo(&ann.id).await.unwrap(), None);

    let bytes = binary(512 * 1024);
    let saved = store
        .put_logo(&ann.id, "image/webp", &bytes, at(7))
        .await
        .unwrap();
    let found = store.logo(&ann.id).await.unwrap().expect("the logo");
    assert_eq!(found, saved);
    assert_eq!(found.content_type, "image/webp");
    assert_eq!(found.bytes, bytes);
    assert_eq!(found.updated_at, at(7));
    assert_eq!(found.sha256.len(), 64);
}

async fn the_logo_hash_is_the_sha256_of_its_bytes(store: Store) {
    let ann = add_user(&store, "ann@example.com").await;
    // The FIPS 180-2 test vector for "abc".
    let logo = store
        .put_logo(&ann.id, "image/gif", b"abc", T0)
        .await
        .unwrap();
    assert_eq!(
        logo.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        store.logo(&ann.id).await.unwrap().unwrap().sha256,
        logo.sha256
    );
}

async fn uploading_a_logo_replaces_the_previous_one_and_deleting_removes_it(store: Store) {
    let ann = add_user(&store, "ann@example.com").await;
    store
        .put_logo(&ann.id, "image/png", &binary(1000), T0)
        .await
        .unwrap();
    let second = store
        .put_logo(&ann.id, "image/jpeg", b"second", at(60))
        .await
        .unwrap();
    assert_eq!(store.logo(&ann.id).await.unwrap(), Some(second));

    assert!(store.delete_logo(&ann.id).await.unwrap());
    assert_eq!(store.logo(&ann.id).await.unwrap(), None);
    assert!(!store.delete_logo(&ann.id).await.unwrap());
}

async fn deleting_a_user_deletes_their_settings_and_logo(store: Store) {
    let ann = add_user(&store, "ann@example.com").await;
    store.put_studio_settings(&ann.id, "{}", T0).await.unwrap();
    store
        .put_logo(&ann.id, "image/png", b"logo", T0)
        .await
        .unwrap();

    assert!(store.delete_user(&ann.email).await.unwrap());
    assert_eq!(store.studio_settings(&ann.id).await.unwrap(), None);
    assert_eq!(store.logo(&ann.id).await.unwrap(), None);
}

async fn settings_cannot_be_saved_for_a_user_that_does_not_exist(store: Store) {
    let ann = add_user(&store, "ann@example.com").await;
    store.delete_user(&ann.email).await.unwrap();
    assert!(store.put_studio_settings(&ann.id, "{}", T0).await.is_err());
    assert!(
        store
            .put_logo(&ann.id, "image/png", b"x", T0)
            .await
            .is_err()
    );
}

on_both_backends!(
    settings_are_absent_until_saved_and_each_save_replaces_the_last,
    one_users_settings_and_logo_are_not_anothers,
    a_logo_comes_back_byte_for_byte_with_its_type_hash_and_time,
    the_logo_hash_is_the_sha256_of_its_bytes,
    uploading_a_logo_replaces_the_previous_one_and_deleting_removes_it,
    deleting_a_user_deletes_their_settings_and_logo,
    settings_cannot_be_saved_for_a_user_that_does_not_exist,
);
