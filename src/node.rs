//! Changes kured makes to its own Node: cordon/uncordon, labels, annotations and
//! the PreferNoSchedule taint. Each is a PATCH that touches only what it names,
//! and each is idempotent (nothing is sent when the node is already as wanted).

use serde_json::{json, Map, Value};

use crate::error::Result;
use crate::kube::{Client, Node, Patch, Taint};

/// The effect of the taint set while a node waits for the lock: new pods prefer
/// other nodes, since this one will be drained soon.
pub const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";

/// How often a taint edit that raced with another writer is re-read and retried.
const TAINT_TRIES: u32 = 5;

/// Mark the node unschedulable, as `kubectl cordon` (strategic-merge patch;
/// nothing sent when it already is).
pub fn cordon(client: &Client, node: &str) -> Result<()> {
    set_unschedulable(client, node, true)
}

/// Make the node schedulable again, as `kubectl uncordon`, which sends `null`
/// (the field's default) rather than `false`.
pub fn uncordon(client: &Client, node: &str) -> Result<()> {
    set_unschedulable(client, node, false)
}

fn set_unschedulable(client: &Client, node: &str, wanted: bool) -> Result<()> {
    if client.get_node(node)?.spec.unschedulable == wanted {
        log::debug!("node {node}: already {}", if wanted { "cordoned" } else { "schedulable" });
        return Ok(());
    }
    let value = if wanted { Value::Bool(true) } else { Value::Null };
    client.patch_node(node, &Patch::Strategic(json!({ "spec": { "unschedulable": value } })))?;
    log::info!("node {node}: {}", if wanted { "cordoned" } else { "uncordoned" });
    Ok(())
}

/// Set labels (one merge patch; other labels untouched).
pub fn set_labels<K: AsRef<str>, V: AsRef<str>>(client: &Client, node: &str, labels: &[(K, V)]) -> Result<()> {
    patch_metadata_map(client, node, "labels", labels.iter().map(|(k, v)| (k, Value::from(v.as_ref()))))
}

/// Remove labels (merge patch with `null`; absent keys are fine).
#[cfg(any(test, feature = "test-support"))]
pub fn remove_labels<K: AsRef<str>>(client: &Client, node: &str, keys: &[K]) -> Result<()> {
    patch_metadata_map(client, node, "labels", keys.iter().map(|k| (k, Value::Null)))
}

pub fn set_annotations<K: AsRef<str>, V: AsRef<str>>(client: &Client, node: &str, items: &[(K, V)]) -> Result<()> {
    patch_metadata_map(client, node, "annotations", items.iter().map(|(k, v)| (k, Value::from(v.as_ref()))))
}

pub fn remove_annotations<K: AsRef<str>>(client: &Client, node: &str, keys: &[K]) -> Result<()> {
    patch_metadata_map(client, node, "annotations", keys.iter().map(|k| (k, Value::Null)))
}

fn patch_metadata_map<K: AsRef<str>>(
    client: &Client,
    node: &str,
    field: &str,
    items: impl Iterator<Item = (K, Value)>,
) -> Result<()> {
    let map: Map<String, Value> = items.map(|(k, v)| (k.as_ref().to_string(), v)).collect();
    if map.is_empty() {
        return Ok(());
    }
    client.patch_node(node, &Patch::Merge(json!({ "metadata": { field: map } })))?;
    Ok(())
}

