//! Runs one test of this binary again in a child process inside a network namespace that has
//! only loopback: nothing it does can reach another machine. For what must not touch the
//! network at all (resolving a name, when /etc/resolv.conf points off-host, sends a query), and
//! for what needs a process of its own (TLS roots are loaded once per process).
//!
//! A test calls [`in_child`] first: in the test run it starts the child, waits for it and
//! returns `false`; in the child it returns `true` and the test does its work. Needs root and
//! iproute2 (`ip netns`), as the other namespace tests do.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Set in the child's environment.
const CHILD: &str = "STREAMHARD_ISOLATED_CHILD";

static MADE: AtomicU32 = AtomicU32::new(0);

/// Whether this process is the isolated child. If not, runs `test` (this test's full name) in
/// one, printing its output and failing if it fails.
pub fn in_child(test: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let namespace = Namespace::create();
    let exe = std::env::current_exe().expect("this test binary");
    let out = Command::new("ip")
        .args(["netns", "exec", &namespace.name])
        .arg(exe)
        // The parent ran because this test was chosen, ignored or not.
        .args([test, "--exact", "--include-ignored", "--nocapture"])
        .arg("--test-threads=1")
        .env(CHILD, "1")
        .output()
        .expect("run ip netns exec (apt-get install iproute2)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "--- {test} in namespace {} ---\n{stdout}{stderr}",
        namespace.name
    );
    assert!(out.status.success(), "{test} failed in its namespace");
    // A filter that matched nothing would pass too.
    assert!(
        stdout.contains("1 passed"),
        "{test} did not run in its namespace"
    );
    false
}

/// A network namespace with loopback up and nothing else, removed on drop.
struct Namespace {
    name: String,
}

impl Namespace {
    fn create() -> Self {
        let serial = MADE.fetch_add(1, Ordering::Relaxed);
        let name = format!("sh-iso-{}-{serial}", std::process::id());
        let _ = ip(&["netns", "del", &name]);
        ip(&["netns", "add", &name]).expect("ip netns add (needs root)");
        let namespace = Self { name };
        ip(&[
            "netns",
            "exec",
            &namespace.name,
            "ip",
            "link",
            "set",
            "lo",
            "up",
        ])
        .expect("loopback up in the namespace");
        namespace
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
