//! One tab, driven through its flat CDP session (`Target.attachToTarget`, `flatten: true`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::ax::{self, UnnamedControl};
use super::cdp::{Connection, EventStream};

mod by_name;
mod keyboard;

pub use keyboard::Control;

/// How often [`Page::wait_for`] and the element look-ups try again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A tab. Cheap to clone: clones drive the same tab. Every method waits at most the page's
/// timeout (the browser's, unless changed with [`Page::with_timeout`]).
#[derive(Clone)]
pub struct Page {
    conn: Arc<Connection>,
    target_id: String,
    session_id: String,
    window_id: Option<i64>,
    timeout: Duration,
}

impl Page {
    /// Attaches to the page target `target_id` and enables what the methods rely on.
    pub(super) async fn attach(
        conn: Arc<Connection>,
        target_id: String,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let attached = conn
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
                timeout,
            )
            .await?;
        let session_id = attached
            .get("sessionId")
            .and_then(Value::as_str)
            .context("Target.attachToTarget returned no sessionId")?
            .to_owned();
        let window = conn
            .call(
                None,
                "Browser.getWindowForTarget",
                json!({ "targetId": target_id }),
                timeout,
            )
            .await?;
        let page = Self {
            window_id: window.get("windowId").and_then(Value::as_i64),
            conn,
            target_id,
            session_id,
            timeout,
        };
        page.command("Page.enable", json!({})).await?;
        // Lifecycle events carry the loader id, which tells our navigation's load from an
        // earlier one's (Page.loadEventFired does not).
        page.command("Page.setLifecycleEventsEnabled", json!({ "enabled": true }))
            .await?;
        Ok(page)
    }

    /// The same tab with another bound on each wait, e.g. for a slow ICE connection.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// The CDP target id (as in `Target.getTargets`).
    pub fn target_id(&self) -> &str {
        &self.target_id
    }

    /// Sends any CDP command to this page, for what the helpers don't cover.
    pub async fn command(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.conn
            .call(Some(&self.session_id), method, params, self.timeout)
            .await
    }

    /// This page's events named `method` (e.g. `Runtime.consoleAPICalled`, after enabling
    /// its domain), from now on.
    pub fn subscribe(&self, method: &str) -> EventStream {
        self.conn
            .subscribe(method, Some(&self.session_id), self.timeout)
    }

    /// Navigates and waits for the new document's `load` event. A failed navigation (refused
    /// connection, bad URL) is an error; an HTTP error page is not.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        let mut lifecycle = self.subscribe("Page.lifecycleEvent");
        let navigated = self
            .command("Page.navigate", json!({ "url": url }))
            .await
            .with_context(|| format!("navigating to {url}"))?;
        if let Some(error) = navigated
            .get("errorText")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        {
            bail!("navigating to {url}: {error}");
        }
        // No loader: a same-document navigation (only the fragment changed), already done.
        let Some(loader) = navigated.get("loaderId").and_then(Value::as_str) else {
            return Ok(());
        };
        lifecycle
            .next_where(|event| event["name"] == "load" && event["loaderId"] == loader)
            .await
            .with_context(|| format!("waiting for {url} to load"))?;
        Ok(())
    }

    /// Has every document this tab loads from now on run `js` first, before any of its own
    /// scripts (`Page.addScriptToEvaluateOnNewDocument`): e.g. to take an API away and see
    /// how the page copes without it. The document already loaded is not touched, so call
    /// this before [`Page::goto`]. Workers the pages start do not run it.
    pub async fn add_init_script(&self, js: &str) -> anyhow::Result<()> {
        self.command(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": js }),
        )
        .await
        .with_context(|| format!("adding the init script `{}`", abbreviate(js)))?;
        Ok(())
    }

    /// Evaluates `js` as a script in the page (awaiting it if it is a promise) and returns its
    /// value as JSON: `undefined` and unserializable objects give `null`, and values JSON has
    /// no form for (`NaN`, `Infinity`, `-0`, BigInts) an error. A throw or rejection is an
    /// error with the exception's text and stack.
    pub async fn eval(&self, js: &str) -> anyhow::Result<Value> {
        let evaluated = self
            .command(
                "Runtime.evaluate",
                json!({ "expression": js, "awaitPromise": true, "returnByValue": true }),
            )
            .await
            .with_context(|| format!("evaluating `{}`", abbreviate(js)))?;
        remote_value(&evaluated).with_context(|| format!("evaluating `{}`", abbreviate(js)))
    }

    /// Evaluates `js` every 100 ms until its value is truthy, and returns that value. A throw
    /// counts as "not yet" (the element may not exist yet); the timeout's error quotes the
    /// last value or exception.
    pub async fn wait_for(&self, js: &str) -> anyhow::Result<Value> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let last = match self.eval(js).await {
                Ok(value) if truthy(&value) => return Ok(value),
                Ok(value) => format!("last value: {value}"),
                Err(e) => format!("last error: {e:#}"),
            };
            if Instant::now() + POLL_INTERVAL > deadline {
                bail!(
                    "`{}` did not become true within {:?} ({last})",
                    abbreviate(js),
                    self.timeout
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// What the page is and shows, for error messages when something expected is missing:
    /// its address, its load state, how many form fields its DOM holds (against what the
    /// accessibility tree exposes), the last 20 requests it completed, and its first lines.
    pub async fn describe(&self) -> String {
        const JS: &str = "JSON.stringify({
            url: location.href,
            readyState: document.readyState,
            inputs: document.querySelectorAll('input, select, textarea, button').length,
            loaded: performance.getEntriesByType('resource').slice(-20)
                .map(e => e.name + ' ' + e.responseStatus),
            text: (document.body?.innerText ?? '').slice(0, 400),
        })";
        match self.eval(JS).await {
            Ok(Value::String(described)) => format!("the page: {described}"),
            Ok(other) => format!("the page: {other}"),
            Err(e) => format!("the page could not be described: {e:#}"),
        }
    }

    /// `document.visibilityState`: `"visible"`, or `"hidden"` behind another tab.
    pub async fn visibility_state(&self) -> anyhow::Result<String> {
        let state = self.eval("document.visibilityState").await?;
        state
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("document.visibilityState is not a string: {state}"))
    }

    /// Makes this the selected tab of its window (the one there before goes hidden).
    pub async fn bring_to_front(&self) -> anyhow::Result<()> {
        self.command("Page.bringToFront", json!({})).await?;
        Ok(())
    }

    /// Opens `url` in a new tab in front of this one, in the same window, and waits for it
    /// to load: this page's `document.visibilityState` becomes `"hidden"`, as when a user
    /// switches tabs. Nothing is emulated (no `Emulation.setFocusEmulationEnabled`): this is
    /// Chromium's own tab switching, throttling included.
    ///
    /// Chromium puts a tab made by `Target.createTarget` into the window opened last (in
    /// headless mode `Page.bringToFront` does not change that). So call this on the page
    /// opened last; otherwise the new tab is closed again and this is an error.
    pub async fn open_tab(&self, url: &str) -> anyhow::Result<Page> {
        let created = self
            .conn
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "newWindow": false, "background": false }),
                self.timeout,
            )
            .await?;
        let target_id = target_id_of(&created)?;
        let tab = Page::attach(Arc::clone(&self.conn), target_id, self.timeout).await?;
        if tab.window_id != self.window_id {
            let _ = tab.close().await;
            bail!(
                "Chromium opened the new tab in another window (window {:?}, not {:?}): \
                 open_tab must be called on the page opened last",
                tab.window_id,
                self.window_id
            );
        }
        if url != "about:blank" {
            tab.goto(url).await?;
        }
        Ok(tab)
    }

    /// Writes a PNG of the visible part of the page to `path` (creating its directory).
    /// Works on a hidden tab too (headless Chromium still renders it on request).
    pub async fn screenshot(&self, path: impl AsRef<Path>) -> anyhow::Result<()> {
        let path = path.as_ref();
        let shot = self
            .command("Page.captureScreenshot", json!({ "format": "png" }))
            .await?;
        let data = shot
            .get("data")
            .and_then(Value::as_str)
            .context("Page.captureScreenshot returned no data")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .context("Page.captureScreenshot returned invalid base64")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// The interactive elements (roles in [`ax::INTERACTIVE_ROLES`]) of the main frame whose
    /// accessible name is empty, in document order: controls a screen reader user cannot
    /// tell apart. Elements that are hidden or `aria-hidden` are not in the tree.
    pub async fn ax_unnamed_controls(&self) -> anyhow::Result<Vec<UnnamedControl>> {
        self.command("Accessibility.enable", json!({})).await?;
        let tree = self
            .command("Accessibility.getFullAXTree", json!({}))
            .await?;
        let nodes = ax::perceivable_nodes(&tree);
        let mut unnamed = Vec::new();
        for node in ax::unnamed_controls(&nodes) {
            let description = match node.backend_node_id {
                Some(id) => self
                    .command("DOM.describeNode", json!({ "backendNodeId": id }))
                    .await
                    .map(|described| ax::describe_element(&described))
                    .unwrap_or_else(|e| format!("(node {id}: {e:#})")),
                None => "(no DOM node)".to_owned(),
            };
            unnamed.push(UnnamedControl {
                role: node.role.clone(),
                description,
            });
        }
        Ok(unnamed)
    }

    /// Closes the tab.
    pub async fn close(&self) -> anyhow::Result<()> {
        self.conn
            .call(
                None,
                "Target.closeTarget",
                json!({ "targetId": self.target_id }),
                self.timeout,
            )
            .await?;
        Ok(())
    }
}

