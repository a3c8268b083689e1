//! Finding and operating a page's controls by ARIA role and accessible name, as a user (or a
//! screen reader) finds them: through Chromium's accessibility tree, never CSS selectors, so a
//! test breaks when a control loses its name, as a screen reader user would notice.
//!
//! Every look-up waits (up to the page's timeout) for exactly one element with that role and
//! name; two are an error at once, since a user could not tell them apart either.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{POLL_INTERVAL, Page, remote_value};
use crate::browser::ax::{self, AxNode};

impl Page {
    /// Clicks the element with ARIA `role` and accessible `name` (as a user would find it),
    /// waiting for it to appear. The click is the element's `click()` run with a user
    /// gesture, so it activates the page like a real click; a disabled element is an error.
    pub async fn click_by_name(&self, role: &str, name: &str) -> anyhow::Result<()> {
        const CLICK: &str = "function () {
            if (this.disabled || this.getAttribute('aria-disabled') === 'true') {
                throw new Error('the element is disabled');
            }
            this.scrollIntoView({ block: 'center', inline: 'center' });
            this.click();
        }";
        self.call_on_named(role, name, CLICK, json!([]))
            .await
            .map(drop)
            .with_context(|| format!("clicking {role} {name:?}"))
    }

    /// Types `text` into the field with ARIA `role` and accessible `name`, replacing its
    /// value, and fires `input` and `change` (through the native value setter, so framework
    /// bindings see the change). Works for any field with a value: text, number and range
    /// inputs, and colour inputs (`ColorWell`, with `#rrggbb`).
    pub async fn fill_by_name(&self, role: &str, name: &str, text: &str) -> anyhow::Result<()> {
        const FILL: &str = "function (text) {
            if (this.disabled || this.readOnly) {
                throw new Error('the element is disabled or read-only');
            }
            this.scrollIntoView({ block: 'center', inline: 'center' });
            this.focus();
            if (this.isContentEditable) {
                this.textContent = text;
            } else {
                let proto = Object.getPrototypeOf(this), setter;
                while (proto && !(setter = Object.getOwnPropertyDescriptor(proto, 'value')?.set)) {
                    proto = Object.getPrototypeOf(proto);
                }
                if (!setter) throw new Error('the element has no value to fill');
                setter.call(this, text);
            }
            this.dispatchEvent(new Event('input', { bubbles: true }));
            this.dispatchEvent(new Event('change', { bubbles: true }));
        }";
        self.call_on_named(role, name, FILL, json!([{ "value": text }]))
            .await
            .map(drop)
            .with_context(|| format!("filling {role} {name:?}"))
    }

    /// Chooses the option labelled `option` in the `<select>` with ARIA `role` (`combobox`,
    /// or `listbox` for a multi-line one) and accessible `name`, and fires `input` and
    /// `change`, as picking it from the list does. Waits for the option too: lists such as
    /// cameras fill in after the page loads. The error lists the options there are.
    pub async fn select_by_name(&self, role: &str, name: &str, option: &str) -> anyhow::Result<()> {
        const SELECT: &str = "function (label) {
            if (!(this instanceof HTMLSelectElement)) {
                throw new Error(`not a <select> but a <${this.localName}>`);
            }
            if (this.disabled) throw new Error('the element is disabled');
            const options = [...this.options];
            const found = options.find((o) => o.label.trim() === label || o.text.trim() === label);
            if (!found) return { chosen: false, options: options.map((o) => o.label.trim()) };
            if (found.disabled) throw new Error(`the option ${JSON.stringify(label)} is disabled`);
            this.scrollIntoView({ block: 'center', inline: 'center' });
            this.focus();
            if (!found.selected) {
                found.selected = true;
                this.dispatchEvent(new Event('input', { bubbles: true }));
                this.dispatchEvent(new Event('change', { bubbles: true }));
            }
            return { chosen: true, options: [] };
        }";
        let deadline = Instant::now() + self.timeout;
        loop {
            let outcome = self
                .call_on_named(role, name, SELECT, json!([{ "value": option }]))
                .await
                .with_context(|| format!("choosing {option:?} in {role} {name:?}"))?;
            if outcome["chosen"] == true {
                return Ok(());
            }
            if Instant::now() + POLL_INTERVAL > deadline {
                bail!(
                    "{role} {name:?} has no option {option:?} within {:?}; its options are {}",
                    self.timeout,
                    outcome["options"]
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Sets the files of the file input with ARIA `role` and accessible `name` (Chromium
    /// gives `<input type=file>` the role `button`), as choosing them in the file dialog
    /// does: `input` and `change` fire. Paths are made absolute.
    pub async fn set_files_by_name(
        &self,
        role: &str,
        name: &str,
        files: &[&Path],
    ) -> anyhow::Result<()> {
        let mut absolute = Vec::with_capacity(files.len());
        for file in files {
            let path = std::fs::canonicalize(file)
                .with_context(|| format!("the file {} to upload", file.display()))?;
            absolute.push(path.to_string_lossy().into_owned());
        }
        let backend_node_id = self.find_by_name(role, name).await?;
        self.command(
            "DOM.setFileInputFiles",
            json!({ "files": absolute, "backendNodeId": backend_node_id }),
        )
        .await
        .with_context(|| format!("setting the files of {role} {name:?}"))?;
        Ok(())
    }

    /// What the element with ARIA `role` and accessible `name` shows: the value of a text
    /// field, the selected option's label of a `<select>`, the value of a `<meter>` or
    /// `<progress>`, otherwise its rendered text (`innerText`, trimmed).
    pub async fn text_by_name(&self, role: &str, name: &str) -> anyhow::Result<String> {
        let shown = self
            .call_on_named(role, name, SHOWN_TEXT, json!([]))
            .await
            .with_context(|| format!("reading {role} {name:?}"))?;
        Ok(shown.as_str().unwrap_or_default().to_owned())
    }

    /// Reads [`Self::text_by_name`] every 100 ms until `accept` takes it, and returns it; the
    /// error after the page's timeout quotes the last text (`what` says what was awaited).
    pub async fn wait_for_text(
        &self,
        role: &str,
        name: &str,
        what: &str,
        accept: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let last = match self.text_by_name(role, name).await {
                Ok(text) if accept(&text) => return Ok(text),
                Ok(text) => format!("it reads {text:?}"),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() + POLL_INTERVAL > deadline {
                bail!(
                    "{role} {name:?} did not read {what} within {:?}: {last}",
                    self.timeout
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// What each element with ARIA `role` shows (as [`Self::text_by_name`] reads it), in
    /// document order, named or not: e.g. every `status` or `alert` message on the page.
    pub async fn texts_of_role(&self, role: &str) -> anyhow::Result<Vec<String>> {
        let mut texts = Vec::new();
        for node in self.query_ax_tree(role, None).await? {
            let Some(id) = node.backend_node_id else {
                continue;
            };
            // The element may go between the query and the read: then it shows nothing.
            if let Ok(text) = self.call_on_node(id, SHOWN_TEXT, json!([])).await {
                texts.push(text.as_str().unwrap_or_default().to_owned());
            }
        }
        Ok(texts)
    }

    /// Whether the checkbox, radio, switch or toggle button with ARIA `role` and accessible
    /// `name` is on: `checked`, or `aria-checked` / `aria-pressed` = `true`.
    pub async fn is_checked_by_name(&self, role: &str, name: &str) -> anyhow::Result<bool> {
        const CHECKED: &str = "function () {
            if (this instanceof HTMLInputElement && ['checkbox', 'radio'].includes(this.type)) {
                return this.checked;
            }
            return this.getAttribute('aria-checked') === 'true'
                || this.getAttribute('aria-pressed') === 'true';
        }";
        let checked = self
            .call_on_named(role, name, CHECKED, json!([]))
            .await
            .with_context(|| format!("reading whether {role} {name:?} is checked"))?;
        Ok(checked == true)
    }

    /// Clicks the control with ARIA `role` and accessible `name` if it is not already in the
    /// state `on` (see [`Self::is_checked_by_name`]), then checks that it is.
    pub async fn set_checked_by_name(
        &self,
        role: &str,
        name: &str,
        on: bool,
    ) -> anyhow::Result<()> {
        if self.is_checked_by_name(role, name).await? != on {
            self.click_by_name(role, name).await?;
        }
        let now = self.is_checked_by_name(role, name).await?;
        anyhow::ensure!(
            now == on,
            "{role} {name:?} is still {}",
            if now { "on" } else { "off" }
        );
        Ok(())
    }

    /// Waits until exactly one element with ARIA `role` and accessible `name` is on the page.
    pub async fn wait_for_element(&self, role: &str, name: &str) -> anyhow::Result<()> {
        self.find_by_name(role, name).await.map(drop)
    }

    /// How many elements with ARIA `role` and accessible `name` the page has now (no wait):
    /// to assert that a control is gone, or not there yet.
    pub async fn count_by_name(&self, role: &str, name: &str) -> anyhow::Result<usize> {
        Ok(self.query_ax_tree(role, Some(name)).await?.len())
    }

    /// The accessible names of the page's elements with ARIA `role`, in document order.
    pub async fn names_of_role(&self, role: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .query_ax_tree(role, None)
            .await?
            .into_iter()
            .map(|node| node.name)
            .collect())
    }

    /// Runs `function` with `this` = the element found by role and name.
    pub(super) async fn call_on_named(
        &self,
        role: &str,
        name: &str,
        function: &str,
        arguments: Value,
    ) -> anyhow::Result<Value> {
        let backend_node_id = self.find_by_name(role, name).await?;
        self.call_on_node(backend_node_id, function, arguments)
            .await
    }

    /// Runs `function` with `this` = the element with that backend DOM node id.
    async fn call_on_node(
        &self,
        backend_node_id: i64,
        function: &str,
        arguments: Value,
    ) -> anyhow::Result<Value> {
        let resolved = self
            .command(
                "DOM.resolveNode",
                json!({ "backendNodeId": backend_node_id }),
            )
            .await?;
        let object_id = resolved
            .pointer("/object/objectId")
            .and_then(Value::as_str)
            .context("DOM.resolveNode returned no objectId")?;
        let called = self
            .command(
                "Runtime.callFunctionOn",
                json!({
                    "objectId": object_id,
                    "functionDeclaration": function,
                    "arguments": arguments,
                    "awaitPromise": true,
                    "returnByValue": true,
                    "userGesture": true,
                }),
            )
            .await;
        // The handle would otherwise pin the element until the page navigates.
        let _ = self
            .command("Runtime.releaseObject", json!({ "objectId": object_id }))
            .await;
        remote_value(&called?)
    }

    /// The backend DOM node id of the one element with `role` and accessible `name`, waiting
    /// for it to appear. Two or more such elements are an error at once: a user could not
    /// tell them apart either.
    async fn find_by_name(&self, role: &str, name: &str) -> anyhow::Result<i64> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let found = self.query_ax_tree(role, Some(name)).await?;
            match found.as_slice() {
                [node] => {
                    return node
                        .backend_node_id
                        .with_context(|| format!("the {role} {name:?} has no DOM node"));
                }
                [] => {}
                many => bail!("{} elements have role {role} and name {name:?}", many.len()),
            }
            if Instant::now() + POLL_INTERVAL > deadline {
                let present: Vec<String> = self
                    .query_ax_tree(role, None)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|node| node.name)
                    .collect();
                bail!(
                    "no {role} named {name:?} within {:?}; the page's {role}s are named \
                     {present:?}; {}",
                    self.timeout,
                    self.describe().await
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The perceivable elements with `role` (and accessible `name`, if given) of the whole
    /// document (`Accessibility.queryAXTree`). The name is matched here, exactly after
    /// trimming, not by Chromium: its own name match misses some elements whose name comes
    /// from a wrapping `<label>` (file inputs, in Chromium 156).
    async fn query_ax_tree(&self, role: &str, name: Option<&str>) -> anyhow::Result<Vec<AxNode>> {
        // Fetched each time: a navigation replaces the document.
        let document = self
            .command("DOM.getDocument", json!({ "depth": 0 }))
            .await?;
        let root = document
            .pointer("/root/backendNodeId")
            .and_then(Value::as_i64)
            .context("DOM.getDocument returned no root")?;
        let result = self
            .command(
                "Accessibility.queryAXTree",
                json!({ "backendNodeId": root, "role": role }),
            )
            .await?;
        let mut nodes = ax::perceivable_nodes(&result);
        if let Some(name) = name {
            nodes.retain(|node| node.name == name.trim());
        }
        Ok(nodes)
    }
}

/// The text a user sees of an element (see [`Page::text_by_name`]).
const SHOWN_TEXT: &str = "function () {
    if (this instanceof HTMLSelectElement) return this.selectedOptions[0]?.label.trim() ?? '';
    if (this instanceof HTMLInputElement || this instanceof HTMLTextAreaElement) return this.value;
    if (this instanceof HTMLMeterElement || this instanceof HTMLProgressElement) {
        return String(this.value);
    }
    return (this.innerText ?? this.textContent ?? '').trim();
}";
