//! Password hashing does not keep memory: argon2id takes 19 MiB a hash, and logins used to
//! leave the process at hundreds of MB for good. Also: past a short queue, logins are told
//! to come back (503 + Retry-After) rather than piling up.

mod common;

use common::Server;
use serde_json::json;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_logins_eight_at_a_time_leave_the_server_under_100_mb() {
    let server = Server::start(&[], &[]);
    server.session_cookie().await; // signs up owner@example.com
    let before = rss_kib(server.pid());
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..100 / 8 + 1 {
        let round: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn(
                    client
                        .post(format!("{}/api/auth/login", server.http))
                        .header("origin", &server.http)
                        .json(&json!({"email": "owner@example.com", "password": "correct horse battery"}))
                        .send(),
                )
            })
            .collect();
        for login in round {
            statuses.push(login.await.unwrap().expect("login").status().as_u16());
        }
    }
    let after = rss_kib(server.pid());
    println!(
        "RSS before {} MiB, after {} logins {} MiB",
        before / 1024,
        statuses.len(),
        after / 1024
    );
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    assert!(
        statuses.iter().all(|s| [200, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(ok >= 90, "only {ok} logins went through: {statuses:?}");
    assert!(after < 100 * 1024, "RSS {after} KiB after the logins");
}
