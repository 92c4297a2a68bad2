//! End to end, "never strand a node or the fleet": real `kured` processes on a
//! simulated cluster (the `sim` harness, fake API server) in the failure cases
//! upstream kured leaves stuck: SIGTERM mid-drain, a reboot command that does
//! nothing, a lock held by a deleted node, a hand-written pause lock, a sentinel
//! that survives every reboot, a pod restart on the same boot. Each scenario is
//! bounded by deadlines and synchronises by polling state, events or requests.

use std::time::{Duration, Instant};

use fakeapi::Fault;
use serde_json::{json, Value};
use sim::http::{get, TinyServer};
use sim::lockview::upstream_single;
use sim::objects::{deployment, pdb};
use sim::{cycles, Cluster, ClusterSpec, Event, Limit};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A scenario's waits, in kured cycles (sim::budget turns them into seconds here).
const LIMIT: Limit = Limit::Cycles(8);
const LOCK: &str = "weave.works/kured-node-lock";

fn spec(nodes: usize, args: &[&str]) -> ClusterSpec {
    ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), nodes, args)
}

fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

/// One node whose drain can never finish: one replica behind a budget that
/// allows no disruption.
fn stuck(args: &[&str]) -> ClusterSpec {
    let mut s = spec(1, args);
    s.extra_objects = vec![deployment("default", "stuck", 1), pdb("default", "stuck", json!({"minAvailable": 1}))];
    s
}

/// One node whose reboot command does nothing, once that command has run.
fn dud_reboot_ran(arg: &str) -> Cluster {
    let mut s = spec(1, &[arg]);
    s.dud_reboot = vec!["node-1".into()];
    let mut c = start(s);
    wait(&mut c, "the reboot command ran", |c| c.node("node-1").unwrap().marker().exists());
    c
}

fn cordoned(c: &Cluster, node: &str) -> bool {
    c.get_node(node).and_then(|n| n.pointer("/spec/unschedulable").and_then(Value::as_bool)).unwrap_or(false)
}

fn lock_value(c: &Cluster) -> Option<String> {
    let ds = c.api().get("daemonsets", "kube-system", "kured")?;
    ds.pointer("/metadata/annotations").and_then(|a| a.get(LOCK)).and_then(Value::as_str).map(str::to_string)
}

/// Events (reason, type, message) about `kind`/`name`.
fn events(c: &Cluster, kind: &str, name: &str) -> Vec<(String, String, String)> {
    c.api()
        .list("events")
        .iter()
        .filter(|e| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name)
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("reason"), s("type"), s("message"))
        })
        .collect()
}

fn has_event(c: &Cluster, kind: &str, name: &str, reason: &str) -> bool {
    events(c, kind, name).iter().any(|e| e.0 == reason)
}

fn exited(c: &Cluster) -> Option<String> {
    c.timeline().iter().find_map(|t| match &t.event {
        Event::KuredExited { status, .. } => Some(status.clone()),
        _ => None,
    })
}

fn wait(c: &mut Cluster, what: &str, done: impl FnMut(&Cluster) -> bool) {
    let ok = c.poll_until(LIMIT, |_| {}, done);
    assert!(ok, "{what}: not in time\n{}", c.report());
}

fn count_requests(c: &Cluster, method: &str, path: &str) -> usize {
    c.api().requests().iter().filter(|r| r.method == method && r.path == path).count()
}

const DS_PATH: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";

#[test]
fn sigterm_mid_drain_uncordons_releases_and_exits() {
    let mut c = start(stuck(&[]));
    c.wait_for(LIMIT, |e| matches!(e, Event::EvictionBlocked { .. })).unwrap();
    assert!(cordoned(&c, "node-1") && lock_value(&c).is_some(), "draining\n{}", c.report());
    let sent = Instant::now();
    c.signal_kured("node-1", libc::SIGTERM).unwrap();
    c.wait_for(LIMIT, |e| matches!(e, Event::KuredExited { .. })).unwrap();
    let took = sent.elapsed();
    // promptly: not after the drain (which never ends)
    let prompt = c.allows(cycles(2));
    assert!(took < prompt, "exited {took:?} after SIGTERM, more than {prompt:?}\n{}", c.report());
    assert_eq!(exited(&c).as_deref(), Some("exit status: 0"), "{}", c.report());
    assert!(!cordoned(&c, "node-1"), "uncordoned\n{}", c.report());
    assert_eq!(lock_value(&c), None, "lock released\n{}", c.report());
    assert_eq!(c.reboots("node-1"), 0);
}

