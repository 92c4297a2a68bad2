//! The simulated kubelet, one for all nodes of a real-mode cluster: it registers
//! each Node (Ready, capacity, `status.nodeInfo.bootID`) and removes the
//! not-ready taint admission put on it (there is no node-lifecycle controller),
//! renews each node's Lease, makes the pods bound to its nodes Running and
//! Ready, and finalizes pods being deleted once their grace period is over, as
//! the kubelet does. A node that is down (rebooting) does none of that; it
//! comes back with a new boot ID.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::client::Client;

/// How often a node renews its Lease (the kubelet's default is 10 s).
const LEASE_EVERY: Duration = Duration::from_secs(10);

struct NodeState {
    up: bool,
    boot: u32,
    lease_at: Option<Instant>,
}

#[derive(Default)]
pub struct Kubelet {
    nodes: BTreeMap<String, NodeState>,
    /// Pods already made Running (by uid): no second status write.
    running: std::collections::BTreeSet<String>,
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

fn ready_condition(ready: bool) -> Value {
    let now = now_rfc3339();
    let (status, reason, message) = if ready {
        ("True", "KubeletReady", "kubelet is posting ready status")
    } else {
        ("False", "KubeletNotReady", "node is rebooting")
    };
    json!({"type": "Ready", "status": status, "reason": reason, "message": message, "lastHeartbeatTime": now, "lastTransitionTime": now})
}

fn node_status(ready: bool, boot_id: &str) -> Value {
    let capacity = json!({"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "50Gi"});
    json!({"status": {
        "conditions": [ready_condition(ready)],
        "capacity": capacity, "allocatable": capacity,
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "nodeInfo": {"bootID": boot_id, "machineID": "", "systemUUID": "", "kernelVersion": "6.1.0-sim", "osImage": "kured-sim",
                     "containerRuntimeVersion": "sim://1", "kubeletVersion": "v1.34.4", "kubeProxyVersion": "",
                     "operatingSystem": "linux", "architecture": "amd64"}
    }})
}

impl Kubelet {
    /// Register a node from the harness's object (labels, spec), Ready.
    pub fn register(&mut self, api: &Client, node: &Value) -> Result<(), String> {
        let name = node["metadata"]["name"].as_str().ok_or("node without a name")?.to_string();
        let mut obj = node.clone();
        obj.as_object_mut().map(|o| o.remove("status"));
        api.create(&obj).map_err(|e| format!("create node {name}: {e}"))?;
        // Registered again (its Node was deleted): the machine is on the same boot.
        let again = self.nodes.get(&name).map(|n| n.boot);
        let boot = again.unwrap_or(0);
        api.merge_patch("nodes", "", &name, "/status", &node_status(true, &crate::objects::boot_id(&name, boot)))
            .map_err(|e| format!("node {name} status: {e}"))?;
        self.drop_not_ready_taint(api, &name)?;
        if again.is_none() {
            let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_now()}});
            api.create(&lease).map_err(|e| format!("create lease {name}: {e}"))?;
        }
        self.nodes.insert(name, NodeState { up: true, boot, lease_at: Some(Instant::now()) });
        Ok(())
    }

    /// The TaintNodesByCondition admission plugin taints every new node
    /// not-ready; the node-lifecycle controller (not run) would lift it.
    fn drop_not_ready_taint(&self, api: &Client, name: &str) -> Result<(), String> {
        let node = api.get("nodes", "", name).ok_or_else(|| format!("node {name} vanished"))?;
        let taints: Vec<Value> = node["spec"]["taints"].as_array().cloned().unwrap_or_default();
        let kept: Vec<Value> = taints.iter().filter(|t| t["key"] != "node.kubernetes.io/not-ready").cloned().collect();
        if kept.len() != taints.len() {
            let v = if kept.is_empty() { Value::Null } else { json!(kept) };
            api.merge_patch("nodes", "", name, "", &json!({"spec": {"taints": v}}))
                .map_err(|e| format!("untaint {name}: {e}"))?;
        }
        Ok(())
    }

    /// The machine goes down (NotReady) or comes back (Ready, new boot ID).
    pub fn set_ready(&mut self, api: &Client, name: &str, ready: bool) {
        let Some(st) = self.nodes.get_mut(name) else { return };
        st.up = ready;
        let patch = if ready {
            st.boot += 1;
            st.lease_at = None;
            node_status(true, &crate::objects::boot_id(name, st.boot))
        } else {
            json!({"status": {"conditions": [ready_condition(false)]}})
        };
        if let Err(e) = api.merge_patch("nodes", "", name, "/status", &patch) {
            eprintln!("kured-sim: kubelet: status of {name}: {e}");
        }
    }

    /// One round: leases, then the pods on the nodes that are up.
    pub fn sync(&mut self, api: &Client) {
        for (name, st) in &mut self.nodes {
            if st.up && st.lease_at.is_none_or(|t| t.elapsed() >= LEASE_EVERY) {
                let _ = api.merge_patch(
                    "leases",
                    "kube-node-lease",
                    name,
                    "",
                    &json!({"spec": {"renewTime": micro_now()}}),
                );
                st.lease_at = Some(Instant::now());
            }
        }
        let now = OffsetDateTime::now_utc();
        for pod in api.list("pods") {
            let Some(node) = pod["spec"]["nodeName"].as_str() else { continue };
            if !self.nodes.get(node).is_some_and(|n| n.up) {
                continue;
            }
            let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
            let name = pod["metadata"]["name"].as_str().unwrap_or("");
            let uid = pod["metadata"]["uid"].as_str().unwrap_or("").to_string();
            if let Some(ts) = pod["metadata"]["deletionTimestamp"].as_str() {
                // the containers got their grace period; now the pod goes
                let due = OffsetDateTime::parse(ts, &Rfc3339).map(|t| now >= t).unwrap_or(true);
                if due {
                    let opts = json!({"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "preconditions": {"uid": uid}});
                    let _ = api.delete("pods", ns, name, Some(&opts));
                }
                continue;
            }
            let phase = pod["status"]["phase"].as_str().unwrap_or("");
            if phase == "Running" || phase == "Succeeded" || phase == "Failed" || self.running.contains(&uid) {
                continue;
            }
            if api.merge_patch("pods", ns, name, "/status", &running_status(&pod)).is_ok() {
                self.running.insert(uid);
            }
        }
    }
}

fn micro_now() -> String {
    let t = OffsetDateTime::now_utc();
    format!(
        "{}.{:06}Z",
        t.format(&time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
            .unwrap_or_default(),
        t.microsecond()
    )
}

fn running_status(pod: &Value) -> Value {
    let now = now_rfc3339();
    let cond = |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": now});
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true, "restartCount": 0,
                   "state": {"running": {"startedAt": now}}})
        })
        .collect();
    json!({"status": {
        "phase": "Running",
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("ContainersReady"), cond("Ready"), cond("PodScheduled")],
        "containerStatuses": containers,
        "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "startTime": now
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_pod_is_ready() {
        let s = running_status(&json!({"spec": {"containers": [{"name": "c", "image": "i"}]}}));
        assert_eq!(s["status"]["phase"], "Running");
        assert!(s["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True"));
        assert_eq!(s["status"]["containerStatuses"][0]["ready"], true);
    }
}
