//! The studio as a streamer uses it: every step finds its control by role and accessible
//! name (the contract in the studio's README section), and each step can leave a screenshot.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use streamhard_testkit::browser::{Control, Page};

/// How long the studio may take to reach a state that involves the network (ICE, RTMP).
pub const LIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Screenshots of one test's steps: `target/studio-screenshots/{prefix}NN-{step}.png`.
pub struct Screenshots {
    dir: PathBuf,
    prefix: &'static str,
    taken: std::sync::atomic::AtomicU32,
}

impl Screenshots {
    /// Screenshots named `{prefix}NN-…`; those of an earlier run are removed.
    pub fn new(prefix: &'static str) -> Screenshots {
        // CARGO_TARGET_TMPDIR is `<target dir>/tmp`.
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let target = tmp.parent().map_or_else(|| tmp.clone(), PathBuf::from);
        let dir = target.join("studio-screenshots");
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let numbered = name.strip_prefix(prefix).is_some_and(|rest| {
                rest.len() > 3
                    && rest.as_bytes()[..2].iter().all(u8::is_ascii_digit)
                    && rest.as_bytes()[2] == b'-'
            });
            if numbered && name.ends_with(".png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Screenshots {
            dir,
            prefix,
            taken: Default::default(),
        }
    }

    /// The path of the next step's picture (`NN` counts up from 01).
    pub fn next_path(&self, step: &str) -> PathBuf {
        let n = 1 + self
            .taken
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.dir.join(format!("{}{n:02}-{step}.png", self.prefix))
    }

    /// Saves what `page` shows as the next step.
    pub async fn take(&self, page: &Page, step: &str) {
        let path = self.next_path(step);
        page.screenshot(&path)
            .await
            .unwrap_or_else(|e| panic!("screenshot {}: {e:#}", path.display()));
    }
}

/// A signed-in studio page.
pub struct Studio<'a> {
    pub page: &'a Page,
}

impl<'a> Studio<'a> {
    /// Signs up on `/signup` (which signs the new account in and opens the studio), logs out,
    /// and logs in again on `/login`, as a new streamer would; then waits for the studio to
    /// be ready (its "Go live" button).
    pub async fn sign_up_and_log_in(
        page: &'a Page,
        origin: &str,
        shots: &Screenshots,
        email: &str,
    ) -> Studio<'a> {
        const PASSWORD: &str = "a long enough passphrase";
        page.goto(&format!("{origin}/signup"))
            .await
            .expect("/signup");
        page.fill_by_name("textbox", "Name", "Ada Streamer")
            .await
            .expect("name");
        page.fill_by_name("textbox", "Email", email)
            .await
            .expect("email");
        page.fill_by_name("textbox", "Password", PASSWORD)
            .await
            .expect("password");
        shots.take(page, "signup").await;
        page.click_by_name("button", "Create account")
            .await
            .expect("create account");
        wait_for_studio(page, "the studio after signing up").await;
        page.click_by_name("button", "Log out")
            .await
            .expect("log out");
        page.wait_for_element("button", "Log in")
            .await
            .expect("the login form after logging out");
        assert_eq!(
            page.eval("location.pathname").await.expect("path"),
            "/login"
        );
        page.fill_by_name("textbox", "Email", email)
            .await
            .expect("email");
        page.fill_by_name("textbox", "Password", PASSWORD)
            .await
            .expect("password");
        shots.take(page, "login").await;
        page.click_by_name("button", "Log in")
            .await
            .expect("log in");
        wait_for_studio(page, "the studio after logging in").await;
        Studio { page }
    }

    /// Adds a "Custom RTMP" destination card and fills it with `url` split into the server
    /// URL (up to the application) and the stream key (the last segment), as platforms give
    /// them. Returns the card's label ("Custom", "Custom 2", …), checked against `label`.
    pub async fn add_custom_destination(&self, label: &str, url: &str) {
        let (server, key) = url.rsplit_once('/').expect("rtmp://host/app/key");
        self.page
            .select_by_name("combobox", "Platform to add", "Custom RTMP")
            .await
            .expect("platform");
        self.page
            .click_by_name("button", "Add destination")
            .await
            .expect("add destination");
        self.page
            .fill_by_name("textbox", &format!("{label} server URL"), server)
            .await
            .expect("server URL");
        self.page
            .fill_by_name("textbox", &format!("{label} stream key"), key)
            .await
            .expect("stream key");
        assert!(
            self.page
                .is_checked_by_name("checkbox", &format!("{label} enabled"))
                .await
                .expect("enabled"),
            "a new destination is on"
        );
    }

    /// Clicks "Go live" and waits until the connection and every destination in `labels`
    /// read "Live".
    pub async fn go_live(&self, labels: &[&str]) {
        self.page
            .click_by_name("button", "Go live")
            .await
            .expect("go live");
        self.wait_status("Connection", "Live").await;
        for label in labels {
            self.wait_status(&format!("{label} status"), "Live").await;
        }
        self.page
            .wait_for_element("button", "Stop")
            .await
            .expect("Stop replaces Go live");
    }

    /// Clicks "Stop" and waits for the studio to be offline again.
    pub async fn stop(&self) {
        self.page
            .click_by_name("button", "Stop")
            .await
            .expect("stop");
        self.wait_status("Connection", "Offline").await;
        self.page
            .wait_for_element("button", "Go live")
            .await
            .expect("Go live after Stop");
    }

    /// Waits until the status named `name` reads exactly `text`.
    pub async fn wait_status(&self, name: &str, text: &str) -> String {
        self.page
            .with_timeout(LIVE_TIMEOUT)
            .wait_for_text("status", name, &format!("{text:?}"), |t| t == text)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// The value the "Stream stats" region shows for `label` ("Bitrate" → "2.47 Mb/s"): the
    /// line after the label in its definition list.
    pub async fn stat(&self, label: &str) -> String {
        let text = self
            .page
            .text_by_name("region", "Stream stats")
            .await
            .expect("stream stats");
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        lines
            .iter()
            .position(|l| *l == label)
            .and_then(|i| lines.get(i + 1))
            .unwrap_or_else(|| panic!("no {label:?} in the stream stats: {text:?}"))
            .to_string()
    }

    /// `GET /api/broadcasts` from the page (its session cookie): the streamer's broadcasts.
    pub async fn broadcasts(&self) -> Vec<Value> {
        let list = self
            .page
            .eval("fetch('/api/broadcasts').then((r) => r.json())")
            .await
            .expect("GET /api/broadcasts");
        list["broadcasts"]
            .as_array()
            .unwrap_or_else(|| panic!("no broadcasts in {list}"))
            .clone()
    }
}

