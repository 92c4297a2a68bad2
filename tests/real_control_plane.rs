//! The real-control-plane harness itself (tests/sim/src/real): the simulated
//! kubelet plays the nodes as a kubelet would (Ready, boot ID, Lease, no
//! not-ready taint, NotReady while rebooting and a new boot ID after), and a
//! permission missing from manifests/base's RBAC fails the run.

use std::time::Duration;

use serde_json::{json, Value};
use sim::objects::bare_pod;
use sim::{Cluster, ClusterSpec, ControlPlaneKind, Event, Limit};

/// Each wait, in kured cycles (sim::budget turns them into seconds on this
/// machine, with more for the real server).
const LIMIT: Limit = Limit::Cycles(5);

fn spec(nodes: usize, args: &[&str]) -> ClusterSpec {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), nodes, args);
    s.control_plane = ControlPlaneKind::Real;
    s.downtime = Duration::from_millis(1500);
    s
}

fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

fn boot_id(node: &Value) -> String {
    node.pointer("/status/nodeInfo/bootID").and_then(Value::as_str).unwrap_or_default().to_string()
}

fn ready(node: &Value) -> Option<String> {
    let conds = node.pointer("/status/conditions")?.as_array()?;
    conds.iter().find(|c| c["type"] == "Ready").and_then(|c| c["status"].as_str()).map(str::to_string)
}

#[test]
fn simulated_kubelet_plays_the_nodes() {
    let mut c = start(spec(1, &[]));
    let node = c.get_node("node-1").expect("node registered");
    let first_boot = boot_id(&node);
    assert!(!first_boot.is_empty(), "a boot ID: {node}");
    assert_eq!(ready(&node).as_deref(), Some("True"), "{node}");
    let taints = node.pointer("/spec/taints").and_then(Value::as_array).cloned().unwrap_or_default();
    assert!(
        taints.iter().all(|t| t["key"] != "node.kubernetes.io/not-ready"),
        "the admission taint is lifted: {taints:?}"
    );
    let real = c.api().real().expect("real mode");
    assert!(real.client().get("leases", "kube-node-lease", "node-1").is_some(), "a node Lease");
    // the kured DaemonSet's own pod, made by the real DaemonSet controller, runs
    let ok = c.poll_until(
        LIMIT,
        |_| {},
        |c| {
            c.api()
                .list("pods")
                .iter()
                .any(|p| p["metadata"]["namespace"] == "kube-system" && p["status"]["phase"] == "Running")
        },
    );
    assert!(ok, "the kured DaemonSet pod runs: {:?}", c.api().list("pods"));

    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
    let down = c.get_node("node-1").unwrap();
    assert_eq!(ready(&down).as_deref(), Some("False"), "NotReady while rebooting: {down}");
    c.wait_for(LIMIT, |e| matches!(e, Event::NodeBack { .. })).unwrap();
    let back = c.get_node("node-1").unwrap();
    assert_eq!(ready(&back).as_deref(), Some("True"));
    assert!(
        !boot_id(&back).is_empty() && boot_id(&back) != first_boot,
        "a new boot ID: {} then {}",
        first_boot,
        boot_id(&back)
    );
    let s = c.run_until_all_rebooted(LIMIT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
}

#[test]
fn a_permission_missing_from_the_rbac_fails_the_run() {
    // A blocker holds kured while the ClusterRole loses "patch nodes".
    let mut s = spec(1, &["--blocking-pod-selector=app=blocker"]);
    s.extra_objects = vec![bare_pod("default", "blocker", "node-1", "blocker", false)];
    let mut c = start(s);
    let real = c.api().real().expect("real mode");
    let mut role = real.client().get("clusterroles", "", "kured").expect("manifests/base's ClusterRole applied");
    let rules: Vec<Value> = role["rules"].as_array().cloned().unwrap_or_default();
    role["rules"] = json!(rules.into_iter().filter(|r| r["resources"] != json!(["nodes"])).collect::<Vec<_>>());
    real.client()
        .send("PUT", "/apis/rbac.authorization.k8s.io/v1/clusterroles/kured", "application/json", Some(&role))
        .expect("update the ClusterRole");
    c.api().delete("pods", "default", "blocker").expect("blocker existed");
    let ok = c.poll_until(LIMIT, |_| {}, |c| !c.summary().forbidden.is_empty());
    let s = c.summary();
    assert!(ok, "kured's node request was refused\n{}", c.report());
    assert!(s.forbidden.iter().any(|r| r.contains("/api/v1/nodes/node-1")), "{:?}", s.forbidden);
    assert!(s.violations(1).iter().any(|v| v.starts_with("forbidden by RBAC")), "{:?}", s.violations(1));
}