/// The `targetId` of a `Target.createTarget` result.
pub(super) fn target_id_of(created: &Value) -> anyhow::Result<String> {
    created
        .get("targetId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("Target.createTarget returned no targetId")
}

/// The value of a `Runtime.evaluate` / `callFunctionOn` result, or its exception as an error.
fn remote_value(evaluated: &Value) -> anyhow::Result<Value> {
    if let Some(details) = evaluated.get("exceptionDetails") {
        bail!("the page threw: {}", exception_text(details));
    }
    let result = evaluated.get("result").unwrap_or(&Value::Null);
    if let Some(value) = result.get("value") {
        return Ok(value.clone());
    }
    if let Some(unserializable) = result.get("unserializableValue").and_then(Value::as_str) {
        bail!("the result, {unserializable}, has no JSON form");
    }
    Ok(Value::Null)
}

/// What the console would print for an uncaught exception: the error's description (message
/// and stack) when it has one, else the thrown value, else Chromium's summary.
fn exception_text(details: &Value) -> String {
    let exception = details.get("exception");
    if let Some(description) = exception
        .and_then(|e| e.get("description"))
        .and_then(Value::as_str)
    {
        return description.to_owned();
    }
    if let Some(value) = exception.and_then(|e| e.get("value")) {
        return value.to_string();
    }
    details
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("an exception")
        .to_owned()
}

/// JavaScript's truthiness, for JSON values.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `js` cut to one short line, for error messages.
fn abbreviate(js: &str) -> String {
    const LONGEST: usize = 80;
    let line = js.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= LONGEST {
        line
    } else {
        line.chars().take(LONGEST).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceptions_become_errors_with_their_description() {
        let rejected = json!({
            "result": { "type": "object", "subtype": "error" },
            "exceptionDetails": { "text": "Uncaught (in promise) Error: boom",
                "exception": { "type": "object", "description": "Error: boom\n    at <anonymous>:1:16" } }
        });
        let error = remote_value(&rejected).unwrap_err().to_string();
        assert_eq!(
            error,
            "the page threw: Error: boom\n    at <anonymous>:1:16"
        );
        let thrown = json!({ "exceptionDetails": { "text": "Uncaught", "exception": { "type": "number", "value": 5 } } });
        assert_eq!(
            remote_value(&thrown).unwrap_err().to_string(),
            "the page threw: 5"
        );
    }

    #[test]
    fn values_undefined_and_unserializable() {
        let two = json!({ "result": { "type": "number", "value": 2, "description": "2" } });
        assert_eq!(remote_value(&two).unwrap(), json!(2));
        let undefined = json!({ "result": { "type": "undefined" } });
        assert_eq!(remote_value(&undefined).unwrap(), Value::Null);
        let infinity = json!({ "result": { "type": "number", "unserializableValue": "Infinity" } });
        assert!(remote_value(&infinity).is_err());
    }

    #[test]
    fn truthiness_and_abbreviation() {
        assert!(!truthy(&json!(0)) && !truthy(&json!("")) && !truthy(&Value::Null));
        assert!(truthy(&json!([])) && truthy(&json!("x")) && truthy(&json!(-1)));
        assert_eq!(abbreviate("a\n   b"), "a b");
        assert_eq!(abbreviate(&"x".repeat(100)).chars().count(), 81);
    }
}
