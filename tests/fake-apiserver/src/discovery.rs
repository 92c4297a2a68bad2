//! Discovery documents kubectl reads before anything else: `/version`, `/api`,
//! `/apis`, and the resource lists of each group version (legacy, non-aggregated
//! form, which kubectl falls back to). `pods/eviction` names group policy, which is
//! how `kubectl drain` decides to evict rather than delete.

use serde_json::{json, Value};

use crate::resources::{self, GROUPS};

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3",
        "compiler": "gc", "platform": "linux/amd64",
    })
}

pub fn api_versions() -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    })
}

pub fn group(name: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/v1"), "version": "v1"});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": [gv.clone()], "preferredVersion": gv})
}

pub fn api_groups() -> Value {
    let groups: Vec<Value> = GROUPS
        .iter()
        .map(|g| {
            let mut v = group(g);
            if let Some(m) = v.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            v
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

const VERBS: [&str; 8] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

pub fn resource_list(group: &str, version: &str) -> Value {
    let mut out = Vec::new();
    for r in resources::in_group(group).filter(|r| r.version == version) {
        let mut v = json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
            "verbs": VERBS, "shortNames": r.short,
        });
        if r.kind == "Pod" || r.kind == "Deployment" || r.kind == "DaemonSet" {
            v["categories"] = json!(["all"]);
        }
        out.push(v);
        if r.has_status {
            out.push(json!({"name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": r.kind, "verbs": ["get", "patch", "update"]}));
        }
        if r.kind == "Pod" {
            out.push(json!({"name": "pods/eviction", "singularName": "", "namespaced": true, "group": "policy",
                "version": "v1", "kind": "Eviction", "verbs": ["create"]}));
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out})
}
