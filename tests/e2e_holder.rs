//! Never two at once (issue 24), end to end: the real `kured` binary on the
//! `sim` harness, `--concurrency=1`, `--period=2s`. node-1 holds the lock and
//! drains, held up by a budget; node-2 waits for the lock; then node-1's Node
//! object is deleted (with kubectl) and registered again 8 s later, or deleted
//! for good, or two stray 404s answer GETs of it. In each, never more than one
//! machine runs its reboot command at a time or is cordoned by kured, and every
//! node whose Node exists is rebooted once in the end. Also: SIGTERM during the
//! release gate keeps the lock, and the next start passes the gate first.

use std::time::Duration;

use fakeapi::Fault;
use serde_json::json;
use sim::objects::{deployment, pdb};
use sim::{Cluster, ClusterSpec, ControlPlaneKind, Event, Limit};

const LIMIT: Limit = Limit::Cycles(8);
const LONG_LIMIT: Limit = Limit::Cycles(30);

fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

fn log_of(c: &Cluster, node: &str) -> String {
    std::fs::read_to_string(c.node(node).unwrap().log_path()).unwrap_or_default()
}

/// node-1 holds the lock and drains, its one replica of `held` (pinned to it)
/// kept by a `minAvailable: 1` budget; node-2 needs a reboot and waits.
fn node_1_holds_mid_drain(cp: ControlPlaneKind) -> Cluster {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 2, &["--drain-timeout=5m"]);
    s.control_plane = cp;
    s.period = "2s".into();
    s.no_reboot = vec!["node-1".into(), "node-2".into()];
    let mut held = deployment("default", "held", 1);
    held["spec"]["template"]["spec"]["nodeSelector"] = json!({"kubernetes.io/hostname": "node-1"});
    s.extra_objects = vec![held, pdb("default", "held", json!({"minAvailable": 1}))];
    let mut c = start(s);
    let running = |c: &Cluster| {
        c.api().get("poddisruptionbudgets", "default", "held").is_some_and(|p| p["status"]["currentHealthy"] == 1)
    };
    assert!(c.poll_until(LIMIT, |_| {}, running), "the replica never ran\n{}", c.report());
    std::fs::write(c.node("node-1").unwrap().sentinel(), b"").unwrap();
    c.wait_for(LIMIT, |e| matches!(e, Event::EvictionBlocked { .. })).unwrap_or_else(|e| panic!("{e}\n{}", c.report()));
    assert_eq!(c.lock_holders(), ["node-1"]);
    std::fs::write(c.node("node-2").unwrap().sentinel(), b"").unwrap();
    let waiting = |c: &Cluster| log_of(c, "node-2").contains("waiting for the reboot lock, held by node-1");
    assert!(c.poll_until(LIMIT, |_| {}, waiting), "node-2 never waited\n{}", c.report());
    c
}

fn free_the_budget(c: &Cluster) {
    c.api().delete("poddisruptionbudgets", "default", "held");
}

#[track_caller]
fn assert_one_at_a_time(c: &Cluster) {
    let s = c.summary();
    assert!(s.max_lock_holders <= 1 && s.max_cordoned <= 1, "{s}\n{}", c.report());
    assert_eq!(s.pdb_violations, 0, "{s}");
    assert!(c.most_down_at_once(&|_| false) <= 1, "two machines rebooting at once\n{}", c.report());
    assert!(s.left_cordoned.is_empty(), "{s}");
}

fn deleted_and_registered_again_mid_drain(cp: ControlPlaneKind) {
    let mut c = node_1_holds_mid_drain(cp);
    let uid = c.node_uid("node-1");
    c.delete_node_object("node-1").unwrap();
    let gone = |c: &Cluster| c.get_node("node-1").is_none();
    assert!(c.poll_until(LIMIT, |_| {}, gone), "node-1 not deleted\n{}", c.report());
    // 8 s later the kubelet registers it again: a new object
    c.poll_until(Duration::from_secs(8), |_| {}, |_| false);
    c.register_node_again("node-1").unwrap();
    assert_ne!(c.node_uid("node-1"), uid, "a new Node object");
    free_the_budget(&c);
    let done = |c: &Cluster| c.reboots("node-1") == 1 && c.reboots("node-2") == 1 && c.lock_holders().is_empty();
    assert!(c.poll_until(LONG_LIMIT, |_| {}, done), "not every node rebooted once\n{}", c.report());
    assert_one_at_a_time(&c);
    let l1 = log_of(&c, "node-1");
    assert!(
        l1.contains("does not exist any more") || l1.contains("was deleted and registered again"),
        "node-1 said why it stopped\n{l1}"
    );
}