/// Add (`present`) or remove the `key:PreferNoSchedule` taint.
///
/// `spec.taints` is a list, and other controllers edit it concurrently (the node
/// lifecycle controller adds `not-ready`/`unreachable`, operators add their
/// own), so the list must never be written back whole from a stale read. A JSON
/// patch works on the server's current list:
/// - remove: `test` that index `i` still holds our taint, then `remove` it;
///   an edit that shifted the list fails the test (422) and we re-read;
/// - add: append at `/spec/taints/-`, guarded by a `test` of the
///   resourceVersion we read so two adders cannot both append (we do not model
///   every taint field, e.g. `timeAdded`, so we cannot `test` the whole list as
///   upstream does). A list that does not exist yet is created the same way.
pub fn set_prefer_no_schedule_taint(client: &Client, node: &str, key: &str, present: bool) -> Result<()> {
    let mut tries = 0;
    loop {
        tries += 1;
        let current = client.get_node(node)?;
        let Some(ops) = taint_patch(&current, key, present) else {
            return Ok(());
        };
        match client.patch_node(node, &Patch::Json(ops)) {
            Ok(_) => {
                log::info!(
                    "node {node}: taint {key}:{PREFER_NO_SCHEDULE} {}",
                    if present { "added" } else { "removed" }
                );
                return Ok(());
            }
            Err(e) if e.api_kind() == Some(crate::error::ApiErrorKind::Invalid) && tries < TAINT_TRIES => {
                log::debug!("node {node}: taints changed while editing ({e}), re-reading");
            }
            Err(e) => return Err(e),
        }
    }
}

/// The JSON patch turning `node`'s taints into the wanted state, or None when
/// they already are. Pure.
pub fn taint_patch(node: &Node, key: &str, present: bool) -> Option<Value> {
    let ours = |t: &Taint| t.key == key && t.effect == PREFER_NO_SCHEDULE;
    let taints = &node.spec.taints;
    match (present, taints.iter().position(ours)) {
        (true, Some(_)) | (false, None) => None,
        (false, Some(i)) => Some(json!([
            { "op": "test", "path": format!("/spec/taints/{i}/key"), "value": key },
            { "op": "test", "path": format!("/spec/taints/{i}/effect"), "value": PREFER_NO_SCHEDULE },
            { "op": "remove", "path": format!("/spec/taints/{i}") },
        ])),
        (true, None) => {
            let taint = json!({ "key": key, "effect": PREFER_NO_SCHEDULE });
            let rv =
                json!({ "op": "test", "path": "/metadata/resourceVersion", "value": node.metadata.resource_version });
            let add = if taints.is_empty() {
                // Absent or empty: we cannot tell which, so set the whole list.
                json!({ "op": "add", "path": "/spec/taints", "value": [taint] })
            } else {
                json!({ "op": "add", "path": "/spec/taints/-", "value": taint })
            };
            Some(json!([rv, add]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(rv: &str, taints: &[(&str, &str)]) -> Node {
        let mut n = Node::default();
        n.metadata.resource_version = rv.to_string();
        n.spec.taints =
            taints.iter().map(|(k, e)| Taint { key: k.to_string(), value: None, effect: e.to_string() }).collect();
        n
    }

    #[track_caller]
    fn patch(taints: &[(&str, &str)], present: bool, want: Option<Value>) {
        assert_eq!(taint_patch(&node("7", taints), "kured", present), want, "{taints:?} present={present}");
    }

    #[test]
    fn taint_patches() {
        let pns = PREFER_NO_SCHEDULE;
        let rv = json!({"op":"test","path":"/metadata/resourceVersion","value":"7"});
        let taint = json!({"key":"kured","effect":pns});
        patch(&[("kured", pns)], true, None);
        patch(&[], false, None);
        patch(&[("kured", "NoSchedule")], false, None); // not ours: left alone
        patch(&[], true, Some(json!([rv, {"op":"add","path":"/spec/taints","value":[taint]}])));
        patch(&[("other", "NoExecute")], true, Some(json!([rv, {"op":"add","path":"/spec/taints/-","value":taint}])));
        patch(
            &[("other", "NoExecute"), ("kured", pns)],
            false,
            Some(json!([
                {"op":"test","path":"/spec/taints/1/key","value":"kured"},
                {"op":"test","path":"/spec/taints/1/effect","value":pns},
                {"op":"remove","path":"/spec/taints/1"},
            ])),
        );
    }
}