#[test]
fn a_second_signal_exits_at_once() {
    let mut c = start(stuck(&[]));
    c.wait_for(LIMIT, |e| matches!(e, Event::EvictionBlocked { .. })).unwrap();
    // The undo hangs: every node write stalls.
    c.api().inject(Fault::latency("PATCH", "/api/v1/nodes/node-1", Duration::from_secs(20)));
    let n = c.api().requests().len();
    c.signal_kured("node-1", libc::SIGTERM).unwrap();
    // (a PATCH is recorded when answered: the GET of the node before it shows the undo began)
    wait(&mut c, "the undo started", |c| c.api().requests().len() > n || exited(c).is_some());
    let sent = Instant::now();
    c.signal_kured("node-1", libc::SIGTERM).unwrap();
    c.wait_for(LIMIT, |e| matches!(e, Event::KuredExited { .. })).unwrap();
    let prompt = c.allows(cycles(2));
    assert!(sent.elapsed() < prompt, "second SIGTERM: exited after {:?}, more than {prompt:?}", sent.elapsed());
    assert_eq!(exited(&c).as_deref(), Some("exit status: 143"), "128 + SIGTERM\n{}", c.report());
}

#[test]
fn sigterm_after_the_reboot_command_undoes_nothing() {
    let mut c = dud_reboot_ran("--reboot-timeout=0");
    c.signal_kured("node-1", libc::SIGTERM).unwrap();
    c.wait_for(LIMIT, |e| matches!(e, Event::KuredExited { .. })).unwrap();
    assert_eq!(exited(&c).as_deref(), Some("exit status: 0"), "{}", c.report());
    assert!(cordoned(&c, "node-1"), "the shutdown is arriving: still cordoned\n{}", c.report());
    assert!(lock_value(&c).is_some(), "still locked, for the recovery after the reboot\n{}", c.report());
}

#[test]
fn a_reboot_command_that_does_nothing_times_out_and_puts_the_node_back() {
    let mut c = dud_reboot_ran("--reboot-timeout=10s");
    let ran = Instant::now();
    assert!(cordoned(&c, "node-1") && lock_value(&c).is_some());
    wait(&mut c, "uncordoned and unlocked", |c| !cordoned(c, "node-1") && lock_value(c).is_none());
    let soon = Duration::from_secs(10) + c.allows(cycles(4));
    assert!(ran.elapsed() < soon, "put back {:?} after the command, more than {soon:?}", ran.elapsed());
    assert!(ran.elapsed() >= Duration::from_secs(9), "not before the timeout: {:?}", ran.elapsed());
    let warned = events(&c, "Node", "node-1").into_iter().find(|e| e.0 == "RebootFailed");
    let (_, kind, message) = warned.unwrap_or_else(|| panic!("a RebootFailed event\n{}", c.report()));
    assert_eq!(kind, "Warning");
    assert!(message.contains("boot ID unchanged"), "{message}");
    c.poll();
    assert!(c.node("node-1").unwrap().kured_running() && exited(&c).is_none(), "still running\n{}", c.report());
    let port = c.metrics_port("node-1").unwrap();
    let (_, body) = get(port, "/metrics").unwrap();
    assert!(body.contains("kured_reboot_timeouts_total{node=\"node-1\"} 1"), "{body}");
    let log = c.node("node-1").unwrap().log_tail(400);
    assert!(log.contains("boot ID unchanged"), "{log}");
}