mod deleted_and_registered_again_mid_drain {
    #[test]
    fn fake() {
        super::deleted_and_registered_again_mid_drain(sim::ControlPlaneKind::Fake)
    }
    #[test]
    fn real() {
        super::deleted_and_registered_again_mid_drain(sim::ControlPlaneKind::Real)
    }
}

#[test]
fn deleted_for_good_mid_drain() {
    let mut c = node_1_holds_mid_drain(ControlPlaneKind::Fake);
    c.delete_node_object("node-1").unwrap();
    free_the_budget(&c);
    let done = |c: &Cluster| c.reboots("node-2") == 1 && c.lock_holders().is_empty();
    assert!(c.poll_until(LONG_LIMIT, |_| {}, done), "node-2 never rebooted\n{}", c.report());
    assert_eq!(c.reboots("node-1"), 0, "node-1 rebooted without its lock\n{}", c.report());
    assert!(!c.node("node-1").unwrap().take_marker(), "node-1 ran its reboot command");
    assert_one_at_a_time(&c);
}

#[test]
fn two_stray_404s_for_the_holders_node() {
    let mut c = node_1_holds_mid_drain(ControlPlaneKind::Fake);
    c.api().fake().expect("fake server").inject(Fault::status("GET", "/api/v1/nodes/node-1", 404, 2));
    let answered = |c: &Cluster| {
        c.api().requests().iter().filter(|r| r.path == "/api/v1/nodes/node-1" && r.status == 404).count() >= 2
    };
    assert!(c.poll_until(LIMIT, |_| {}, answered), "the 404s were never sent\n{}", c.report());
    free_the_budget(&c);
    let done = |c: &Cluster| c.reboots("node-1") == 1 && c.reboots("node-2") == 1 && c.lock_holders().is_empty();
    assert!(c.poll_until(LONG_LIMIT, |_| {}, done), "not every node rebooted once\n{}", c.report());
    assert_one_at_a_time(&c);
}

/// SIGTERM while node-1 waits in the release gate (its budget short): the lock
/// is kept, so node-2 does not start; the next kured passes the gate, then
/// releases, announcing the reboot once.
#[test]
fn sigterm_in_the_release_gate_keeps_the_lock_for_the_next_start() {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 2, &["--release-gate-timeout=5m"]);
    // long enough to taint node-1 before it is back
    s.downtime = Duration::from_secs(3);
    s.no_reboot = vec!["node-1".into(), "node-2".into()];
    let mut gated = deployment("default", "gated", 1);
    gated["spec"]["template"]["spec"]["nodeSelector"] = json!({"kubernetes.io/hostname": "node-1"});
    s.extra_objects = vec![gated, pdb("default", "gated", json!({"maxUnavailable": 1}))];
    let mut c = start(s);
    let allows_one = |c: &Cluster| {
        c.api().get("poddisruptionbudgets", "default", "gated").is_some_and(|p| p["status"]["disruptionsAllowed"] == 1)
    };
    assert!(c.poll_until(LIMIT, |_| {}, allows_one), "the budget never allowed a disruption\n{}", c.report());
    std::fs::write(c.node("node-1").unwrap().sentinel(), b"").unwrap();
    // the replica, pinned to node-1, cannot come back while it is down; then node-2 asks
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
    std::fs::write(c.node("node-2").unwrap().sentinel(), b"").unwrap();
    let edit = |c: &Cluster, taints: serde_json::Value| {
        c.api().edit("nodes", "", "node-1", |n| n["spec"]["taints"] = taints.clone()).unwrap();
    };
    edit(&c, json!([{"key": "test/hold", "value": "1", "effect": "NoSchedule"}]));
    let in_gate = |c: &Cluster| log_of(c, "node-1").contains("release gate: waiting");
    assert!(c.poll_until(LIMIT, |_| {}, in_gate), "node-1 never waited in the gate\n{}", c.report());
    c.signal_kured("node-1", libc::SIGTERM).unwrap();
    let exited = |c: &Cluster| !c.node("node-1").unwrap().kured_running();
    assert!(c.poll_until(LIMIT, |_| {}, exited), "kured did not stop\n{}", c.report());
    assert_eq!(c.lock_holders(), ["node-1"], "the lock is kept for the next start\n{}", c.report());
    assert!(log_of(&c, "node-1").contains("stopping during the release gate: keeping the lock"));
    // the next pod: the budget recovers, the gate opens, the lock goes to node-2
    c.relaunch_kured("node-1").unwrap();
    edit(&c, json!([]));
    let done = |c: &Cluster| c.reboots("node-2") == 1 && c.lock_holders().is_empty();
    assert!(c.poll_until(LONG_LIMIT, |_| {}, done), "node-2 never rebooted\n{}", c.report());
    let uncordoned = c
        .api()
        .list("events")
        .iter()
        .filter(|e| e["reason"] == "Uncordoned" && e["involvedObject"]["name"] == "node-1")
        .count();
    assert_eq!(uncordoned, 1, "the reboot announced once");
    assert_one_at_a_time(&c);
}

