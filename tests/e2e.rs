//! End to end: the real `kured` binary, one process per simulated node, through
//! the `sim` harness, against both servers: every scenario runs as `NAME::fake`
//! (the fake API server, a few seconds each) and `NAME::real` (a real control
//! plane built from the official Kubernetes modules, see tests/control-plane;
//! kured uses the kured service account with manifests/base's RBAC). Each
//! scenario is bounded by a deadline and synchronises by polling state, events
//! or the request log (the real server's audit log). Each test starts its own
//! server; real ones run one at a time (the harness serialises them).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sim::http::{alerts_answer, get, TinyServer};
use sim::lockview::{holders, upstream_single};
use sim::objects::{bare_pod, deployment, pdb};
use sim::{Cluster, ClusterSpec, ControlPlaneKind, Event, Limit};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One node's reboot: checks, lock, drain, reboot, back (sim::budget turns
/// cycles into seconds on this machine, and gives the real server more).
const LIMIT: Limit = Limit::Cycles(5);
/// Several nodes one after the other.
const LONG_LIMIT: Limit = Limit::Cycles(12);
/// A rollout the order serialises: control-plane nodes one at a time, then
/// (or after) the workers, after a first period in which every node checks.
const ORDERED_LIMIT: Limit = Limit::Cycles(20);

/// Each scenario on both servers: `NAME::fake` and `NAME::real`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn fake() {
                super::$name(sim::ControlPlaneKind::Fake)
            }
            #[test]
            fn real() {
                super::$name(sim::ControlPlaneKind::Real)
            }
        }
    )*};
}

both!(
    one_node_full_cycle,
    three_nodes_one_at_a_time,
    three_nodes_two_at_a_time,
    operator_cordon_survives_the_reboot,
    blocking_pod_holds_the_reboot_until_deleted,
    firing_alert_holds_the_reboot_until_resolved,
    filtered_alert_does_not_hold_the_reboot,
    deployment_with_a_budget_drains_without_violation,
    drain_timeout_releases_the_lock_and_uncordons,
    drain_timeout_with_force_reboots_anyway,
    lock_held_by_another_node_makes_this_one_wait,
    expired_lock_is_taken_over,
    notifications_reach_the_receiver,
    metrics_report_reboot_required,
    ha_control_plane_keeps_its_quorum,
);

fn spec(cp: ControlPlaneKind, nodes: usize, args: &[&str]) -> ClusterSpec {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), nodes, args);
    s.control_plane = cp;
    s
}

fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

fn has(c: &Cluster, want: &Event) -> bool {
    c.timeline().iter().any(|e| &e.event == want)
}

fn first_at(c: &Cluster, want: impl Fn(&Event) -> bool) -> Option<Duration> {
    c.timeline().iter().find(|e| want(&e.event)).map(|e| e.at)
}

fn node_field<'a>(node: &'a Value, path: &str) -> Option<&'a str> {
    node.pointer(path).and_then(Value::as_str)
}

fn cordoned(node: &Value) -> bool {
    node.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false)
}

/// Poll until the request log has `n` requests matching `pred`.
#[track_caller]
fn wait_requests(c: &mut Cluster, n: usize, pred: impl Fn(&fakeapi::RequestRecord) -> bool) {
    let ok = c.poll_until(LIMIT, |_| {}, |c| c.api().requests().iter().filter(|r| pred(r)).count() >= n);
    assert!(ok, "fewer than {n} matching requests\n{}", c.report());
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("format a time")
}