#[test]
fn a_lock_held_by_a_deleted_node_is_broken() {
    let mut s = spec(1, &[]);
    let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    s.lock = Some(upstream_single("node-gone", &now, 0));
    let mut c = start(s);
    // the gap (15 s at least) and the grace (15 s) of lock::stale come first
    c.wait_for(Limit::Cycles(24), |e| matches!(e, Event::Rebooted { node, .. } if node == "node-1")).unwrap();
    let broken = events(&c, "DaemonSet", "kured").into_iter().find(|e| e.0 == "StaleLockBroken");
    let (_, kind, message) = broken.unwrap_or_else(|| panic!("a StaleLockBroken event\n{}", c.report()));
    assert_eq!(kind, "Warning");
    assert!(message.contains("node-gone") && message.contains("no longer exists"), "{message}");
    let log = c.node("node-1").unwrap().log_tail(400);
    assert!(log.contains("broke the reboot lock entry of node-gone"), "{log}");
    // seen missing at least twice before
    assert!(count_requests(&c, "GET", "/api/v1/nodes/node-gone") >= 2);
    let s = c.run_until_all_rebooted(LIMIT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
}

#[test]
fn a_hand_written_pause_lock_is_never_broken() {
    let mut s = spec(1, &[]);
    s.lock = Some(r#"{"nodeID":"manual"}"#.into());
    let mut c = start(s);
    // many periods: every one reads the lock
    wait(&mut c, "six checks", |c| count_requests(c, "GET", DS_PATH) >= 12);
    assert_eq!(lock_value(&c).as_deref(), Some(r#"{"nodeID":"manual"}"#), "{}", c.report());
    assert_eq!(c.reboots("node-1"), 0);
    assert!(!cordoned(&c, "node-1"));
    assert!(!has_event(&c, "DaemonSet", "kured", "StaleLockBroken"));
}

#[test]
fn a_sentinel_that_stays_stops_after_three_reboots() {
    let mut s = spec(1, &[]);
    s.sticky_sentinel = vec!["node-1".into()];
    let mut c = start(s);
    wait(&mut c, "the RebootLoop warning", |c| has_event(c, "Node", "node-1", "RebootLoop"));
    assert_eq!(c.reboots("node-1"), 3, "{}", c.report());
    let warning = events(&c, "Node", "node-1").into_iter().find(|e| e.0 == "RebootLoop").unwrap();
    assert_eq!(warning.1, "Warning");
    assert!(warning.2.contains("3 reboots in a row"), "{}", warning.2);
    // several more periods: still no reboot, nothing held
    let n = count_requests(&c, "GET", DS_PATH);
    wait(&mut c, "five more checks", |c| count_requests(c, "GET", DS_PATH) >= n + 5);
    assert_eq!(c.reboots("node-1"), 3, "{}", c.report());
    assert_eq!(lock_value(&c), None);
    assert!(!cordoned(&c, "node-1"));
    let (_, body) = get(c.metrics_port("node-1").unwrap(), "/metrics").unwrap();
    assert!(body.contains("kured_reboot_loop_stopped{node=\"node-1\"} 1"), "{body}");
}

#[test]
fn a_restart_on_the_same_boot_claims_no_reboot() {
    let hook = TinyServer::start(|_| (200, "text/plain".into(), String::new())).expect("receiver");
    let url = format!("--notify-url=generic+http://127.0.0.1:{}/hook", hook.port());
    let mut c = start(stuck(&[&url]));
    c.wait_for(LIMIT, |e| matches!(e, Event::EvictionBlocked { .. })).unwrap();
    // killed mid-drain (OOM, a lost pod) and started again: no reboot happened
    c.restart_kured("node-1").unwrap();
    c.wait_for(LIMIT, |e| matches!(e, Event::LockReleased { .. })).unwrap();
    // it takes the lock again and is stuck draining again
    let blocked = c.api().requests().iter().filter(|r| r.path.ends_with("/eviction") && r.status == 429).count();
    wait(&mut c, "draining again", |c| {
        c.api().requests().iter().filter(|r| r.path.ends_with("/eviction") && r.status == 429).count() > blocked
    });
    let claims = |c: &Cluster, hook: &TinyServer| {
        let events = has_event(c, "Node", "node-1", "Uncordoned");
        let notes = hook.received().iter().filter(|r| r.body.contains("rebooted & uncordoned")).count();
        (events, notes)
    };
    assert_eq!(claims(&c, &hook), (false, 0), "no reboot claimed\n{}", c.report());
    let log = c.node("node-1").unwrap().log_tail(400);
    assert!(log.contains("did not reboot (same boot ID)"), "{log}");
    // the drain can finish now
    c.api().delete("poddisruptionbudgets", "default", "stuck").expect("the budget existed");
    let s = c.run_until_all_rebooted(LIMIT);
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    assert_eq!(c.reboots("node-1"), 1, "rebooted exactly once\n{}", c.report());
    wait(&mut c, "the real reboot is announced", |c| claims(c, &hook) == (true, 1));
    let uncordoned = events(&c, "Node", "node-1").iter().filter(|e| e.0 == "Uncordoned").count();
    assert_eq!(uncordoned, 1);
}

#[test]
fn healthz_answers_while_the_loop_runs() {
    let mut c = start(stuck(&[]));
    c.wait_for(LIMIT, |e| matches!(e, Event::EvictionBlocked { .. })).unwrap();
    let port = c.metrics_port("node-1").unwrap();
    let (status, body) = get(port, "/healthz").unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"), "healthy mid-drain");
}

#[test]
fn start_up_recovery_never_waits_on_a_hung_sentinel_command() {
    // issue 15's reproduction: the lock held by this node, the node cordoned by
    // kured, and a sentinel command that never answers
    let mut s = spec(1, &["--reboot-sentinel-command=sleep 1000"]);
    let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    s.lock = Some(upstream_single("node-1", &now, 0));
    s.precordoned = vec!["node-1".into()];
    let mut c = start(s);
    let started = Instant::now();
    wait(&mut c, "uncordoned and unlocked", |c| !cordoned(c, "node-1") && lock_value(c).is_none());
    let prompt = c.allows(cycles(3));
    assert!(started.elapsed() < prompt, "put back after {:?}, more than {prompt:?}", started.elapsed());
}
