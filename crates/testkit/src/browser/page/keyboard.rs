//! The keyboard, as a user without a mouse drives a page: key presses through
//! `Input.dispatchKeyEvent` (so the browser's own focus navigation runs), and which control
//! has the focus, by its role and accessible name.

use std::fmt;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Page;
use crate::browser::ax;

/// A control as a screen reader announces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    /// Its ARIA role as Chromium computes it, e.g. `button`.
    pub role: String,
    /// Its accessible name.
    pub name: String,
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.role, self.name)
    }
}

/// A key [`Page::press_key`] knows: (DOM `key`, DOM `code`, Windows virtual key code, text).
fn key_definition(key: &str) -> Option<(&'static str, &'static str, i64, &'static str)> {
    Some(match key {
        "Tab" => ("Tab", "Tab", 9, ""),
        "Enter" => ("Enter", "Enter", 13, "\r"),
        " " | "Space" => (" ", "Space", 32, " "),
        "Escape" => ("Escape", "Escape", 27, ""),
        "ArrowLeft" => ("ArrowLeft", "ArrowLeft", 37, ""),
        "ArrowUp" => ("ArrowUp", "ArrowUp", 38, ""),
        "ArrowRight" => ("ArrowRight", "ArrowRight", 39, ""),
        "ArrowDown" => ("ArrowDown", "ArrowDown", 40, ""),
        _ => return None,
    })
}

impl Page {
    /// Presses and releases `key` (`Tab`, `Enter`, `Space`, `Escape`, or an arrow key, e.g.
    /// `ArrowDown`) in the focused element, with Shift held when `shift` is true: Tab moves
    /// the focus as it does for a user, Enter and Space activate the focused control.
    pub async fn press_key(&self, key: &str, shift: bool) -> anyhow::Result<()> {
        let (key_name, code, virtual_code, text) =
            key_definition(key).with_context(|| format!("press_key does not know {key:?}"))?;
        const SHIFT: i64 = 8;
        let modifiers = if shift { SHIFT } else { 0 };
        let mut down = json!({
            // A key without text is a rawKeyDown: no keypress event, as in a real browser.
            "type": if text.is_empty() { "rawKeyDown" } else { "keyDown" },
            "key": key_name,
            "code": code,
            "windowsVirtualKeyCode": virtual_code,
            "modifiers": modifiers,
        });
        if !text.is_empty() {
            down["text"] = text.into();
            down["unmodifiedText"] = text.into();
        }
        self.command("Input.dispatchKeyEvent", down)
            .await
            .with_context(|| format!("pressing {key}"))?;
        self.command(
            "Input.dispatchKeyEvent",
            json!({
                "type": "keyUp",
                "key": key_name,
                "code": code,
                "windowsVirtualKeyCode": virtual_code,
                "modifiers": modifiers,
            }),
        )
        .await
        .with_context(|| format!("releasing {key}"))?;
        Ok(())
    }

    /// The control that has the keyboard focus (`document.activeElement`), by role and
    /// accessible name; `None` when nothing does (the focus is on the document's body).
    pub async fn focused_control(&self) -> anyhow::Result<Option<Control>> {
        let active = self
            .command(
                "Runtime.evaluate",
                json!({
                    "expression": "document.activeElement === document.body ? null : document.activeElement",
                    "returnByValue": false,
                }),
            )
            .await?;
        let Some(object_id) = active.pointer("/result/objectId").and_then(Value::as_str) else {
            return Ok(None);
        };
        let described = self
            .command("DOM.describeNode", json!({ "objectId": object_id }))
            .await;
        let _ = self
            .command("Runtime.releaseObject", json!({ "objectId": object_id }))
            .await;
        let backend_node_id = described?
            .pointer("/node/backendNodeId")
            .and_then(Value::as_i64)
            .context("DOM.describeNode returned no backendNodeId")?;
        self.command("Accessibility.enable", json!({})).await?;
        let tree = self
            .command(
                "Accessibility.getPartialAXTree",
                json!({ "backendNodeId": backend_node_id, "fetchRelatives": false }),
            )
            .await?;
        Ok(ax::perceivable_nodes(&tree)
            .into_iter()
            .find(|node| node.backend_node_id == Some(backend_node_id))
            .map(|node| Control {
                role: node.role,
                name: node.name,
            }))
    }

    /// Presses Tab, from wherever the focus is, until the control with `role` and `name` has
    /// the focus, at most `max_presses` times; returns how many presses it took. The error
    /// lists the controls the focus went through, which is what a keyboard user would meet.
    pub async fn tab_to(
        &self,
        role: &str,
        name: &str,
        max_presses: usize,
    ) -> anyhow::Result<usize> {
        let mut path = Vec::new();
        for presses in 1..=max_presses {
            self.press_key("Tab", false).await?;
            let focused = self.focused_control().await?;
            if focused
                .as_ref()
                .is_some_and(|c| c.role == role && c.name == name)
            {
                return Ok(presses);
            }
            path.push(focused.map_or_else(|| "(the page)".to_owned(), |c| c.to_string()));
        }
        bail!(
            "{max_presses} presses of Tab did not reach {role} {name:?}; the focus went through: {}",
            path.join(", ")
        )
    }
}
