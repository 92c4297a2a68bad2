//! The simulated cluster's Kubernetes objects as JSON: nodes, the kured DaemonSet
//! that carries the lock (with a realistic spec, so a lock write that dropped
//! fields it does not model would show), and the sample workloads whose drain the
//! simulation watches (Deployments behind PodDisruptionBudgets, a DaemonSet, a
//! bare pod, a pod with an emptyDir).

use serde_json::{json, Value};

/// The role label of a control-plane node (kubeadm's; k3s and RKE2 set it too).
pub const CONTROL_PLANE_ROLE: &str = "node-role.kubernetes.io/control-plane";

/// A Ready node, optionally already cordoned (by an operator), on its first boot.
pub fn node(name: &str, cordoned: bool) -> Value {
    let mut n = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
        "spec": {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "nodeInfo": {"bootID": boot_id(name, 0)}
        }
    });
    if cordoned {
        n["spec"]["unschedulable"] = json!(true);
    }
    n
}

/// The boot ID kubelet reports for `node` after `reboots` reboots: a UUID, as
/// /proc/sys/kernel/random/boot_id, different for every boot of every node.
pub fn boot_id(node: &str, reboots: u32) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (node, reboots).hash(&mut h);
    let a = h.finish();
    reboots.hash(&mut h);
    let b = h.finish();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// `kube-system/kured`, as the upstream manifest deploys it.
pub fn kured_daemonset(namespace: &str, name: &str, lock: Option<(&str, &str)>) -> Value {
    let mut ds = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": "kured"},
                     "annotations": {"deprecated.daemonset.template.generation": "1"}},
        "spec": {
            "selector": {"matchLabels": {"name": "kured"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"name": "kured"}},
                "spec": {
                    "serviceAccountName": "kured",
                    "hostPID": true,
                    "restartPolicy": "Always",
                    "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
                    "containers": [{
                        "name": "kured",
                        "image": "ghcr.io/kubereboot/kured:1.17.1",
                        "imagePullPolicy": "IfNotPresent",
                        "securityContext": {"privileged": true},
                        "ports": [{"containerPort": 8080, "name": "metrics"}],
                        "env": [{"name": "KURED_NODE_ID", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                        "command": ["/usr/bin/kured"],
                        "args": ["--period=1h", "--reboot-sentinel=/var/run/reboot-required"],
                        "resources": {"requests": {"cpu": "5m", "memory": "8Mi"}}
                    }]
                }
            }
        }
    });
    if let Some((key, value)) = lock {
        ds["metadata"]["annotations"][key] = json!(value);
    }
    ds
}

fn labels(app: &str) -> Value {
    json!({"app": app})
}

fn container(name: &str) -> Value {
    json!({"name": name, "image": format!("registry.example/{name}:1"), "ports": [{"containerPort": 8080}]})
}

pub fn deployment(namespace: &str, name: &str, replicas: u32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(name)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels(name)},
            "template": {"metadata": {"labels": labels(name)}, "spec": {"containers": [container(name)]}}
        }
    })
}

/// A PodDisruptionBudget on `app=<app>`; `budget` is `{"minAvailable": n}` or `{"maxUnavailable": n}`.
pub fn pdb(namespace: &str, app: &str, budget: Value) -> Value {
    let mut spec = json!({"selector": {"matchLabels": labels(app)}});
    for (k, v) in budget.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": app, "namespace": namespace},
        "spec": spec
    })
}

pub fn daemonset(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(name)},
        "spec": {
            "selector": {"matchLabels": labels(name)},
            "template": {"metadata": {"labels": labels(name)}, "spec": {"containers": [container(name)]}}
        }
    })
}

/// A pod bound to `node` with no controller; `empty_dir` adds an emptyDir volume.
/// (The fake server turns it Running.)
pub fn bare_pod(namespace: &str, name: &str, node: &str, app: &str, empty_dir: bool) -> Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(app)},
        "spec": {"nodeName": node, "containers": [container(name)]}
    });
    if empty_dir {
        p["spec"]["volumes"] = json!([{"name": "scratch", "emptyDir": {}}]);
        p["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "scratch", "mountPath": "/scratch"}]);
    }
    p
}

/// The sample workloads: what a drain must move without breaking a budget.
/// `nodes` is the list of node names (the bare pods go to the first and last).
pub fn workloads(nodes: &[String]) -> Vec<Value> {
    let first = nodes.first().map(String::as_str).unwrap_or("node-1");
    let last = nodes.last().map(String::as_str).unwrap_or("node-1");
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}),
        deployment("default", "web", 4),
        pdb("default", "web", json!({"minAvailable": 3})),
        deployment("default", "api", 3),
        pdb("default", "api", json!({"maxUnavailable": 1})),
        daemonset("monitoring", "node-exporter"),
        bare_pod("default", "lonely", first, "lonely", false),
        bare_pod("default", "scratch", last, "scratch", true),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdb_carries_the_budget() {
        let p = pdb("default", "web", json!({"minAvailable": 3}));
        assert_eq!(p["spec"]["minAvailable"], 3);
        assert_eq!(p["spec"]["selector"]["matchLabels"]["app"], "web");
    }

    #[test]
    fn planted_lock_is_an_annotation() {
        let ds = kured_daemonset("kube-system", "kured", Some(("weave.works/kured-node-lock", "{}")));
        assert_eq!(ds["metadata"]["annotations"]["weave.works/kured-node-lock"], "{}");
        assert_eq!(ds["spec"]["template"]["spec"]["containers"][0]["name"], "kured");
    }

    #[test]
    fn every_boot_has_its_own_id() {
        assert_eq!(node("n", false)["status"]["nodeInfo"]["bootID"], boot_id("n", 0));
        assert_ne!(boot_id("n", 0), boot_id("n", 1));
        assert_ne!(boot_id("n", 0), boot_id("m", 0));
        assert_eq!(boot_id("n", 3).len(), 36);
    }

    #[test]
    fn cordoned_node() {
        assert_eq!(node("n", true)["spec"]["unschedulable"], true);
        assert!(node("n", false)["spec"].get("unschedulable").is_none());
    }
}
