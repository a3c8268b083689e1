//! `streamhard user add|list|delete` against the data directory of a running server.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::Server;
use serde_json::json;

fn user_command(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_streamhard"))
        .arg("user")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn streamhard user");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

async fn login(server: &Server, email: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/api/auth/login", server.http))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

#[tokio::test]
async fn accounts_made_from_the_shell_while_the_server_runs_log_in_and_deleted_ones_do_not() {
    let server = Server::start(&["--disable-signup"], &[]);
    let dir = server.data_dir();

    let added = user_command(
        dir,
        &[
            "add",
            "--email",
            "Ops@Example.com",
            "--name",
            "Ops",
            "--password-stdin",
        ],
        "a long passphrase\n",
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(String::from_utf8_lossy(&added.stdout).contains("ops@example.com"));
    assert_eq!(
        login(&server, "ops@example.com", "a long passphrase").await,
        200
    );

    let listed = user_command(dir, &["list"], "");
    assert!(listed.status.success());
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("ops@example.com") && listed.contains("Ops"),
        "{listed}"
    );
    assert!(!listed.contains("passphrase") && !listed.contains("argon2"));

    let again = user_command(
        dir,
        &[
            "add",
            "--email",
            "ops@example.com",
            "--name",
            "X",
            "--password-stdin",
        ],
        "another passphrase\n",
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));

    let deleted = user_command(dir, &["delete", "--email", "ops@example.com"], "");
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert_eq!(
        login(&server, "ops@example.com", "a long passphrase").await,
        401
    );
    assert!(!server.log().contains("a long passphrase"));
}

#[tokio::test]
async fn user_add_insists_on_stdin_and_a_long_enough_password() {
    let dir = tempfile::tempdir().unwrap();
    let no_stdin = user_command(
        dir.path(),
        &["add", "--email", "a@example.com", "--name", "A"],
        "",
    );
    assert!(!no_stdin.status.success());
    assert!(String::from_utf8_lossy(&no_stdin.stderr).contains("--password-stdin"));
    let short = user_command(
        dir.path(),
        &[
            "add",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));
    let listed = user_command(dir.path(), &["list"], "");
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("a@example.com"));
}
