//! PodDisruptionBudget arithmetic as the disruption controller does it:
//! expected pods (from the owners' scale), desired healthy (minAvailable or
//! maxUnavailable, percentages rounded up) and current healthy (Running, Ready, not
//! terminating), plus the violation counter tests use to prove drains honoured them.

use serde_json::Value;

use crate::resources;
use crate::selector::LabelSelector;
use crate::state::State;

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub name: String,
    pub expected: i64,
    pub desired: i64,
    pub healthy: i64,
}

impl Budget {
    pub fn disruptions_allowed(&self) -> i64 {
        (self.healthy - self.desired).max(0)
    }
}

/// A policy/v1 selector: null matches nothing, `{}` matches everything.
pub fn selects(pdb: &Value, pod: &Value) -> bool {
    let sel = &pdb["spec"]["selector"];
    !sel.is_null() && LabelSelector::from_object(sel).matches(pod)
}

pub fn is_healthy(pod: &Value) -> bool {
    let ready = pod["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .is_none_or(|c| c["status"] == "True");
    pod["status"]["phase"] == "Running" && pod["metadata"]["deletionTimestamp"].is_null() && ready
}

fn scaled(v: &Value, expected: i64) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => {
            let p: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            (expected * p + 99) / 100
        }
        _ => 0,
    }
}

/// How many pods the owners of `pods` want: each controller's replicas, once;
/// an unowned pod counts itself.
fn expected(st: &State, ns: &str, pods: &[&Value]) -> i64 {
    let rs = resources::by_name("replicasets.apps").expect("known");
    let mut seen = Vec::new();
    let mut n = 0;
    for p in pods {
        let owner =
            p["metadata"]["ownerReferences"].as_array().and_then(|o| o.iter().find(|r| r["controller"] == true));
        match owner {
            Some(o) if o["kind"] == "ReplicaSet" => {
                let uid = o["uid"].as_str().unwrap_or("").to_string();
                if seen.contains(&uid) {
                    continue;
                }
                seen.push(uid.clone());
                let owner_rs = st.store.list(rs, Some(ns)).find(|r| r["metadata"]["uid"] == uid.as_str());
                n += owner_rs.and_then(|r| r["spec"]["replicas"].as_i64()).unwrap_or(1);
            }
            _ => n += 1,
        }
    }
    n
}

pub fn budget(st: &State, pdb: &Value) -> Budget {
    let ns = pdb["metadata"]["namespace"].as_str().unwrap_or("");
    let pods_res = resources::by_name("pods").expect("known");
    let pods: Vec<&Value> = st.store.list(pods_res, Some(ns)).filter(|p| selects(pdb, p)).collect();
    let healthy = pods.iter().filter(|p| is_healthy(p)).count() as i64;
    let live: Vec<&Value> = pods.iter().copied().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect();
    let spec = &pdb["spec"];
    let (expected, desired) = if !spec["maxUnavailable"].is_null() {
        let e = expected(st, ns, &live);
        (e, (e - scaled(&spec["maxUnavailable"], e)).max(0))
    } else if spec["minAvailable"].is_string() {
        let e = expected(st, ns, &live);
        (e, scaled(&spec["minAvailable"], e))
    } else {
        (live.len() as i64, scaled(&spec["minAvailable"], 0))
    };
    Budget { name: pdb["metadata"]["name"].as_str().unwrap_or("").to_string(), expected, desired, healthy }
}

/// Budgets in `ns` matching `pod`.
pub fn matching(st: &State, ns: &str, pod: &Value) -> Vec<Budget> {
    let res = resources::by_name("poddisruptionbudgets").expect("known");
    st.store.list(res, Some(ns)).filter(|b| selects(b, pod)).map(|b| budget(st, b)).collect()
}

/// Every budget of `ns`, before a deletion.
pub fn snapshot(st: &State, ns: &str) -> Vec<Budget> {
    let res = resources::by_name("poddisruptionbudgets").expect("known");
    st.store.list(res, Some(ns)).map(|b| budget(st, b)).collect()
}

/// Count budgets that a deletion took from satisfied to violated.
pub fn count_violations(st: &mut State, ns: &str, before: &[Budget]) {
    let after = snapshot(st, ns);
    for b in before.iter().filter(|b| b.healthy >= b.desired) {
        if after.iter().any(|a| a.name == b.name && a.healthy < a.desired) {
            st.pdb_violations += 1;
        }
    }
}