fn one_node_full_cycle(cp: ControlPlaneKind) {
    let mut s = spec(
        cp,
        1,
        &["--annotate-nodes", "--pre-reboot-node-labels=kured=rebooting", "--post-reboot-node-labels=kured=done"],
    );
    s.extra_objects = vec![bare_pod("default", "lonely", "node-1", "lonely", true)];
    let mut c = start(s);
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();

    // while the machine is down
    let node = c.get_node("node-1").unwrap();
    assert!(cordoned(&node), "cordoned before the reboot\n{}", c.report());
    assert_eq!(node_field(&node, "/metadata/labels/kured"), Some("rebooting"));
    assert!(node_field(&node, "/metadata/annotations/weave.works~1kured-reboot-in-progress").is_some(), "{node}");
    let needed = node_field(&node, "/metadata/annotations/weave.works~1kured-most-recent-reboot-needed")
        .expect("reboot-needed annotation");
    OffsetDateTime::parse(needed, &Rfc3339).unwrap_or_else(|e| panic!("not RFC 3339: {needed}: {e}"));
    assert_eq!(c.lock_holders(), ["node-1"]);
    assert!(
        has(&c, &Event::Evicted { pod: "default/lonely".into() }),
        "the bare emptyDir pod is evicted\n{}",
        c.report()
    );
    let labelled = first_at(&c, |e| matches!(e, Event::NodeLabel { value: Some(v), .. } if v == "rebooting")).unwrap();
    let cordon = first_at(&c, |e| matches!(e, Event::Cordoned { .. })).unwrap();
    assert!(labelled <= cordon, "pre-reboot labels come before the cordon\n{}", c.report());

    let s = c.run_until_all_rebooted(LIMIT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    // The reboot-in-progress annotation comes off once the sentinel is read,
    // which is right after the lock's release: poll for it, with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let node = loop {
        let node = c.get_node("node-1").unwrap();
        let marked = node_field(&node, "/metadata/annotations/weave.works~1kured-reboot-in-progress").is_some();
        if !marked || std::time::Instant::now() > deadline {
            break node;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!cordoned(&node), "uncordoned after the reboot");
    assert_eq!(node_field(&node, "/metadata/labels/kured"), Some("done"));
    assert!(node_field(&node, "/metadata/annotations/weave.works~1kured-reboot-in-progress").is_none(), "{node}");
    assert!(node_field(&node, "/metadata/annotations/weave.works~1kured-most-recent-reboot-needed").is_some());
    assert!(c.lock_holders().is_empty());
    assert_eq!(c.reboots("node-1"), 1);
    let uncordon = first_at(&c, |e| matches!(e, Event::Uncordoned { .. })).unwrap();
    let done = first_at(&c, |e| matches!(e, Event::NodeLabel { value: Some(v), .. } if v == "done")).unwrap();
    assert!(uncordon <= done, "post-reboot labels come after the uncordon\n{}", c.report());
}

fn three_nodes_one_at_a_time(cp: ControlPlaneKind) {
    let mut c = start(spec(cp, 3, &[]));
    let s = c.run_until_all_rebooted(LONG_LIMIT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    assert_eq!((s.nodes_rebooted, s.max_lock_holders, s.max_cordoned), (3, 1, 1), "{s}");
}

fn three_nodes_two_at_a_time(cp: ControlPlaneKind) {
    let mut s = spec(cp, 3, &[]);
    s.concurrency = 2;
    let mut c = start(s);
    let s = c.run_until_all_rebooted(LONG_LIMIT);
    assert!(s.violations(2).is_empty(), "{:?}\n{}", s.violations(2), c.report());
    assert_eq!(s.nodes_rebooted, 3);
    assert!(s.max_lock_holders <= 2 && s.max_cordoned <= 2, "{s}");
}

fn operator_cordon_survives_the_reboot(cp: ControlPlaneKind) {
    let mut s = spec(cp, 1, &[]);
    s.precordoned = vec!["node-1".into()];
    let mut c = start(s);
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
    let ds = c.api().get("daemonsets", "kube-system", "kured").unwrap();
    let lock = ds["metadata"]["annotations"]["weave.works/kured-node-lock"].as_str().unwrap_or_default().to_string();
    let h = holders(&lock).unwrap();
    assert!(h.len() == 1 && h[0].was_cordoned, "the lock records the operator's cordon: {lock}");
    let s = c.run_until_all_rebooted(LIMIT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    assert!(cordoned(&c.get_node("node-1").unwrap()), "still cordoned\n{}", c.report());
}

fn blocking_pod_holds_the_reboot_until_deleted(cp: ControlPlaneKind) {
    let mut s = spec(cp, 1, &["--blocking-pod-selector=app=blocker"]);
    s.extra_objects = vec![bare_pod("default", "blocker", "node-1", "blocker", false)];
    let mut c = start(s);
    // two checks that saw the blocker
    wait_requests(&mut c, 2, |r| r.method == "GET" && r.path.ends_with("/pods") && r.query.contains("blocker"));
    c.poll();
    assert!(c.lock_holders().is_empty() && c.reboots("node-1") == 0, "blocked\n{}", c.report());
    assert!(!has(&c, &Event::Cordoned { node: "node-1".into() }));
    c.api().delete("pods", "default", "blocker").expect("blocker existed");
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
}

fn prometheus(firing: Arc<AtomicBool>, alert: &'static str) -> TinyServer {
    TinyServer::start(move |_| {
        let names: &[&str] = if firing.load(Ordering::Relaxed) { &[alert] } else { &[] };
        (200, "application/json".into(), alerts_answer(names))
    })
    .expect("fake prometheus")
}

fn firing_alert_holds_the_reboot_until_resolved(cp: ControlPlaneKind) {
    let firing = Arc::new(AtomicBool::new(true));
    let prom = prometheus(firing.clone(), "NodeOnFire");
    let url = format!("--prometheus-url={}", prom.url());
    let mut c = start(spec(cp, 1, &[&url]));
    let ok = c.poll_until(
        LIMIT,
        |_| {},
        |_| prom.received().iter().filter(|r| r.target.starts_with("/api/v1/query")).count() >= 2,
    );
    assert!(ok, "kured asked prometheus twice\n{}", c.report());
    c.poll();
    assert!(c.lock_holders().is_empty() && c.reboots("node-1") == 0, "blocked by the alert\n{}", c.report());
    firing.store(false, Ordering::Relaxed);
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
}

fn filtered_alert_does_not_hold_the_reboot(cp: ControlPlaneKind) {
    let prom = prometheus(Arc::new(AtomicBool::new(true)), "Watchdog");
    let url = format!("--prometheus-url={}", prom.url());
    let mut c = start(spec(cp, 1, &[&url, "--alert-filter-regexp=^Watchdog$"]));
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
    assert!(!prom.received().is_empty(), "prometheus was asked");
}

fn deployment_with_a_budget_drains_without_violation(cp: ControlPlaneKind) {
    let mut s = spec(cp, 2, &[]);
    s.extra_objects = vec![deployment("default", "web", 2), pdb("default", "web", json!({"minAvailable": 1}))];
    let mut c = start(s);
    let s = c.run_until_all_rebooted(LONG_LIMIT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    assert_eq!(s.pdb_violations, 0);
    assert!(
        c.timeline().iter().any(|e| matches!(&e.event, Event::Evicted { pod } if pod.starts_with("default/web-"))),
        "{}",
        c.report()
    );
}

/// One replica behind a budget that never allows a disruption.
fn stuck(cp: ControlPlaneKind, args: &[&str]) -> Cluster {
    let mut s = spec(cp, 1, args);
    s.extra_objects = vec![deployment("default", "stuck", 1), pdb("default", "stuck", json!({"minAvailable": 1}))];
    start(s)
}

fn drain_timeout_releases_the_lock_and_uncordons(cp: ControlPlaneKind) {
    let mut c = stuck(cp, &["--drain-timeout=3s"]);
    c.wait_for(LIMIT, |e| matches!(e, Event::EvictionBlocked { .. })).unwrap();
    c.wait_for(LIMIT, |e| matches!(e, Event::LockReleased { .. })).unwrap();
    // The next attempt may cordon again within milliseconds (a period has
    // passed during the drain), so look for the uncordon in the request log.
    let uncordoned = c
        .api()
        .requests()
        .iter()
        .any(|r| r.path == "/api/v1/nodes/node-1" && r.status < 300 && uncordons(&r.method, &r.body));
    assert!(uncordoned, "uncordoned after the failed drain\n{}", c.report());
    assert_eq!(c.reboots("node-1"), 0, "no reboot without --force-reboot\n{}", c.report());
}

/// A node write that sets `spec.unschedulable` to false or null (merge or
/// strategic patch, JSON patch, or a whole PUT).
fn uncordons(method: &str, body: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(body) else { return false };
    match (method, &v) {
        ("PATCH", Value::Array(ops)) => ops
            .iter()
            .any(|op| op["path"] == "/spec/unschedulable" && (op["op"] == "remove" || op["value"] == json!(false))),
        ("PATCH" | "PUT", _) => {
            matches!(v.pointer("/spec/unschedulable"), Some(Value::Null | Value::Bool(false)))
                || (method == "PUT" && v.pointer("/spec/unschedulable").is_none())
        }
        _ => false,
    }
}

fn drain_timeout_with_force_reboots_anyway(cp: ControlPlaneKind) {
    let mut c = stuck(cp, &["--drain-timeout=3s", "--force-reboot"]);
    c.wait_for(LIMIT, |e| matches!(e, Event::EvictionBlocked { .. })).unwrap();
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
}

fn lock_held_by_another_node_makes_this_one_wait(cp: ControlPlaneKind) {
    let mut s = spec(cp, 1, &[]);
    s.lock = Some(upstream_single("node-9", &rfc3339(OffsetDateTime::now_utc()), 0));
    // node-9 exists: a lock of a deleted node would be broken (tests/e2e_strand.rs)
    s.extra_objects = vec![sim::objects::node("node-9", false)];
    let mut c = start(s);
    wait_requests(&mut c, 3, |r| {
        r.method == "GET" && r.path == "/apis/apps/v1/namespaces/kube-system/daemonsets/kured"
    });
    c.poll();
    assert_eq!(c.lock_holders(), ["node-9"], "{}", c.report());
    assert!(!has(&c, &Event::Cordoned { node: "node-1".into() }) && c.reboots("node-1") == 0);
}

fn expired_lock_is_taken_over(cp: ControlPlaneKind) {
    let mut s = spec(cp, 1, &["--lock-ttl=30m"]);
    let an_hour_ago = OffsetDateTime::now_utc() - time::Duration::hours(1);
    s.lock = Some(upstream_single("node-9", &rfc3339(an_hour_ago), 30 * 60 * 1_000_000_000));
    let mut c = start(s);
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
    assert_eq!(c.lock_holders(), ["node-1"], "{}", c.report());
}

fn notifications_reach_the_receiver(cp: ControlPlaneKind) {
    let hook = TinyServer::start(|_| (200, "text/plain".into(), String::new())).expect("receiver");
    let url = format!("--notify-url=generic+http://127.0.0.1:{}/hook", hook.port());
    let mut c = start(spec(cp, 1, &[&url, "--message-template-drain=Draining %s now"]));
    let s = c.run_until_all_rebooted(LIMIT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    let ok = c.poll_until(LIMIT, |_| {}, |_| hook.received().len() >= 3);
    let bodies: Vec<String> = hook.received().into_iter().map(|r| r.body).collect();
    assert!(ok, "three notifications, got {bodies:?}");
    for want in ["Draining node-1 now", "Rebooting node node-1", "Node node-1 rebooted & uncordoned successfully!"] {
        assert!(bodies.iter().any(|b| b.contains(want)), "{want:?} not in {bodies:?}");
    }
    assert!(hook.received().iter().all(|r| r.method == "POST" && r.target == "/hook"));
}

fn metrics_report_reboot_required(cp: ControlPlaneKind) {
    // a blocker keeps node-1 from rebooting (and its sentinel in place) while we look
    let mut s = spec(cp, 2, &["--blocking-pod-selector=app=blocker"]);
    s.no_reboot = vec!["node-2".into()];
    s.extra_objects = vec![bare_pod("default", "blocker", "node-1", "blocker", false)];
    let mut c = start(s);
    for (node, want) in
        [("node-1", "kured_reboot_required{node=\"node-1\"} 1"), ("node-2", "kured_reboot_required{node=\"node-2\"} 0")]
    {
        let port = c.metrics_port(node).unwrap();
        let mut last = String::new();
        let ok = c.poll_until(
            LIMIT,
            |_| {},
            |_| {
                last = get(port, "/metrics").map(|(_, body)| body).unwrap_or_default();
                last.lines().any(|l| l == want)
            },
        );
        assert!(ok, "{want:?} not in /metrics of {node}:\n{last}\n{}", c.report());
    }
}

/// An HA cluster with stacked etcd: 3 control-plane nodes and 4 workers,
/// `--concurrency 3`, every node needing a reboot at once.
fn ha_cluster(cp: ControlPlaneKind, args: &[&str]) -> ClusterSpec {
    let mut s = spec(cp, 7, args);
    s.concurrency = 3;
    s.control_plane_nodes = vec!["node-1".into(), "node-2".into(), "node-3".into()];
    s
}

fn kured_log(c: &Cluster, node: &str) -> String {
    std::fs::read_to_string(c.node(node).expect("a node").log_path()).unwrap_or_default()
}

fn ha_control_plane_keeps_its_quorum(cp: ControlPlaneKind) {
    let mut s = ha_cluster(cp, &[]);
    // reboots of 2 s: control-plane nodes' turns overlap with others' reboots
    s.downtime = Duration::from_secs(2);
    let mut c = start(s);
    let s = c.run_until_all_rebooted(LONG_LIMIT);
    // (violations: never two control-plane nodes holding the lock or cordoned
    // at once, none taken while another was NotReady)
    assert!(s.violations(3).is_empty(), "{:?}\n{}", s.violations(3), c.report());
    assert_eq!((s.nodes_rebooted, s.max_concurrent_control_plane, s.pdb_violations), (7, Some(1), 0), "{s}");
    assert!(s.to_string().ends_with(" max_concurrent_control_plane=1"), "{s}");
    // workers kept the whole --concurrency
    assert!(s.max_lock_holders >= 2, "{s}");
}

/// Only the control-plane nodes need a reboot, so the lock always has free
/// slots: each of them checks while another is down, and only the guard holds
/// it back (its status says so; a free slot that is not its turn would not).
#[test]
fn control_plane_nodes_wait_for_each_other_with_slots_free() {
    let mut s = ha_cluster(ControlPlaneKind::Fake, &[]);
    s.no_reboot = vec!["node-4".into(), "node-5".into(), "node-6".into(), "node-7".into()];
    s.downtime = Duration::from_secs(3);
    let mut c = start(s);
    // (`settled` waits for every node's reboot: here only the control plane's)
    let done = c.poll_until(LONG_LIMIT, |_| {}, |c| (1..=3).all(|i| c.reboots(&format!("node-{i}")) == 1) && c.quiet());
    let s = c.summary();
    assert!(done && s.violations(3).is_empty(), "{:?}\n{}", s.violations(3), c.report());
    assert_eq!((s.nodes_rebooted, s.max_concurrent_control_plane, s.max_lock_holders), (3, Some(1), 1), "{s}");
    let held: Vec<&str> = ["node-1", "node-2", "node-3"]
        .into_iter()
        .filter(|n| kured_log(&c, n).contains("waiting: another control-plane node is rebooting"))
        .collect();
    assert!(held.len() >= 2, "the guard held back only {held:?}\n{}", c.report());
}

/// The order's first period (every node checks once) and the rollout itself:
/// with `last`, no control-plane node takes the lock before every worker has rebooted.
#[test]
fn control_plane_order_last_reboots_the_workers_first() {
    let mut c = start(ha_cluster(ControlPlaneKind::Fake, &["--control-plane-order=last"]));
    let s = c.run_until_all_rebooted(ORDERED_LIMIT);
    assert!(s.violations(3).is_empty(), "{:?}\n{}", s.violations(3), c.report());
    assert_eq!((s.nodes_rebooted, s.max_concurrent_control_plane), (7, Some(1)), "{s}");
    let cp = |n: &str| ["node-1", "node-2", "node-3"].contains(&n);
    let first_cp_take = first_at(&c, |e| matches!(e, Event::LockTaken { node } if cp(node)))
        .expect("a control-plane node took the lock");
    let last_worker_back = c
        .timeline()
        .iter()
        .filter(|e| matches!(&e.event, Event::NodeBack { node } if !cp(node)))
        .map(|e| e.at)
        .max()
        .expect("workers came back");
    assert!(first_cp_take >= last_worker_back, "a control-plane node took the lock at {first_cp_take:?}, before the last worker was back at {last_worker_back:?}\n{}", c.report());
}

/// With `first`, no worker takes the lock before every control-plane node has rebooted.
#[test]
fn control_plane_order_first_reboots_the_control_plane_first() {
    let mut c = start(ha_cluster(ControlPlaneKind::Fake, &["--control-plane-order=first"]));
    let s = c.run_until_all_rebooted(ORDERED_LIMIT);
    assert!(s.violations(3).is_empty(), "{:?}\n{}", s.violations(3), c.report());
    assert_eq!((s.nodes_rebooted, s.max_concurrent_control_plane), (7, Some(1)), "{s}");
    let cp = |n: &str| ["node-1", "node-2", "node-3"].contains(&n);
    let first_worker_take =
        first_at(&c, |e| matches!(e, Event::LockTaken { node } if !cp(node))).expect("a worker took the lock");
    let last_cp_back = c
        .timeline()
        .iter()
        .filter(|e| matches!(&e.event, Event::NodeBack { node } if cp(node)))
        .map(|e| e.at)
        .max()
        .expect("control-plane nodes came back");
    assert!(first_worker_take >= last_cp_back, "a worker took the lock at {first_worker_take:?}, before the last control-plane node was back at {last_cp_back:?}\n{}", c.report());
}
