//! The Helm chart's kured-rs keys of issue 22 as `helm template` (scripts/helm,
//! no cluster) renders them into the kured container's args: each
//! `configuration.maintenanceWindows` entry one `--maintenance-window`, in
//! order; `controlPlaneQuorumGuard: false` as `=false` (a boolean, unlike
//! `extraArgs`, where an unquoted false is the bare flag); none of them with
//! the defaults; and the ClusterRole's `list` on nodes that the quorum guard
//! needs. scripts/check-manifests.sh runs the binary with such args.

use std::process::Command;

use serde::Deserialize;
use serde_json::Value;
use sim::real::controlplane::repo_root;

#[path = "support/helm.rs"]
mod helm_support;
use helm_support::helm_bin;

const NEW_FLAGS: [&str; 5] = [
    "--maintenance-window",
    "--control-plane-quorum-guard",
    "--control-plane-selector",
    "--control-plane-order",
    "--control-plane-settle",
];

/// `helm template kured <chart> -n kube-system ARGS`, as objects.
fn render(args: &[&str]) -> Vec<Value> {
    let out = Command::new(helm_bin())
        .args(["template", "kured"])
        .arg(repo_root().join("manifests/helm/kured"))
        .args(["--namespace", "kube-system"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run helm: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "helm template {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("helm template {args:?}: {e}\n{text}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn object<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects.iter().find(|o| o["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in {objects:?}"))
}

/// The kured container's args that set one of `NEW_FLAGS`, in order.
fn new_flags(args: &[&str]) -> Vec<String> {
    let objects = render(args);
    let ds = object(&objects, "DaemonSet");
    let container = &ds["spec"]["template"]["spec"]["containers"][0];
    let all = container["args"].as_array().unwrap_or_else(|| panic!("no args in {container}"));
    all.iter()
        .map(|a| a.as_str().unwrap_or_else(|| panic!("arg {a} is not a string")).to_string())
        .filter(|a| NEW_FLAGS.iter().any(|f| a.starts_with(&format!("{f}="))))
        .collect()
}

#[test]
fn the_defaults_leave_the_new_flags_out() {
    assert_eq!(new_flags(&[]), Vec::<String>::new());
}

#[test]
fn the_readmes_set_lines_render_each_flag() {
    let got = new_flags(&[
        "--set",
        "configuration.maintenanceWindows={mon-fri 03:00-05:00 Europe/Berlin,sat 00:00-24:00 Europe/Berlin}",
        "--set",
        "configuration.controlPlaneQuorumGuard=false",
        "--set",
        "configuration.controlPlaneSelector=node-role.kubernetes.io/etcd",
        "--set",
        "configuration.controlPlaneOrder=last",
        "--set",
        "configuration.controlPlaneSettle=5m",
    ]);
    assert_eq!(
        got,
        [
            "--control-plane-quorum-guard=false",
            "--control-plane-selector=node-role.kubernetes.io/etcd",
            "--control-plane-order=last",
            "--control-plane-settle=5m",
            "--maintenance-window=mon-fri 03:00-05:00 Europe/Berlin",
            "--maintenance-window=sat 00:00-24:00 Europe/Berlin",
        ]
    );
    // the guard on, said explicitly, is passed too (null alone leaves it out)
    assert_eq!(
        new_flags(&["--set", "configuration.controlPlaneQuorumGuard=true"]),
        ["--control-plane-quorum-guard=true"]
    );
}

#[test]
fn the_cluster_role_lets_the_quorum_guard_list_nodes() {
    let objects = render(&[]);
    let role = object(&objects, "ClusterRole");
    let rules = role["rules"].as_array().unwrap_or_else(|| panic!("no rules in {role}"));
    let lists_nodes = rules.iter().any(|r| {
        let has = |field: &str, want: &str| r[field].as_array().is_some_and(|v| v.iter().any(|x| x == want));
        has("apiGroups", "") && has("resources", "nodes") && has("verbs", "list")
    });
    assert!(lists_nodes, "no list on nodes in {role}");
}
