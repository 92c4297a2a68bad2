//! Whether a Node is Ready, from its `Ready` condition (a node without one,
//! or with status Unknown, is not ready: its kubelet has not reported).

use serde::Deserialize;

use super::{url, Client};
use crate::error::Result;

#[derive(Deserialize)]
struct NodeWithStatus {
    #[serde(default)]
    status: Status,
}

#[derive(Default, Deserialize)]
struct Status {
    #[serde(default)]
    conditions: Option<Vec<Condition>>,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    status: String,
}

impl Client {
    pub fn node_ready(&self, name: &str) -> Result<bool> {
        let path = url::path(&["api", "v1", "nodes", name]);
        let node: NodeWithStatus = self.call("GET", &path, None, "Node", super::limits::OBJECT)?;
        Ok(ready(&node))
    }
}

fn ready(node: &NodeWithStatus) -> bool {
    node.status.conditions.iter().flatten().any(|c| c.kind == "Ready" && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn r(json: &str, want: bool) {
        assert_eq!(ready(&serde_json::from_str(json).unwrap()), want, "{json}");
    }

    #[test]
    fn readiness() {
        r(r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#, true);
        r(r#"{"status":{"conditions":[{"type":"Ready","status":"Unknown"}]}}"#, false);
        r(r#"{"status":{"conditions":[{"type":"MemoryPressure","status":"True"}]}}"#, false);
        r(r#"{"status":{}}"#, false);
        r(r#"{}"#, false);
    }
}
