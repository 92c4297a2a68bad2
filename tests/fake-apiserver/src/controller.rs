//! The controllers of a real cluster, reduced to what drains exercise, run on
//! every tick: graceful deletions end, orphans are collected, Deployments own a
//! ReplicaSet, ReplicaSets and DaemonSets keep their pods, a scheduler places
//! pods on schedulable Ready nodes, and pods start Running after a short delay
//! (so PodDisruptionBudgets free up as replacements come up elsewhere).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde_json::{json, Value};

use crate::ops;
use crate::pdb;
use crate::resources::{self, Resource};
use crate::state::State;
use crate::store::now_rfc3339;

fn res(name: &str) -> &'static Resource {
    resources::by_name(name).expect("controllers only use known resources")
}

fn meta<'a>(o: &'a Value, field: &str) -> &'a str {
    o["metadata"][field].as_str().unwrap_or("")
}

fn terminating(p: &Value) -> bool {
    !p["metadata"]["deletionTimestamp"].is_null()
}

fn controller_uid(o: &Value) -> Option<&str> {
    o["metadata"]["ownerReferences"].as_array()?.iter().find(|r| r["controller"] == true)?["uid"].as_str()
}

fn owner_ref(owner: &Value) -> Value {
    json!([{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
}

/// Write `status` if it changed (a status write bumps resourceVersion, so only then).
fn set_status(st: &mut State, r: &Resource, o: &Value, status: Value) {
    if o["status"] == status {
        return;
    }
    let mut n = o.clone();
    n["status"] = status;
    let _ = st.store.update(r, meta(o, "namespace"), meta(o, "name"), n, false);
}

pub fn tick(st: &mut State, now: Instant) {
    finish_deletions(st, now);
    if st.controllers {
        collect_orphans(st);
        deployments(st);
        replicasets(st);
        daemonsets(st);
        schedule(st);
    }
    start_pods(st, now);
    if st.controllers {
        budgets(st);
    }
}

fn finish_deletions(st: &mut State, now: Instant) {
    let due: Vec<_> = st.deadlines.iter().filter(|(_, d)| **d <= now).map(|(k, _)| k.clone()).collect();
    for k in due {
        st.deadlines.remove(&k);
        st.scheduled_at.remove(&k);
        let _ = st.store.remove(res("pods"), &k.1, &k.2);
    }
}

fn collect_orphans(st: &mut State) {
    let owners: Vec<String> = ["replicasets.apps", "daemonsets.apps", "deployments.apps"]
        .iter()
        .flat_map(|r| st.store.list(res(r), None).map(|o| meta(o, "uid").to_string()).collect::<Vec<_>>())
        .collect();
    for r in ["replicasets.apps", "pods"] {
        let orphans: Vec<(String, String)> = st
            .store
            .list(res(r), None)
            .filter(|o| controller_uid(o).is_some_and(|u| !owners.iter().any(|x| x == u)) && !terminating(o))
            .map(|o| (meta(o, "namespace").to_string(), meta(o, "name").to_string()))
            .collect();
        for (ns, name) in orphans {
            let _ = ops::delete(st, res(r), &ns, &name, None, None);
        }
    }
}

fn deployments(st: &mut State) {
    for d in st.store.list_owned(res("deployments.apps"), None) {
        let (ns, uid) = (meta(&d, "namespace").to_string(), meta(&d, "uid"));
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
        let rs = st.store.list(res("replicasets.apps"), Some(&ns)).find(|r| controller_uid(r) == Some(uid)).cloned();
        let rs = match rs {
            Some(mut rs) if rs["spec"]["replicas"].as_i64() != Some(replicas) => {
                rs["spec"]["replicas"] = json!(replicas);
                st.store.update(res("replicasets.apps"), &ns, meta(&rs, "name"), rs.clone(), false).unwrap_or(rs)
            }
            Some(rs) => rs,
            None => {
                let hash = format!(
                    "{:x}",
                    meta(&d, "name").bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
                );
                let mut template = d["spec"]["template"].clone();
                template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut selector = d["spec"]["selector"].clone();
                selector["matchLabels"]["pod-template-hash"] = json!(hash);
                let obj = json!({"metadata": {"name": format!("{}-{hash}", meta(&d, "name")), "labels": template["metadata"]["labels"],
                    "ownerReferences": owner_ref(&d)}, "spec": {"replicas": replicas, "selector": selector, "template": template}});
                match ops::create(st, res("replicasets.apps"), &ns, obj) {
                    Ok(rs) => rs,
                    Err(_) => continue,
                }
            }
        };
        let s = &rs["status"];
        let status = json!({"observedGeneration": d["metadata"]["generation"], "replicas": s["replicas"].as_i64().unwrap_or(0),
            "updatedReplicas": s["replicas"].as_i64().unwrap_or(0), "readyReplicas": s["readyReplicas"].as_i64().unwrap_or(0),
            "availableReplicas": s["readyReplicas"].as_i64().unwrap_or(0)});
        set_status(st, res("deployments.apps"), &d, status);
    }
}

fn new_pod(owner: &Value, node: Option<&str>, extra_tolerations: &[Value]) -> Value {
    let t = &owner["spec"]["template"];
    let mut spec = t["spec"].clone();
    if !spec.is_object() {
        spec = json!({});
    }
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    if !extra_tolerations.is_empty() {
        let mut tol = spec["tolerations"].as_array().cloned().unwrap_or_default();
        tol.extend(extra_tolerations.iter().cloned());
        spec["tolerations"] = json!(tol);
    }
    let mut pod = json!({"metadata": {"generateName": format!("{}-", meta(owner, "name")),
        "ownerReferences": owner_ref(owner)}, "spec": spec});
    // The real server omits empty fields: copy labels/annotations only when set.
    for key in ["labels", "annotations"] {
        if t["metadata"][key].is_object() {
            pod["metadata"][key] = t["metadata"][key].clone();
        }
    }
    pod
}

fn owned_pods(st: &State, ns: &str, uid: &str) -> Vec<Value> {
    st.store.list(res("pods"), Some(ns)).filter(|p| controller_uid(p) == Some(uid)).cloned().collect()
}

fn active(p: &Value) -> bool {
    !terminating(p) && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

fn replicasets(st: &mut State) {
    for rs in st.store.list_owned(res("replicasets.apps"), None) {
        let (ns, uid) = (meta(&rs, "namespace").to_string(), meta(&rs, "uid").to_string());
        let want = rs["spec"]["replicas"].as_i64().unwrap_or(1);
        let mut live: Vec<Value> = owned_pods(st, &ns, &uid).into_iter().filter(active).collect();
        for _ in live.len() as i64..want {
            if let Ok(p) = ops::create(st, res("pods"), &ns, new_pod(&rs, None, &[])) {
                live.push(p);
            }
        }
        while live.len() as i64 > want {
            let p = live.pop().expect("longer than want >= 0");
            let _ = ops::delete(st, res("pods"), &ns, meta(&p, "name"), None, None);
        }
        let ready = live.iter().filter(|p| pdb::is_healthy(p)).count();
        let status = json!({"replicas": live.len(), "readyReplicas": ready, "availableReplicas": ready,
            "fullyLabeledReplicas": live.len(), "observedGeneration": rs["metadata"]["generation"]});
        set_status(st, res("replicasets.apps"), &rs, status);
    }
}

fn daemonsets(st: &mut State) {
    let nodes: Vec<String> = st.store.list(res("nodes"), None).map(|n| meta(n, "name").to_string()).collect();
    let tolerations = [
        json!({"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}),
        json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}),
    ];
    for ds in st.store.list_owned(res("daemonsets.apps"), None) {
        let (ns, uid) = (meta(&ds, "namespace").to_string(), meta(&ds, "uid").to_string());
        // Names and counts from references, not clones: a 1,000-node
        // simulation ticks this 20 times a second over 2,000 pods.
        let known: HashSet<&str> = nodes.iter().map(String::as_str).collect();
        let (missing, strays) = {
            let pods: Vec<&Value> = st
                .store
                .list(res("pods"), Some(&ns))
                .filter(|p| controller_uid(p) == Some(uid.as_str()) && active(p))
                .collect();
            let on: HashSet<&str> = pods.iter().filter_map(|p| p["spec"]["nodeName"].as_str()).collect();
            let missing: Vec<String> = nodes.iter().filter(|n| !on.contains(n.as_str())).cloned().collect();
            let strays: Vec<String> = pods
                .iter()
                .filter(|p| !p["spec"]["nodeName"].as_str().is_some_and(|n| known.contains(n)))
                .map(|p| meta(p, "name").to_string())
                .collect();
            (missing, strays)
        };
        for n in missing {
            let _ = ops::create(st, res("pods"), &ns, new_pod(&ds, Some(&n), &tolerations));
        }
        for name in strays {
            let _ = ops::delete(st, res("pods"), &ns, &name, Some(0), None);
        }
        let (count, ready) = {
            let pods: Vec<&Value> = st
                .store
                .list(res("pods"), Some(&ns))
                .filter(|p| controller_uid(p) == Some(uid.as_str()) && active(p))
                .collect();
            (pods.len(), pods.iter().filter(|p| pdb::is_healthy(p)).count())
        };
        let status = json!({"desiredNumberScheduled": nodes.len(), "currentNumberScheduled": count, "numberReady": ready,
            "numberAvailable": ready, "updatedNumberScheduled": count, "numberMisscheduled": 0,
            "observedGeneration": ds["metadata"]["generation"]});
        set_status(st, res("daemonsets.apps"), &ds, status);
    }
}

fn tolerates(pod: &Value, key: &str, value: &str, effect: &str) -> bool {
    pod["spec"]["tolerations"].as_array().into_iter().flatten().any(|t| {
        let tk = t["key"].as_str().unwrap_or("");
        let exists = t["operator"] == "Exists";
        let key_ok = (tk.is_empty() && exists) || (tk == key && (exists || t["value"].as_str().unwrap_or("") == value));
        let te = t["effect"].as_str().unwrap_or("");
        key_ok && (te.is_empty() || te == effect)
    })
}

/// Whether `pod` may go to `node`: schedulable (or tolerated), Ready, taints
/// tolerated, its `nodeSelector` matched by the node's labels (as the real scheduler).
pub fn fits(pod: &Value, node: &Value) -> bool {
    let selected =
        pod["spec"]["nodeSelector"].as_object().into_iter().flatten().all(|(k, v)| &node["metadata"]["labels"][k] == v);
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    let cordoned =
        node["spec"]["unschedulable"] == true && !tolerates(pod, "node.kubernetes.io/unschedulable", "", "NoSchedule");
    let taints_ok = node["spec"]["taints"].as_array().into_iter().flatten().all(|t| {
        let effect = t["effect"].as_str().unwrap_or("");
        effect == "PreferNoSchedule"
            || tolerates(pod, t["key"].as_str().unwrap_or(""), t["value"].as_str().unwrap_or(""), effect)
    });
    ready && !cordoned && taints_ok && selected
}

fn schedule(st: &mut State) {
    let waiting: Vec<Value> = st
        .store
        .list(res("pods"), None)
        .filter(|p| p["spec"]["nodeName"].as_str().unwrap_or("").is_empty() && active(p))
        .cloned()
        .collect();
    if waiting.is_empty() {
        return;
    }
    let nodes = st.store.list_owned(res("nodes"), None);
    // each node's active pods, counted once (not once per node per pod)
    let mut load: HashMap<String, usize> = HashMap::new();
    for q in st.store.list(res("pods"), None).filter(|q| active(q)) {
        if let Some(n) = q["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
            *load.entry(n.to_string()).or_default() += 1;
        }
    }
    for mut p in waiting {
        let count = |n: &Value| load.get(meta(n, "name")).copied().unwrap_or(0);
        let Some(best) = nodes.iter().filter(|n| fits(&p, n)).min_by_key(|n| count(n)) else { continue };
        let best = meta(best, "name").to_string();
        p["spec"]["nodeName"] = json!(best);
        *load.entry(best).or_default() += 1;
        let _ = st.store.update(res("pods"), meta(&p, "namespace"), meta(&p, "name"), p.clone(), false);
    }
}

fn start_pods(st: &mut State, now: Instant) {
    let pending: Vec<Value> = st
        .store
        .list(res("pods"), None)
        .filter(|p| {
            p["status"]["phase"] == "Pending" && !p["spec"]["nodeName"].as_str().unwrap_or("").is_empty() && active(p)
        })
        .cloned()
        .collect();
    for mut p in pending {
        let key = (res("pods").qualified(), meta(&p, "namespace").to_string(), meta(&p, "name").to_string());
        let since = *st.scheduled_at.entry(key.clone()).or_insert(now);
        if now.duration_since(since) < st.pod_start_delay {
            continue;
        }
        st.scheduled_at.remove(&key);
        let t = now_rfc3339();
        p["status"] = json!({"phase": "Running", "startTime": t, "podIP": "10.244.0.10", "hostIP": "10.0.0.1",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t},
                           {"type": "PodScheduled", "status": "True", "lastTransitionTime": t}]});
        let _ = st.store.update(res("pods"), &key.1, &key.2, p, false);
    }
}

fn budgets(st: &mut State) {
    for b in st.store.list_owned(res("poddisruptionbudgets.policy"), None) {
        let bud = pdb::budget(st, &b);
        let mut status = json!({"observedGeneration": b["metadata"]["generation"], "expectedPods": bud.expected,
            "desiredHealthy": bud.desired, "currentHealthy": bud.healthy, "disruptionsAllowed": bud.disruptions_allowed()});
        // keep the condition timestamp stable, or each tick would be a write
        let cond =
            if bud.disruptions_allowed() > 0 { ("True", "SufficientPods") } else { ("False", "InsufficientPods") };
        let old = b["status"]["conditions"][0].clone();
        let ts = if old["status"] == cond.0 { old["lastTransitionTime"].clone() } else { json!(now_rfc3339()) };
        status["conditions"] = json!([{"type": "DisruptionAllowed", "status": cond.0, "reason": cond.1, "message": "",
            "lastTransitionTime": ts, "observedGeneration": b["metadata"]["generation"]}]);
        set_status(st, res("poddisruptionbudgets.policy"), &b, status);
    }
}