/// The lock's DaemonSet deleted and created again (a re-install) while a node
/// waits on its watch: the node watches again at once and takes the lock when
/// the DaemonSet is back, instead of sleeping out its `--period` (30 s here).
#[test]
fn a_daemonset_created_again_is_watched_again_at_once() {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 1, &[]);
    s.period = "30s".into();
    s.lock = Some(r#"{"nodeID":"manual"}"#.into());
    let mut c = start(s);
    let waiting = |c: &Cluster| log_of(c, "node-1").contains("waiting for the reboot lock, held by manual");
    assert!(c.poll_until(sim::cycles(1), |_| {}, waiting), "node-1 never waited\n{}", c.report());
    let ds = c.api().delete("daemonsets", "kube-system", "kured").expect("the kured DaemonSet");
    let mut again = ds.clone();
    for k in ["resourceVersion", "uid", "creationTimestamp"] {
        again["metadata"].as_object_mut().unwrap().remove(k);
    }
    again["metadata"]["annotations"].as_object_mut().unwrap().remove(sim::lockview::DEFAULT_LOCK_ANNOTATION);
    // a moment without it: the node's wake-up finds no DaemonSet
    c.poll_until(Duration::from_secs(2), |_| {}, |_| false);
    c.api().try_create(again).expect("the DaemonSet created again");
    let created = c.elapsed();
    let taken =
        c.wait_for(LIMIT, |e| matches!(e, Event::LockTaken { .. })).unwrap_or_else(|e| panic!("{e}\n{}", c.report()));
    let after = taken.at - created;
    assert!(
        after < Duration::from_secs(10),
        "took the lock {after:?} after the DaemonSet was back, not at once\n{}",
        c.report()
    );
}

/// A sentinel cleared by each reboot but set again 3 s after kured starts (a
/// boot-time job asking again): the first check after each boot finds it
/// clear, so the in-a-row count never grows. The count in time stops the node
/// after `--reboot-loop-limit` reboots, with the `RebootLoop` Warning Event.
#[test]
fn a_sentinel_back_3s_after_each_start_stops_after_the_loop_limit() {
    let mut c = start(ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 1, &["--reboot-loop-limit=3"]));
    let due: std::cell::Cell<Option<std::time::Instant>> = std::cell::Cell::new(None);
    let warned =
        |c: &Cluster| c.api().list("events").iter().any(|e| e["reason"] == "RebootLoop" && e["type"] == "Warning");
    let stopped = c.poll_until(
        LONG_LIMIT,
        |e| {
            if matches!(e.event, Event::NodeBack { .. }) {
                due.set(Some(std::time::Instant::now() + Duration::from_secs(3)));
            }
        },
        |c| {
            if due.get().is_some_and(|t| std::time::Instant::now() >= t) {
                due.set(None);
                std::fs::write(c.node("node-1").unwrap().sentinel(), b"").unwrap();
            }
            c.reboots("node-1") >= 3 && warned(c)
        },
    );
    assert!(stopped, "no RebootLoop after {} reboots\n{}", c.reboots("node-1"), c.report());
    // and it stays stopped, the sentinel set
    std::fs::write(c.node("node-1").unwrap().sentinel(), b"").unwrap();
    c.poll_until(sim::cycles(3), |_| {}, |_| false);
    assert_eq!(c.reboots("node-1"), 3, "{}", c.report());
    assert!(log_of(&c, "node-1").contains("reboots within --reboot-loop-window"), "{}", log_of(&c, "node-1"));
}
