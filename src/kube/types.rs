//! Minimal typed views of the objects kured reads. Unknown fields are ignored;
//! objects that are written back whole (the DaemonSet) keep their full JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespace: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub resource_version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub owner_references: Vec<OwnerReference>,
    /// RFC 3339
    pub deletion_timestamp: Option<String>,
    pub deletion_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(default, deserialize_with = "null_as_default")]
    pub api_version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub controller: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    pub key: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: Option<String>,
    pub effect: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    #[serde(default, deserialize_with = "null_as_default")]
    pub unschedulable: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub taints: Vec<Taint>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// Changes on every boot of the machine (kubelet reads it from
    /// /proc/sys/kernel/random/boot_id).
    #[serde(rename = "bootID", default, deserialize_with = "null_as_default")]
    pub boot_id: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_info: NodeInfo,
    #[serde(default, deserialize_with = "null_as_default")]
    pub conditions: Vec<NodeCondition>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct NodeCondition {
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// True, False or Unknown
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    /// When `status` last changed (RFC 3339), if reported.
    #[serde(rename = "lastTransitionTime", default, deserialize_with = "null_as_default")]
    pub last_transition_time: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Node {
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: NodeSpec,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: NodeStatus,
}

impl Node {
    /// The boot ID kubelet reports, if any.
    pub fn boot_id(&self) -> Option<&str> {
        Some(self.status.node_info.boot_id.as_str()).filter(|b| !b.is_empty())
    }

    /// Its `Ready` condition is True (none, or Unknown: its kubelet has not reported).
    pub fn ready(&self) -> bool {
        self.status.conditions.iter().any(|c| c.kind == "Ready" && c.status == "True")
    }

    /// Since when it has been Ready (its Ready condition's `lastTransitionTime`),
    /// when it is and that time is reported and valid.
    pub fn ready_since(&self) -> Option<time::OffsetDateTime> {
        let c = self.status.conditions.iter().find(|c| c.kind == "Ready" && c.status == "True")?;
        time::OffsetDateTime::parse(&c.last_transition_time, &time::format_description::well_known::Rfc3339).ok()
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    pub empty_dir: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub volumes: Vec<Volume>,
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PodStatus {
    /// Pending, Running, Succeeded, Failed, Unknown
    #[serde(default, deserialize_with = "null_as_default")]
    pub phase: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Pod {
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    pub spec: PodSpec,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: PodStatus,
}

impl Pod {
    /// The owner reference marked `controller: true`, if any.
    pub fn controller(&self) -> Option<&OwnerReference> {
        self.metadata.owner_references.iter().find(|o| o.controller == Some(true))
    }
}

/// A DaemonSet kept as its full JSON, so a whole-object PUT loses nothing we do
/// not model (the lock lives in one annotation; the spec must survive untouched).
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSet {
    pub raw: Value,
}

impl DaemonSet {
    pub fn namespace(&self) -> &str {
        self.raw.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.raw.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
    }
    pub fn resource_version(&self) -> &str {
        self.raw.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("")
    }
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.raw.get("metadata")?.get("annotations")?.get(key)?.as_str()
    }
    /// Set (Some) or remove (None) one annotation, touching nothing else.
    pub fn set_annotation(&mut self, key: &str, value: Option<&str>) {
        let Some(meta) = self.raw.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Default::default()));
        if !annotations.is_object() {
            *annotations = Value::Object(Default::default());
        }
        let map = annotations.as_object_mut().expect("just made an object");
        match value {
            Some(v) => {
                map.insert(key.to_string(), Value::String(v.to_string()));
            }
            None => {
                map.remove(key);
            }
        }
    }
}

/// Kubernetes omits empty fields, but other writers (and some proxies) send
/// `null`; read it as the empty value rather than failing a whole list.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_read_as_empty() {
        let pod: Pod = serde_json::from_str(
            r#"{"metadata":{"name":"p","annotations":null,"labels":null,"ownerReferences":null},
                "spec":{"nodeName":null,"volumes":null},"status":{"phase":null}}"#,
        )
        .unwrap();
        assert_eq!(pod.metadata.name, "p");
        assert!(pod.metadata.annotations.is_empty() && pod.spec.volumes.is_empty());
        assert_eq!(pod.status.phase, "");
    }

    #[test]
    fn boot_ids() {
        let node: Node = serde_json::from_str(r#"{"status":{"nodeInfo":{"bootID":"b-1"}}}"#).unwrap();
        assert_eq!(node.boot_id(), Some("b-1"));
        let node: Node = serde_json::from_str(r#"{"status":{"nodeInfo":null}}"#).unwrap();
        assert_eq!(node.boot_id(), None);
        assert_eq!(Node::default().boot_id(), None);
    }
}
