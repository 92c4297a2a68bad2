//! Minimal typed views of the objects kured reads. Unknown fields are ignored;
//! objects that are written back whole (the DaemonSet) keep their full JSON.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub resource_version: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub owner_references: Vec<OwnerReference>,
    /// RFC 3339
    pub deletion_timestamp: Option<String>,
    pub deletion_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub controller: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    pub effect: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    #[serde(default)]
    pub unschedulable: bool,
    #[serde(default)]
    pub taints: Vec<Taint>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Node {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NodeSpec,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    #[serde(default)]
    pub name: String,
    pub empty_dir: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub node_name: String,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    pub termination_grace_period_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PodStatus {
    /// Pending, Running, Succeeded, Failed, Unknown
    #[serde(default)]
    pub phase: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Pod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default)]
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
