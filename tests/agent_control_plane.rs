//! The control-plane quorum guard in one check of the loop (`Agent::check`),
//! against the fake API server: whom it holds back and why (the status
//! annotation and `kured_reboot_blocked{reason="control-plane"}`), what the
//! entry of a control-plane holder records, and that workers are not held.

#[path = "agent/fake_host.rs"]
mod fake_host;
#[path = "support/host.rs"]
mod host;
#[path = "support/kube.rs"]
mod kube;
#[path = "agent/support.rs"]
mod support;

use serde_json::{json, Value};
use support::{agent, run_check, Ended, FakeHost, World, NODE};

const ROLE: &str = "node-role.kubernetes.io/control-plane";

/// node-1 and node-2 are control-plane nodes (kubeadm's and k3s's label values); node-3 a worker.
fn ha_world(node_2_ready: bool) -> World {
    let w = World::new();
    for (name, labels) in [(NODE, json!({ROLE: ""})), ("node-2", json!({"node-role.kubernetes.io/master": "true"}))] {
        let mut n = w.api.get("nodes", "", name).expect("node");
        n["metadata"]["labels"] = labels;
        n["status"] = json!({"conditions": [{"type": "Ready", "status": if name == NODE || node_2_ready { "True" } else { "False" }}]});
        w.api.update(n).expect("label the node");
    }
    w.api.create(json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-3"},
        "status":{"conditions":[{"type":"Ready","status":"True"}]}}));
    w
}

fn status(w: &World, node: &str) -> Value {
    let n = w.api.get("nodes", "", node).expect("node");
    let raw = n["metadata"]["annotations"]["kured-rs.dev/status"].as_str().unwrap_or("{}").to_string();
    serde_json::from_str(&raw).expect("status json")
}

fn blocked_metric(a: &kured::agent::Agent<'_>, node: &str) -> String {
    let text = a.metrics().status.render(time::OffsetDateTime::now_utc());
    let want = format!("kured_reboot_blocked{{node=\"{node}\",reason=\"control-plane\"}}");
    text.lines().find(|l| l.starts_with(&want)).unwrap_or_default().to_string()
}

/// An upstream pod's entry (no mark): known as a control-plane holder by its node's name.
const NODE_2_HOLDS: &str = r#"{"maxOwners":3,"locks":[{"nodeID":"node-2","metadata":{"unschedulable":false},"created":"2030-01-01T00:00:00Z","TTL":0}]}"#;

