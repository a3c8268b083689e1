//! A small Chrome DevTools Protocol driver for integration tests: Debian's Chromium, headless,
//! with a fresh profile, driven over `--remote-debugging-pipe`.
//!
//! Why a pipe and not a TCP port: a test may run Chromium inside a network namespace
//! (`ip netns exec NAME chromium …`, see [`BrowserBuilder::wrap_command`]), where a debugging
//! port would be out of the test's reach, and a port could be taken by a parallel test. The
//! pipe is inherited as fds 3 and 4 through any wrapper that `exec`s, and it ends with the
//! test process: Chromium exits when its end of input closes, so even a test killed with
//! SIGKILL leaves no browser behind.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use streamhard_testkit::browser::Browser;
//! let browser = Browser::builder().fake_media().launch().await?;
//! let page = browser.new_page("http://127.0.0.1:8080/").await?;
//! page.fill_by_name("textbox", "Stream key", "abc").await?;
//! page.click_by_name("button", "Go live").await?;
//! page.wait_for("document.querySelector('#state')?.textContent === 'live'").await?;
//! browser.close().await
//! # }
//! ```
//!
//! Pages: [`Browser::new_page`] opens a window per page, so several pages (say, two
//! publishers) are all visible and none is throttled as a background tab; [`Page::open_tab`]
//! puts a tab in front of a page, which hides it.
//!
//! Every wait is bounded (default [`DEFAULT_TIMEOUT`], see [`BrowserBuilder::timeout`]) and
//! says what it waited for; a dead browser fails every call at once, naming the log file.
//! JavaScript dialogs (`alert`) block the page: avoid them in pages under test.

mod ax;
mod cdp;
mod launch;
mod page;
mod processes;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::process::Child;

use cdp::Connection;

pub use ax::{INTERACTIVE_ROLES, UnnamedControl};
pub use cdp::EventStream;
pub use launch::{BrowserBuilder, DEFAULT_BINARY};
pub use page::{Control, Page};
pub use processes::{CpuSample, ProcessCpu};

/// The default bound on every wait.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Browser::close`] lets Chromium shut down before killing it.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Lines of Chromium's log quoted in launch errors and after a panic.
const LOG_TAIL_LINES: usize = 30;

/// A running headless Chromium. Dropping it kills the process group; [`Browser::close`]
/// shuts down gracefully. If the thread is panicking (a failed test), the drop keeps the
/// profile directory and prints the end of Chromium's log.
pub struct Browser {
    conn: Arc<Connection>,
    child: Child,
    pid: u32,
    /// Whether `child` has been reaped (then its pid, our group id, may be reused).
    reaped: bool,
    profile: Option<tempfile::TempDir>,
    profile_path: PathBuf,
    log_path: PathBuf,
    version: String,
    window_size: (u32, u32),
    timeout: Duration,
}

impl Browser {
    /// The default launch options, to adjust and then [`BrowserBuilder::launch`].
    pub fn builder() -> BrowserBuilder {
        BrowserBuilder::default()
    }

    /// Starts Chromium and waits until it answers over the pipe (`Browser.getVersion`). If it
    /// exits or stays silent, the error quotes the end of its output.
    pub async fn launch(builder: BrowserBuilder) -> anyhow::Result<Browser> {
        builder.check()?;
        let profile = tempfile::Builder::new()
            .prefix("streamhard-chromium-")
            .tempdir()
            .context("creating Chromium's profile directory")?;
        let profile_path = profile.path().to_owned();
        let log_path = builder
            .log_file
            .clone()
            .unwrap_or_else(|| profile_path.join("chromium.log"));
        let args = builder.chromium_args(&profile_path);
        let spawned = launch::spawn(&builder, &args, &log_path)?;
        let conn = Arc::new(Connection::start(
            spawned.to_chromium,
            spawned.from_chromium,
            log_path.clone(),
        ));
        let mut browser = Browser {
            conn,
            child: spawned.child,
            pid: spawned.pid,
            reaped: false,
            profile: Some(profile),
            profile_path,
            log_path,
            version: String::new(),
            window_size: builder.window_size,
            timeout: builder.timeout,
        };
        match browser.command("Browser.getVersion", json!({})).await {
            Ok(version) => {
                browser.version = version
                    .get("product")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned();
                Ok(browser)
            }
            Err(e) => {
                // Give a crashing Chromium a moment to finish, for its exit status and log.
                let status = match tokio::time::timeout(
                    Duration::from_secs(2),
                    browser.child.wait(),
                )
                .await
                {
                    Ok(Ok(status)) => {
                        browser.reaped = true;
                        status.to_string()
                    }
                    _ => "still running, now killed".to_owned(),
                };
                // Quoted, since the log goes with the profile when `browser` drops.
                Err(anyhow::anyhow!(
                    "Chromium did not start ({status}): {e:#}\n--- the end of its output ---\n{}",
                    launch::log_tail(&browser.log_path, LOG_TAIL_LINES)
                ))
            }
        }
    }

    /// Opens `url` in a new window and waits for it to load. In a window of its own a page
    /// stays visible whatever other pages do; about:blank is not navigated to.
    pub async fn new_page(&self, url: &str) -> anyhow::Result<Page> {
        let (width, height) = self.window_size;
        let created = self
            .command(
                "Target.createTarget",
                json!({ "url": "about:blank", "newWindow": true, "width": width, "height": height }),
            )
            .await?;
        let target_id = page::target_id_of(&created)?;
        // Attach before navigating, so the page's load can be awaited.
        let page = Page::attach(Arc::clone(&self.conn), target_id, self.timeout).await?;
        if url != "about:blank" {
            page.goto(url).await?;
        }
        Ok(page)
    }

    /// Sends any browser-level CDP command (no session).
    pub async fn command(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.conn.call(None, method, params, self.timeout).await
    }

    /// Chromium's `product`, e.g. `Chrome/156.0.8078.114`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where Chromium's stdout and stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The profile (`--user-data-dir`), removed when the browser is dropped.
    pub fn profile_dir(&self) -> &Path {
        &self.profile_path
    }

    /// The spawned process's id (Chromium's, if the wrapper `exec`s), also its group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Asks Chromium to quit (`Browser.close`), waits up to 5 s for it to exit, then kills
    /// its process group. Errors only if the process could not be waited for.
    pub async fn close(mut self) -> anyhow::Result<()> {
        // Chromium may exit before it answers; the exit is what counts.
        let _ = self
            .conn
            .call(None, "Browser.close", json!({}), CLOSE_GRACE)
            .await;
        let exited = tokio::time::timeout(CLOSE_GRACE, self.child.wait()).await;
        if exited.is_err() {
            eprintln!(
                "browser: Chromium did not exit within {CLOSE_GRACE:?} of Browser.close; killing it"
            );
        }
        // Also ends any straggling renderer; the group outlives its leader's exit.
        launch::kill_group(self.pid);
        let waited = match exited {
            Ok(status) => status,
            Err(_) => self.child.wait().await,
        };
        self.reaped = true;
        waited.context("waiting for Chromium to exit")?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.reaped {
            launch::kill_group(self.pid);
        }
        if std::thread::panicking() {
            if let Some(profile) = self.profile.take() {
                let kept = profile.keep();
                eprintln!(
                    "browser: test failed; Chromium's profile kept in {}",
                    kept.display()
                );
            }
            eprintln!(
                "browser: the end of Chromium's log {}:\n{}",
                self.log_path.display(),
                launch::log_tail(&self.log_path, LOG_TAIL_LINES)
            );
        }
    }
}
