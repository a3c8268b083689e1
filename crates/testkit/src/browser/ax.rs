//! Reading Chromium's accessibility tree (CDP `Accessibility` domain): what a screen reader
//! would announce, which is also how tests find controls, by role and accessible name.

use std::fmt;

use serde_json::Value;

/// The ARIA roles of controls a user operates; each needs an accessible name.
pub const INTERACTIVE_ROLES: &[&str] = &[
    "button",
    "link",
    "textbox",
    "checkbox",
    "combobox",
    "listbox",
    "slider",
    "switch",
    "radio",
    "spinbutton",
    "tab",
    "menuitem",
    "searchbox",
    // `<input type=color>`.
    "ColorWell",
    // A `<details>` element's `<summary>`.
    "DisclosureTriangle",
];

/// A control with an empty accessible name: a screen reader says only "button".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnnamedControl {
    /// Its ARIA role, e.g. `button`.
    pub role: String,
    /// The element's tag and attributes, e.g. `<button id="mute" class="icon">`, to find it
    /// in the source.
    pub description: String,
}

impl fmt::Display for UnnamedControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unnamed {} {}", self.role, self.description)
    }
}

/// One node of `Accessibility.getFullAXTree` / `queryAXTree`, reduced to what we use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct AxNode {
    pub role: String,
    pub name: String,
    /// The DOM node behind it (absent for purely virtual nodes such as inline text boxes).
    pub backend_node_id: Option<i64>,
}

/// The nodes of a `getFullAXTree` / `queryAXTree` result that a user can perceive: Chromium
/// also lists ignored nodes (hidden, `aria-hidden`, presentational), marked `ignored`.
pub(super) fn perceivable_nodes(result: &Value) -> Vec<AxNode> {
    let Some(nodes) = result.get("nodes").and_then(Value::as_array) else {
        return Vec::new();
    };
    nodes
        .iter()
        .filter(|node| {
            !node
                .get("ignored")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .filter_map(|node| {
            let role = node.pointer("/role/value").and_then(Value::as_str)?;
            let name = node
                .pointer("/name/value")
                .and_then(Value::as_str)
                .unwrap_or("");
            Some(AxNode {
                role: role.to_owned(),
                name: name.trim().to_owned(),
                backend_node_id: node.get("backendDOMNodeId").and_then(Value::as_i64),
            })
        })
        .collect()
}

/// Interactive nodes whose accessible name is empty.
pub(super) fn unnamed_controls(nodes: &[AxNode]) -> impl Iterator<Item = &AxNode> {
    nodes
        .iter()
        .filter(|node| INTERACTIVE_ROLES.contains(&node.role.as_str()) && node.name.is_empty())
}

/// `<tag attr="value" …>` from a `DOM.describeNode` result, long values cut short.
pub(super) fn describe_element(described: &Value) -> String {
    const LONGEST_VALUE: usize = 40;
    let node = described.get("node").unwrap_or(&Value::Null);
    let tag = node
        .get("localName")
        .and_then(Value::as_str)
        .filter(|tag| !tag.is_empty())
        .or_else(|| node.get("nodeName").and_then(Value::as_str))
        .unwrap_or("?");
    let mut out = format!("<{tag}");
    // `attributes` is a flat [name, value, name, value, …] list.
    let attributes = node
        .get("attributes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for pair in attributes.chunks_exact(2) {
        let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str()) else {
            continue;
        };
        let mut value: String = value.chars().take(LONGEST_VALUE).collect();
        if value.len() < pair[1].as_str().map_or(0, str::len) {
            value.push('…');
        }
        out.push_str(&format!(" {name}=\"{value}\""));
    }
    out.push('>');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_perceivable_nodes_and_finds_unnamed_controls() {
        let tree = json!({ "nodes": [
            { "nodeId": "1", "ignored": false, "role": { "type": "internalRole", "value": "RootWebArea" },
              "name": { "type": "computedString", "value": "smoke" }, "backendDOMNodeId": 2 },
            { "nodeId": "4", "ignored": true, "role": { "type": "role", "value": "none" } },
            { "nodeId": "7", "ignored": false, "role": { "type": "role", "value": "button" },
              "name": { "type": "computedString", "value": "Go" }, "backendDOMNodeId": 7 },
            { "nodeId": "8", "ignored": false, "role": { "type": "role", "value": "button" },
              "name": { "type": "computedString", "value": " " }, "backendDOMNodeId": 8 },
            { "nodeId": "9", "ignored": false, "role": { "type": "role", "value": "textbox" },
              "backendDOMNodeId": 9 },
            { "nodeId": "10", "ignored": true, "role": { "type": "role", "value": "button" },
              "backendDOMNodeId": 10 },
            { "nodeId": "11", "ignored": false, "role": { "type": "internalRole", "value": "StaticText" },
              "name": { "type": "computedString", "value": "" } },
        ]});
        let nodes = perceivable_nodes(&tree);
        assert_eq!(nodes.len(), 5);
        let unnamed: Vec<_> = unnamed_controls(&nodes)
            .map(|node| (node.role.as_str(), node.backend_node_id))
            .collect();
        assert_eq!(unnamed, [("button", Some(8)), ("textbox", Some(9))]);
    }

    #[test]
    fn describes_elements_by_tag_and_attributes() {
        let described = json!({ "node": { "nodeName": "BUTTON", "localName": "button",
            "attributes": ["id", "mute", "class", "icon", "data-x", "y".repeat(50)] } });
        assert_eq!(
            describe_element(&described),
            format!(
                "<button id=\"mute\" class=\"icon\" data-x=\"{}…\">",
                "y".repeat(40)
            )
        );
        assert_eq!(describe_element(&json!({})), "<?>");
    }
}