#[test]
fn another_control_plane_holder_holds_a_control_plane_node_back() {
    let w = ha_world(true);
    w.set_lock_annotation(NODE_2_HOLDS);
    let cfg = w.config(&["--concurrency=3"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    a.metrics().status.set_node(NODE);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    assert!(!w.cordoned(), "a free slot, but not for a second control-plane node");
    assert_eq!(w.holders(), ["node-2"]);
    let s = status(&w, NODE);
    assert_eq!(
        (s["state"].as_str(), s["reason"].as_str()),
        (Some("pending"), Some("waiting: another control-plane node is rebooting (node-2)")),
        "{s}"
    );
    assert!(blocked_metric(&a, NODE).ends_with(" 1"), "{}", blocked_metric(&a, NODE));
}

#[test]
fn a_control_plane_node_not_ready_holds_the_others_back() {
    let w = ha_world(false);
    let cfg = w.config(&["--concurrency=3"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    a.metrics().status.set_node(NODE);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!((host.reboots(), w.cordoned(), w.lock_annotation()), (0, false, None));
    assert_eq!(status(&w, NODE)["reason"], "waiting: control-plane node node-2 is not Ready");
    assert!(blocked_metric(&a, NODE).ends_with(" 1"));
}

#[test]
fn a_control_plane_holder_marks_its_entry() {
    let w = ha_world(true);
    let cfg = w.config(&["--concurrency=3"]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
    let lock = w.lock_annotation().expect("the lock");
    assert!(lock.contains(r#""controlPlane":true"#), "{lock}");
}

#[test]
fn workers_keep_the_whole_concurrency() {
    let w = ha_world(false);
    // node-1 is a worker here; a control-plane node holds a slot and another is not Ready
    let mut n = w.api.get("nodes", "", NODE).unwrap();
    n["metadata"]["labels"] = json!({});
    w.api.update(n).unwrap();
    w.set_lock_annotation(NODE_2_HOLDS);
    let cfg = w.config(&["--concurrency=3"]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
    let mut holders = w.holders();
    holders.sort();
    assert_eq!(holders, [NODE, "node-2"]);
    assert!(!w.lock_annotation().unwrap().contains("controlPlane"), "a worker's entry is not marked");
    // and no Node list was needed for it
    let lists = w
        .api
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/nodes" || r.path.starts_with("/api/v1/nodes?"))
        .count();
    assert_eq!(lists, 0);
}

#[test]
fn the_guard_turned_off_lets_a_second_control_plane_node_in() {
    let w = ha_world(true);
    w.set_lock_annotation(NODE_2_HOLDS);
    let cfg = w.config(&["--concurrency=3", "--control-plane-quorum-guard=false"]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
}

#[test]
fn a_selector_names_further_control_plane_nodes() {
    let w = ha_world(true);
    // node-1 loses its role label but is an etcd node; node-3 (a worker) holds the lock
    let mut n = w.api.get("nodes", "", NODE).unwrap();
    n["metadata"]["labels"] = json!({"node-role.kubernetes.io/etcd": "true"});
    w.api.update(n).unwrap();
    w.set_lock_annotation(NODE_2_HOLDS);
    let cfg = w.config(&["--concurrency=3", "--control-plane-selector=node-role.kubernetes.io/etcd"]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!((host.reboots(), w.holders()), (0, vec!["node-2".to_string()]));
    assert_eq!(status(&w, NODE)["reason"], "waiting: another control-plane node is rebooting (node-2)");
}

fn set_status(w: &World, node: &str, state: &str) {
    let mut n = w.api.get("nodes", "", node).expect("node");
    n["metadata"]["annotations"] =
        json!({"kured-rs.dev/status": format!(r#"{{"state":"{state}","reason":"","since":"2030-01-01T00:00:00Z"}}"#)});
    w.api.update(n).expect("annotate");
}

#[test]
fn order_first_holds_a_worker_back_while_a_control_plane_node_wants_a_reboot_for_at_most_12_periods() {
    let w = ha_world(true);
    let mut n = w.api.get("nodes", "", NODE).unwrap();
    n["metadata"]["labels"] = json!({});
    w.api.update(n).unwrap();
    set_status(&w, "node-2", "pending");
    let cfg = w.config(&["--concurrency=3", "--control-plane-order=first"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    a.metrics().status.set_node(NODE);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!((host.reboots(), w.lock_annotation()), (0, None));
    assert_eq!(
        status(&w, NODE)["reason"],
        "waiting: control-plane nodes reboot first (--control-plane-order=first): node-2"
    );
    assert!(blocked_metric(&a, NODE).ends_with(" 1"));
    // still held after 11 periods, looked at each period ...
    for _ in 0..11 {
        host.advance(std::time::Duration::from_secs(1));
        assert_eq!(run_check(&mut a), Ended::Returned);
    }
    assert_eq!(host.reboots(), 0);
    // ... and goes ahead at the 12th (node-2 never got its reboot done)
    host.advance(std::time::Duration::from_secs(1));
    assert_eq!(run_check(&mut a), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
}

#[test]
fn order_first_lets_workers_go_once_the_control_plane_is_done() {
    let w = ha_world(true);
    let mut n = w.api.get("nodes", "", NODE).unwrap();
    n["metadata"]["labels"] = json!({});
    w.api.update(n).unwrap();
    set_status(&w, "node-2", "ok");
    let cfg = w.config(&["--concurrency=3", "--control-plane-order=first"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    // its first period: every control-plane node checks (and says it wants a reboot) first
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 0);
    let held = w.api.get("nodes", "", NODE).unwrap();
    assert!(
        held["metadata"]["annotations"]["kured-rs.dev/status"]
            .as_str()
            .unwrap()
            .contains("every node checks once first"),
        "{held}"
    );
}

/// `--control-plane-order=first`: a control-plane node whose reboot is not
/// coming (opted out, here by its own kured's check) holds no worker back;
/// its status says what holds it (`"blocked":"opted-out"`), which the order reads.
#[test]
fn order_first_does_not_wait_for_an_opted_out_control_plane_node() {
    let w = ha_world(true);
    let mut n = w.api.get("nodes", "", NODE).unwrap();
    n["metadata"]["labels"] = json!({});
    w.api.update(n).unwrap();
    let mut n = w.api.get("nodes", "", "node-2").unwrap();
    n["metadata"]["labels"]["kured-rs.dev/opt-out"] = json!("true");
    w.api.update(n).unwrap();
    let cp_cfg = w.config(&["--concurrency=3", "--control-plane-order=first", "--node-id=node-2"]);
    let cp_host = FakeHost::new(true);
    let mut cp = agent(&cp_cfg, &w.client, &cp_host);
    assert_eq!(run_check(&mut cp), Ended::Returned);
    assert_eq!(
        (status(&w, "node-2")["state"].as_str(), status(&w, "node-2")["blocked"].as_str()),
        (Some("pending"), Some("opted-out"))
    );
    let cfg = w.config(&["--concurrency=3", "--control-plane-order=first"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    let _ = run_check(&mut a);
    let reason = status(&w, NODE)["reason"].as_str().unwrap_or_default().to_string();
    assert!(!reason.contains("node-2"), "a worker held back by an opted-out control-plane node: {reason}");
}

fn set_ready(w: &World, node: &str, ready: bool) {
    let mut n = w.api.get("nodes", "", node).expect("node");
    n["status"] = json!({"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]});
    w.api.update(n).expect("set Ready");
}

/// Readiness is looked at again right before the reboot command: a holder
/// (here: an entry it already holds, as after a long drain) whose peer went
/// NotReady since it took the lock puts the node back and lets the lock go.
#[test]
fn a_control_plane_holder_does_not_reboot_while_another_is_not_ready() {
    let w = ha_world(false);
    w.set_lock_annotation(
        r#"{"maxOwners":3,"locks":[{"nodeID":"node-1","metadata":{"unschedulable":false,"controlPlane":true},"created":"2030-01-01T00:00:00Z","TTL":0}]}"#,
    );
    let cfg = w.config(&["--concurrency=3"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!(host.reboots(), 0, "rebooted node-1 while control-plane node node-2 is NotReady: 2 of 2 down");
    assert_eq!((w.cordoned(), w.holders()), (false, vec![]), "put back: uncordoned, the lock let go");
    assert_eq!(status(&w, NODE)["reason"], "waiting: control-plane node node-2 is not Ready");
    // node-2 back: the lock is taken again, and the reboot goes on
    set_ready(&w, "node-2", true);
    host.advance(std::time::Duration::from_secs(10));
    assert_eq!(run_check(&mut a), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
}

/// A control-plane holder's Node is deleted while its machine reboots (a cloud
/// controller, `kubectl delete node`): its entry is not broken on workers'
/// timings (15-30 s), but only after `CONTROL_PLANE_GAP` (10 min), and until
/// then (and through its grace) no other control-plane node takes the lock.
#[test]
fn a_rebooting_control_plane_holder_whose_node_was_deleted_keeps_its_slot() {
    let w = ha_world(true);
    // "cp-9" is rebooting, its Node deleted; node-3 is an idle worker
    w.set_lock_annotation(
        r#"{"maxOwners":3,"locks":[{"nodeID":"cp-9","metadata":{"unschedulable":false,"controlPlane":true},"created":"2026-11-25T11:59:00Z","TTL":0}]}"#,
    );
    let cp_cfg = w.config(&["--concurrency=3"]);
    let worker_cfg = w.config(&["--concurrency=3", "--node-id=node-3"]);
    let (cp_host, worker_host) = (FakeHost::new(true), FakeHost::new(false));
    let mut cp = agent(&cp_cfg, &w.client, &cp_host);
    let mut worker = agent(&worker_cfg, &w.client, &worker_host);
    let mut step = |secs: u64| {
        worker_host.advance(std::time::Duration::from_secs(secs));
        cp_host.advance(std::time::Duration::from_secs(secs));
        let _ = run_check(&mut worker);
        let _ = run_check(&mut cp);
    };
    step(0);
    // a worker's entry would be broken after 15-30 s and free 15 s later
    for _ in 0..36 {
        step(16);
    }
    // 9 min 36 s in
    assert_eq!(cp_host.reboots(), 0, "node-1 rebooted while cp-9 (its Node deleted) may still be down");
    assert_eq!(w.holders(), ["cp-9"]);
    assert!(!w.lock_annotation().unwrap().contains("brokenBy"), "{:?}", w.lock_annotation());
    assert_eq!(status(&w, NODE)["reason"], "waiting: another control-plane node is rebooting (cp-9)");
    // past 10 minutes: broken, then free once its grace is over
    for _ in 0..4 {
        if cp_host.reboots() == 0 {
            step(16);
        }
    }
    assert_eq!(cp_host.reboots(), 1, "{:?}", w.lock_annotation());
    assert_eq!(w.holders(), [NODE]);
}

/// node-2 Ready since `secs` before the agent's clock.
fn ready_for(w: &World, node: &str, secs: i64) {
    let t = fake_host::NOW - time::Duration::seconds(secs);
    let t = t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let mut n = w.api.get("nodes", "", node).expect("node");
    n["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t}]});
    w.api.update(n).expect("set Ready");
}

/// Ready is not enough right after a peer's reboot: it must have been Ready
/// for `--control-plane-settle` (2m by default), at the take and right before
/// the reboot command.
#[test]
fn another_control_plane_node_must_have_been_ready_for_the_settle_time() {
    let w = ha_world(true);
    ready_for(&w, "node-2", 60);
    let cfg = w.config(&["--concurrency=3"]);
    let host = FakeHost::new(true);
    let mut a = agent(&cfg, &w.client, &host);
    a.metrics().status.set_node(NODE);
    assert_eq!(run_check(&mut a), Ended::Returned);
    assert_eq!((host.reboots(), w.cordoned(), w.lock_annotation()), (0, false, None));
    assert_eq!(
        status(&w, NODE)["reason"],
        "waiting: control-plane node node-2 has been Ready for less than --control-plane-settle"
    );
    assert!(blocked_metric(&a, NODE).ends_with(" 1"));
    // two minutes after its transition it has settled
    host.advance(std::time::Duration::from_secs(60));
    assert_eq!(run_check(&mut a), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);

    // a holder whose peer came back (a crash) during its drain puts the node back
    let w = ha_world(true);
    ready_for(&w, "node-2", 5);
    w.set_lock_annotation(
        r#"{"maxOwners":3,"locks":[{"nodeID":"node-1","metadata":{"unschedulable":false,"controlPlane":true},"created":"2026-11-25T11:50:00Z","TTL":0}]}"#,
    );
    let cfg = w.config(&["--concurrency=3"]);
    let host = FakeHost::new(true);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::Returned);
    assert_eq!((host.reboots(), w.cordoned(), w.holders()), (0, false, vec![]));
    // and with --control-plane-settle=0s Ready is enough
    let cfg = w.config(&["--concurrency=3", "--control-plane-settle=0s"]);
    assert_eq!(run_check(&mut agent(&cfg, &w.client, &host)), Ended::WaitingForReboot);
    assert_eq!(host.reboots(), 1);
}
