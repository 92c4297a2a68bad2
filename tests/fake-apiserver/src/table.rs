//! A minimal `meta.k8s.io/v1` Table, what kubectl asks for (`as=Table`) to print
//! `kubectl get` in human form: name and age for everything, plus the columns
//! people look at for nodes and pods.

use serde_json::{json, Value};

use crate::resources::Resource;

fn age(created: &str) -> String {
    let fmt = time::format_description::well_known::Rfc3339;
    let Ok(t) = time::OffsetDateTime::parse(created, &fmt) else { return "<unknown>".into() };
    let s = (time::OffsetDateTime::now_utc() - t).whole_seconds().max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn node_status(n: &Value) -> String {
    let ready = n["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let mut s = match ready.map(|c| c["status"] == "True") {
        Some(true) => "Ready".to_string(),
        Some(false) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if n["spec"]["unschedulable"] == true {
        s.push_str(",SchedulingDisabled");
    }
    s
}

fn col(name: &str, ty: &str) -> Value {
    // priority 1: shown only with `-o wide`, as on the real server
    let priority = if name == "Node" { 1 } else { 0 };
    json!({"name": name, "type": ty, "format": if name == "Name" { "name" } else { "" }, "description": "", "priority": priority})
}

fn cells(res: &Resource, o: &Value) -> Vec<Value> {
    let name = json!(o["metadata"]["name"]);
    let age = json!(age(o["metadata"]["creationTimestamp"].as_str().unwrap_or("")));
    match res.kind {
        "Node" => {
            let roles = o["metadata"]["labels"].as_object().map_or(Vec::new(), |l| {
                l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).map(String::from).collect()
            });
            let roles = if roles.is_empty() { "<none>".to_string() } else { roles.join(",") };
            vec![name, json!(node_status(o)), json!(roles), age, o["status"]["nodeInfo"]["kubeletVersion"].clone()]
        }
        "Pod" => {
            let n = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = if o["status"]["phase"] == "Running" { n } else { 0 };
            let phase = if o["metadata"]["deletionTimestamp"].is_null() {
                o["status"]["phase"].clone()
            } else {
                json!("Terminating")
            };
            vec![name, json!(format!("{ready}/{n}")), phase, json!(0), age, o["spec"]["nodeName"].clone()]
        }
        _ => vec![name, age],
    }
}

pub fn from_list(res: &Resource, list: &Value) -> Value {
    let cols = match res.kind {
        "Node" => vec![
            col("Name", "string"),
            col("Status", "string"),
            col("Roles", "string"),
            col("Age", "string"),
            col("Version", "string"),
        ],
        "Pod" => vec![
            col("Name", "string"),
            col("Ready", "string"),
            col("Status", "string"),
            col("Restarts", "integer"),
            col("Age", "string"),
            col("Node", "string"),
        ],
        _ => vec![col("Name", "string"), col("Age", "string")],
    };
    let rows: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            json!({"cells": cells(res, o), "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list["metadata"], "columnDefinitions": cols, "rows": rows})
}
