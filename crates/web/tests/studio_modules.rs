//! The studio's JavaScript: its unit tests (pure modules: layouts, destinations, meters,
//! preflight, backoff…) under `crates/web/studio-tests/`, run with Node's own test runner, and
//! a parse of every module. There is no build step, so this is what catches a typo before a
//! browser does. `scripts/test` installs Node when it is missing.

use std::path::Path;
use std::process::Command;

#[test]
fn the_studio_modules_parse_and_their_unit_tests_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("studio-tests");
    let output = Command::new("node")
        .args(["--experimental-vm-modules", "--no-warnings", "--test"])
        .current_dir(&dir)
        .output()
        .expect("node is needed for the studio's unit tests (scripts/test installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test failed:\n{stdout}\n{stderr}"
    );
    // Node prints "# pass N"; make sure the suite really ran.
    let passed: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        passed >= 20,
        "only {passed} studio unit tests ran:\n{stdout}"
    );
}