/// Waits for the studio at `/`: its "Go live" button, and no alert (e.g. a refused form).
async fn wait_for_studio(page: &Page, what: &str) {
    if let Err(e) = page.wait_for_element("button", "Go live").await {
        let alerts = page.texts_of_role("alert").await.unwrap_or_default();
        panic!("{what}: {e:#}; the alerts read {alerts:?}");
    }
    assert_eq!(
        page.eval("location.pathname").await.expect("path"),
        "/",
        "{what}"
    );
}

/// Waits until an element of `role` (named or not) shows `text`, e.g. the status message a
/// page leaves after a step.
pub async fn wait_for_message(page: &Page, role: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let texts = page.texts_of_role(role).await.expect("texts");
        if texts.iter().any(|t| t.trim() == text) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let alerts = page.texts_of_role("alert").await.unwrap_or_default();
            panic!("no {role} reads {text:?}; the {role}s read {texts:?}, the alerts {alerts:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that every interactive element of `page` has an accessible name; `place` names
/// the page in the message.
pub async fn assert_all_named(page: &Page, place: &str) {
    let unnamed = page
        .ax_unnamed_controls()
        .await
        .expect("accessibility tree");
    assert!(
        unnamed.is_empty(),
        "{place}: controls without an accessible name: {}",
        unnamed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    );
}

/// Presses Tab until the focus comes back to where it went first (at most `max` presses),
/// and returns the controls it visited in order.
pub async fn tab_cycle(page: &Page, max: usize) -> Vec<Control> {
    let mut visited: Vec<Control> = Vec::new();
    for _ in 0..max {
        page.press_key("Tab", false).await.expect("Tab");
        let Some(focused) = page.focused_control().await.expect("focus") else {
            continue;
        };
        if visited.first() == Some(&focused) {
            break;
        }
        visited.push(focused);
    }
    visited
}

/// Polls `document.visibilityState` every 250 ms for `window`, and returns every reading.
pub async fn visibility_over(page: &Page, window: Duration) -> Vec<String> {
    let end = Instant::now() + window;
    let mut states = Vec::new();
    while Instant::now() < end {
        states.push(page.visibility_state().await.expect("visibilityState"));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    states
}
