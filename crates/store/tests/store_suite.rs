//! The store's behaviour, run identically on SQLite and on PostgreSQL.

mod support;

use std::time::Duration;

use streamhard_store::{
    Email, NewBroadcast, Password, PasswordHash, Platform, SESSION_TOUCH_INTERVAL, SecretToken,
    Store, StoreError, Timestamp, User, UserName,
};

const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

fn at(seconds_after_t0: u64) -> Timestamp {
    T0.saturating_add(Duration::from_secs(seconds_after_t0))
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

async fn add_user(store: &Store, address: &str, password: &str) -> User {
    let hash = PasswordHash::create(&Password::new(password.to_owned()).unwrap()).unwrap();
    store
        .create_user(
            &email(address),
            &UserName::parse("Ann Lee").unwrap(),
            &hash,
            T0,
        )
        .await
        .unwrap()
}

fn broadcast<'a>(
    id: &'a str,
    owner: &'a User,
    token: &'a streamhard_store::TokenHash,
    destinations: &'a [Platform],
) -> NewBroadcast<'a> {
    NewBroadcast {
        id,
        owner: &owner.id,
        node: "",
        token,
        created_at: T0,
        destinations,
    }
}

async fn creates_a_user_and_finds_it_by_id_and_by_email(store: Store) {
    let user = add_user(&store, "Ann@Example.com", "correct horse battery").await;
    assert_eq!(user.email.as_str(), "ann@example.com");
    assert_eq!(store.user(&user.id).await.unwrap(), Some(user.clone()));
    let (found, hash) = store
        .credentials(&email("ANN@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, user);
    assert!(
        hash.verify(&Password::for_login("correct horse battery".into()).unwrap())
            .unwrap()
    );
    assert!(
        !hash
            .verify(&Password::for_login("wrong horse battery".into()).unwrap())
            .unwrap()
    );
    assert_eq!(
        store.credentials(&email("bob@example.com")).await.unwrap(),
        None
    );
}

async fn emails_are_unique_after_normalisation(store: Store) {
    add_user(&store, "ann@example.com", "correct horse battery").await;
    let hash = PasswordHash::create(&Password::new("another password".into()).unwrap()).unwrap();
    let again = store
        .create_user(
            &email("  ANN@example.COM "),
            &UserName::parse("Impostor").unwrap(),
            &hash,
            T0,
        )
        .await;
    assert!(matches!(again, Err(StoreError::EmailTaken)), "{again:?}");
    assert_eq!(store.users().await.unwrap().len(), 1);
}

async fn lists_users_oldest_first_and_deleting_one_removes_its_sessions_and_history(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let hash =
        PasswordHash::create(&Password::new("correct horse battery".into()).unwrap()).unwrap();
    let bob = store
        .create_user(
            &email("bob@example.com"),
            &UserName::parse("Bob").unwrap(),
            &hash,
            at(10),
        )
        .await
        .unwrap();
    let listed: Vec<_> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email.to_string())
        .collect();
    assert_eq!(listed, ["ann@example.com", "bob@example.com"]);

    let session = SecretToken::generate();
    store
        .create_session(&session, &ann.id, T0, DAY)
        .await
        .unwrap();
    let token = SecretToken::generate().hash();
    store
        .record_broadcast(&broadcast("b1", &ann, &token, &[Platform::Twitch]))
        .await
        .unwrap();

    assert!(store.delete_user(&ann.email).await.unwrap());
    assert!(!store.delete_user(&ann.email).await.unwrap());
    assert_eq!(store.session_user(&session, T0, HOUR).await.unwrap(), None);
    assert_eq!(store.broadcast("b1").await.unwrap(), None);
    assert_eq!(store.users().await.unwrap(), vec![bob]);
}

async fn a_session_finds_its_user_until_it_is_revoked(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let session = SecretToken::generate();
    store
        .create_session(&session, &ann.id, T0, DAY)
        .await
        .unwrap();
    assert_eq!(
        store.session_user(&session, at(5), HOUR).await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(
        store
            .session_user(&SecretToken::generate(), at(5), HOUR)
            .await
            .unwrap(),
        None
    );
    assert!(store.revoke_session(&session).await.unwrap());
    assert_eq!(
        store.session_user(&session, at(6), HOUR).await.unwrap(),
        None
    );
    assert!(!store.revoke_session(&session).await.unwrap());
}

async fn a_session_ends_at_its_absolute_expiry_however_often_it_is_used(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let session = SecretToken::generate();
    store
        .create_session(&session, &ann.id, T0, 3 * HOUR)
        .await
        .unwrap();
    // Used every 30 minutes, so never idle for an hour.
    for minutes in (30..180).step_by(30) {
        assert!(
            store
                .session_user(&session, at(minutes * 60), HOUR)
                .await
                .unwrap()
                .is_some(),
            "{minutes} min"
        );
    }
    assert_eq!(
        store
            .session_user(&session, at(3 * 3600), HOUR)
            .await
            .unwrap(),
        None
    );
}

async fn a_session_ends_after_idle_time_and_each_use_postpones_that(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let session = SecretToken::generate();
    store
        .create_session(&session, &ann.id, T0, DAY)
        .await
        .unwrap();
    assert!(
        store
            .session_user(&session, at(3000), HOUR)
            .await
            .unwrap()
            .is_some()
    );
    // Idle for 59 minutes after that use: still valid.
    assert!(
        store
            .session_user(&session, at(3000 + 3540), HOUR)
            .await
            .unwrap()
            .is_some()
    );
    // An hour after the last use: gone, and it stays gone.
    assert_eq!(
        store
            .session_user(&session, at(3000 + 3540 + 3600), HOUR)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .session_user(&session, at(3000 + 3540 + 3601), DAY)
            .await
            .unwrap(),
        None
    );
}

async fn uses_closer_together_than_the_touch_interval_do_not_extend_a_session(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let session = SecretToken::generate();
    store
        .create_session(&session, &ann.id, T0, DAY)
        .await
        .unwrap();
    let just_under = SESSION_TOUCH_INTERVAL.as_secs() - 1;
    assert!(
        store
            .session_user(&session, at(just_under), Duration::from_secs(90))
            .await
            .unwrap()
            .is_some()
    );
    // last_seen_at stayed at T0, so 90 s of idleness are counted from there.
    assert_eq!(
        store
            .session_user(&session, at(90), Duration::from_secs(90))
            .await
            .unwrap(),
        None
    );
}

async fn purging_removes_only_expired_sessions(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let (old, fresh, short) = (
        SecretToken::generate(),
        SecretToken::generate(),
        SecretToken::generate(),
    );
    store.create_session(&old, &ann.id, T0, DAY).await.unwrap();
    store
        .create_session(&fresh, &ann.id, at(3000), DAY)
        .await
        .unwrap();
    store
        .create_session(&short, &ann.id, at(3000), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.purge_expired_sessions(at(3700), HOUR).await.unwrap(),
        2
    );
    assert!(
        store
            .session_user(&fresh, at(3700), HOUR)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.revoke_sessions_of(&ann.id).await.unwrap(), 1);
    assert_eq!(
        store.session_user(&fresh, at(3700), HOUR).await.unwrap(),
        None
    );
}

async fn a_login_past_the_cap_ends_the_least_recently_used_sessions_only(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let bob = store
        .create_user(
            &email("bob@example.com"),
            &UserName::parse("Bob").unwrap(),
            &PasswordHash::create(&Password::new("correct horse battery".into()).unwrap()).unwrap(),
            T0,
        )
        .await
        .unwrap();
    let bobs = SecretToken::generate();
    store.create_session(&bobs, &bob.id, T0, DAY).await.unwrap();
    // Four logins of Ann, the first one still in use.
    let ann_sessions: Vec<_> = (0..4).map(|_| SecretToken::generate()).collect();
    for (i, token) in ann_sessions.iter().enumerate() {
        store
            .create_session(token, &ann.id, at(100 * i as u64), DAY)
            .await
            .unwrap();
    }
    assert!(
        store
            .session_user(&ann_sessions[0], at(400), DAY)
            .await
            .unwrap()
            .is_some()
    );
    // A fifth login with a cap of 3: it, the one in use and the newest other stay.
    let login = SecretToken::generate();
    store
        .create_session(&login, &ann.id, at(500), DAY)
        .await
        .unwrap();
    assert_eq!(
        store.prune_sessions_of(&ann.id, &login, 3).await.unwrap(),
        2
    );
    for (token, alive) in [
        (&login, true),
        (&ann_sessions[0], true),
        (&ann_sessions[3], true),
        (&ann_sessions[1], false),
        (&ann_sessions[2], false),
    ] {
        let found = store.session_user(token, at(510), DAY).await.unwrap();
        assert_eq!(found.is_some(), alive);
    }
    // Logins within one second: the one just made always survives its own pruning.
    for _ in 0..5 {
        let login = SecretToken::generate();
        store
            .create_session(&login, &ann.id, at(600), DAY)
            .await
            .unwrap();
        store.prune_sessions_of(&ann.id, &login, 3).await.unwrap();
        assert!(
            store
                .session_user(&login, at(600), DAY)
                .await
                .unwrap()
                .is_some()
        );
    }
    assert!(
        store
            .session_user(&bobs, at(600), DAY)
            .await
            .unwrap()
            .is_some(),
        "another account's sessions are not touched"
    );
    assert_eq!(store.revoke_sessions_of(&ann.id).await.unwrap(), 3);
}

async fn history_records_counts_and_platform_names_and_how_long_it_ran(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let token = SecretToken::generate();
    let destinations = [Platform::YouTube, Platform::Twitch, Platform::YouTube];
    store
        .record_broadcast(&broadcast("b1", &ann, &token.hash(), &destinations))
        .await
        .unwrap();
    let live = store.broadcast("b1").await.unwrap().unwrap();
    assert_eq!(live.owner, ann.id);
    assert_eq!(live.destination_count, 3);
    assert_eq!(live.platforms, [Platform::Twitch, Platform::YouTube]);
    assert_eq!((live.ended_at, live.duration()), (None, None));

    assert!(store.end_broadcast("b1", at(754)).await.unwrap());
    let ended = store.broadcast("b1").await.unwrap().unwrap();
    assert_eq!(ended.ended_at, Some(at(754)));
    assert_eq!(ended.duration(), Some(Duration::from_secs(754)));
    // The first end wins.
    assert!(!store.end_broadcast("b1", at(900)).await.unwrap());
    assert_eq!(
        store.broadcast("b1").await.unwrap().unwrap().ended_at,
        Some(at(754))
    );
}

async fn destinations_added_while_live_join_the_history_but_not_after_the_end(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let token = SecretToken::generate().hash();
    store
        .record_broadcast(&broadcast("b1", &ann, &token, &[Platform::Twitch]))
        .await
        .unwrap();
    assert!(
        store
            .add_broadcast_destinations("b1", &[Platform::Custom, Platform::Twitch])
            .await
            .unwrap()
    );
    let record = store.broadcast("b1").await.unwrap().unwrap();
    assert_eq!(record.destination_count, 3);
    assert_eq!(record.platforms, [Platform::Twitch, Platform::Custom]);
    store.end_broadcast("b1", at(60)).await.unwrap();
    assert!(
        !store
            .add_broadcast_destinations("b1", &[Platform::Kick])
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_broadcast_destinations("nope", &[Platform::Kick])
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .broadcast("b1")
            .await
            .unwrap()
            .unwrap()
            .destination_count,
        3
    );
}

async fn a_broadcast_id_is_recorded_once(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let token = SecretToken::generate().hash();
    store
        .record_broadcast(&broadcast("b1", &ann, &token, &[]))
        .await
        .unwrap();
    let again = store
        .record_broadcast(&broadcast("b1", &ann, &token, &[]))
        .await;
    assert!(
        matches!(again, Err(StoreError::DuplicateBroadcast)),
        "{again:?}"
    );
}

async fn a_users_broadcasts_are_listed_newest_first_without_anyone_elses(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let bob = add_user(&store, "bob@example.com", "correct horse battery").await;
    let token = SecretToken::generate().hash();
    for (i, id) in ["a1", "a2", "a3"].into_iter().enumerate() {
        let mut new = broadcast(id, &ann, &token, &[Platform::Twitch]);
        new.created_at = at(i as u64 * 100);
        store.record_broadcast(&new).await.unwrap();
    }
    store
        .record_broadcast(&broadcast("b1", &bob, &token, &[]))
        .await
        .unwrap();
    let ids = |records: Vec<streamhard_store::BroadcastRecord>| {
        records.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.broadcasts_of(&ann.id, 10).await.unwrap()),
        ["a3", "a2", "a1"]
    );
    assert_eq!(
        ids(store.broadcasts_of(&ann.id, 2).await.unwrap()),
        ["a3", "a2"]
    );
    assert_eq!(ids(store.broadcasts_of(&bob.id, 10).await.unwrap()), ["b1"]);
}

async fn open_broadcasts_are_counted_per_user_and_ended_per_node(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let token = SecretToken::generate().hash();
    for (id, node) in [("a1", "node-a"), ("a2", "node-a"), ("a3", "node-b")] {
        let mut new = broadcast(id, &ann, &token, &[]);
        new.node = node;
        store.record_broadcast(&new).await.unwrap();
    }
    assert_eq!(store.open_broadcast_count(&ann.id).await.unwrap(), 3);
    store.end_broadcast("a1", at(5)).await.unwrap();
    assert_eq!(store.open_broadcast_count(&ann.id).await.unwrap(), 2);
    // node-a restarts: what it held is over; node-b's broadcast is untouched.
    assert_eq!(
        store.end_broadcasts_of_node("node-a", at(9)).await.unwrap(),
        1
    );
    assert_eq!(store.open_broadcast_count(&ann.id).await.unwrap(), 1);
    assert_eq!(
        store.broadcast("a1").await.unwrap().unwrap().ended_at,
        Some(at(5))
    );
    assert_eq!(store.broadcast("a3").await.unwrap().unwrap().ended_at, None);
}

async fn a_broadcast_token_is_kept_as_a_hash_and_only_while_live(store: Store) {
    let ann = add_user(&store, "ann@example.com", "correct horse battery").await;
    let token = SecretToken::generate();
    store
        .record_broadcast(&broadcast("b1", &ann, &token.hash(), &[]))
        .await
        .unwrap();
    let (owner, hash) = store.live_broadcast_token("b1").await.unwrap().unwrap();
    assert_eq!(owner, ann.id);
    assert!(hash.matches(&token));
    assert!(!hash.matches(&SecretToken::generate()));
    store.end_broadcast("b1", at(1)).await.unwrap();
    assert_eq!(store.live_broadcast_token("b1").await.unwrap(), None);
}

async fn the_database_answers_a_ping(store: Store) {
    store.ping().await.unwrap();
}

on_both_backends!(
    creates_a_user_and_finds_it_by_id_and_by_email,
    emails_are_unique_after_normalisation,
    lists_users_oldest_first_and_deleting_one_removes_its_sessions_and_history,
    a_session_finds_its_user_until_it_is_revoked,
    a_session_ends_at_its_absolute_expiry_however_often_it_is_used,
    a_session_ends_after_idle_time_and_each_use_postpones_that,
    uses_closer_together_than_the_touch_interval_do_not_extend_a_session,
    purging_removes_only_expired_sessions,
    a_login_past_the_cap_ends_the_least_recently_used_sessions_only,
    history_records_counts_and_platform_names_and_how_long_it_ran,
    destinations_added_while_live_join_the_history_but_not_after_the_end,
    a_broadcast_id_is_recorded_once,
    a_users_broadcasts_are_listed_newest_first_without_anyone_elses,
    open_broadcasts_are_counted_per_user_and_ended_per_node,
    a_broadcast_token_is_kept_as_a_hash_and_only_while_live,
    the_database_answers_a_ping,
);
