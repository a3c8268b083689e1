//! Several nodes on one PostgreSQL: each ends at start only the broadcasts it left open
//! itself, never another node's live ones.

mod common;

use std::process::Command;

use common::Server;
use rand::RngCore;

/// A fresh database on the test PostgreSQL (127.0.0.1:5432, as scripts/test starts it),
/// dropped when this is dropped.
struct Database {
    name: String,
}

impl Database {
    fn create() -> Database {
        let mut bytes = [0u8; 6];
        rand::rng().fill_bytes(&mut bytes);
        let name = format!(
            "streamhard_nodes_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        psql(&format!("CREATE DATABASE {name}"));
        Database { name }
    }

    /// The single value `sql` selects, as psql prints it (`t`/`f` for booleans).
    fn query(&self, sql: &str) -> String {
        psql_in(&self.name, sql)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn psql(sql: &str) {
    psql_in("postgres", sql);
}

/// Runs `sql` in `database` on the test server; what it printed (unaligned, tuples only).
fn psql_in(database: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            database,
            "-tAc",
            sql,
        ])
        .output()
        .expect("psql (scripts/test makes sure PostgreSQL answers on 127.0.0.1:5432)");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_starting_on_a_shared_database_leaves_other_nodes_broadcasts_running() {
    let db = Database::create();
    let url = db.url();
    let a = Server::start(&["--database-url", &url, "--node-id", "node-a"], &[]);
    // Nothing listens there: the destination retries, which is all this test needs.
    let (id, _whip, token) = a
        .create_broadcast(&[("one", "rtmp://127.0.0.1:9/live/KEY".to_owned())])
        .await;

    let b = Server::start(&["--database-url", &url, "--node-id", "node-b"], &[]);
    let seen_from_b = b.broadcast(&id, &token).await;
    assert_ne!(seen_from_b["state"], "ended", "{seen_from_b}");
    assert!(b.log().contains("node-b"), "B logs its id");
    let seen_from_a = a.broadcast(&id, &token).await;
    assert_ne!(seen_from_a["state"], "ended", "{seen_from_a}");
    drop(b);

    // A comes back after a crash (SIGKILL: no clean end): its own broadcast is ended at start.
    drop(a);
    let ended = |db: &Database| {
        db.query(&format!(
            "SELECT ended_at IS NOT NULL FROM broadcasts WHERE id = '{id}'"
        ))
    };
    assert_eq!(ended(&db), "f", "still open while no node-a runs");
    let _again = Server::start(&["--database-url", &url, "--node-id", "node-a"], &[]);
    assert_eq!(ended(&db), "t", "node-a ended its own broadcast at start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_an_id_makes_one_and_keeps_it_in_its_data_directory() {
    let server = Server::start(&[], &[]);
    let path = server.data_dir().join("node-id");
    let first = std::fs::read_to_string(&path).expect("node-id written");
    let stopped = server.stop_keeping_data();
    let again = Server::start_in(stopped.dir, "127.0.0.1:0", &[], &[]);
    let second = std::fs::read_to_string(again.data_dir().join("node-id")).unwrap();
    assert_eq!(first, second);
    assert!(first.trim().starts_with("node-"), "{first}");
    assert!(again.log().contains(first.trim()), "the id is logged");
}
