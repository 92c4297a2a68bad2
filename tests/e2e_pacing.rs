//! End to end, fleet pacing (issue 12): real `kured` processes on the
//! simulated cluster. Waking on the lock's release (hand-over times with
//! `--period=30s`), the release gate, the cluster-autoscaler annotation, the
//! metrics and the status annotation. Each scenario is bounded by deadlines
//! and synchronises by polling the server, the timeline or the logs.

#[path = "support/promtool.rs"]
mod promtool;

use std::time::Duration;

use serde_json::{json, Value};
use sim::objects::{deployment, pdb};
use sim::{cycles, Cluster, ClusterSpec, Event, Limit};

fn spec(nodes: usize, period: &str, args: &[&str]) -> ClusterSpec {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), nodes, args);
    s.period = period.into();
    s
}

fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

fn log_of(c: &Cluster, node: &str) -> String {
    std::fs::read_to_string(c.node(node).expect("node").log_path()).unwrap_or_default()
}

/// From each release to the next take by another node, in the timeline. A
/// hand-over within one look of the harness shows as 0: the look lists that
/// take before that release (takes first, releases last, see sim's observer).
fn handovers(c: &Cluster) -> Vec<Duration> {
    let tl = c.timeline();
    let mut out = Vec::new();
    for (i, e) in tl.iter().enumerate() {
        if let Event::LockReleased { node: from } = &e.event {
            let taken = |(j, n): &(usize, &sim::Timed)| {
                n.at >= e.at && matches!(&n.event, Event::LockTaken { node } if node != from || *j > i)
            };
            let next = tl.iter().enumerate().find(taken).map(|(_, n)| n);
            if let Some(next) = next {
                out.push(next.at - e.at);
            }
        }
    }
    out
}

#[test]
fn waiting_nodes_take_the_lock_within_seconds_of_its_release() {
    let mut s = spec(5, "30s", &[]);
    // An operator paused reboots with a hand-written lock (upstream's documented way).
    s.lock = Some(r#"{"nodeID":"manual"}"#.into());
    let mut c = start(s);
    let names = c.spec().node_names();
    // The first check comes after 15-45 s (upstream's random initial delay):
    // one cycle (sim::budget gives each cycle 4 times its length).
    let all_waiting =
        c.poll_until(cycles(1), |_| {}, |c| names.iter().all(|n| log_of(c, n).contains("waiting for the reboot lock")));
    assert!(all_waiting, "not every node waits for the lock\n{}", c.report());
    unlock(&c);
    // Five reboots one after the other; with the period alone this takes five
    // periods (the hand-over times below tell the two apart).
    let summary = c.run_until_all_rebooted(cycles(1));
    assert!(summary.violations(1).is_empty(), "{summary}\n{}", c.report());
    let h = handovers(&c);
    let shown: Vec<String> = h.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect();
    eprintln!("hand-overs (s, release to next take): {}", shown.join(" "));
    assert_eq!(h.len(), 5, "the operator's release and four node releases: {shown:?}\n{}", c.report());
    assert!(h.iter().all(|d| *d < Duration::from_secs(5)), "a hand-over took 5 s or more: {shown:?}\n{}", c.report());
    let woken = names.iter().filter(|n| log_of(&c, n).contains("the reboot lock has a free slot")).count();
    assert!(woken >= 4, "nodes woke by the watch, not the period: {woken}");
}

/// One node carrying one replica of `gated` behind a `maxUnavailable: 1`
/// budget; the node needs a reboot only once that pod runs (so the budget
/// allows 1 when kured records it).
fn gated_cluster(args: &[&str]) -> Cluster {
    let mut s = spec(1, "1s", args);
    s.no_reboot = vec!["node-1".into()];
    s.extra_objects = vec![deployment("default", "gated", 1), pdb("default", "gated", json!({"maxUnavailable": 1}))];
    let mut c = start(s);
    let allows_one = |c: &Cluster| {
        c.api().get("poddisruptionbudgets", "default", "gated").is_some_and(|p| p["status"]["disruptionsAllowed"] == 1)
    };
    assert!(c.poll_until(LIMIT, |_| {}, allows_one), "the budget never allowed a disruption\n{}", c.report());
    std::fs::write(c.node("node-1").unwrap().sentinel(), b"").unwrap();
    c
}

/// Change node-1 (retrying on conflicts with kured's own writes).
fn edit_node(c: &Cluster, f: impl Fn(&mut Value)) {
    edit_node_named(c, "node-1", f)
}

/// While the machine is down, taint it so the evicted replica cannot come back.
fn hold_the_replica_off(c: &mut Cluster) {
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
    edit_node(c, |n| n["spec"]["taints"] = json!([{"key": "test/hold", "value": "1", "effect": "NoSchedule"}]));
}

/// A scenario's waits, in kured cycles (sim::budget turns them into seconds here).
const LIMIT: Limit = Limit::Cycles(8);

#[test]
fn the_lock_is_released_only_once_the_drained_budget_recovers() {
    let mut c = gated_cluster(&["--release-gate-timeout=2m"]);
    hold_the_replica_off(&mut c);
    c.wait_for(LIMIT, |e| matches!(e, Event::Uncordoned { .. })).unwrap();
    // Back, Ready and uncordoned, but the budget allows nothing: the lock stays.
    let released = c.poll_until(cycles(1), |_| {}, |c| c.lock_holders().is_empty());
    assert!(!released, "released while the budget was short\n{}", c.report());
    assert!(
        log_of(&c, "node-1").contains("release gate: waiting: PodDisruptionBudget default/gated allows 0"),
        "{}",
        log_of(&c, "node-1")
    );
    edit_node(&c, |n| n["spec"]["taints"] = json!([]));
    c.wait_for(LIMIT, |e| matches!(e, Event::LockReleased { .. })).unwrap();
    assert!(log_of(&c, "node-1").contains("release gate open after"));
    let n = c.get_node("node-1").unwrap();
    assert!(n["metadata"]["annotations"].get("kured-rs.dev/release-gate").is_none(), "the record is removed: {n}");
}

#[test]
fn a_gate_that_stays_shut_releases_at_its_timeout_and_says_which_budget() {
    let mut c = gated_cluster(&["--release-gate-timeout=3s"]);
    hold_the_replica_off(&mut c);
    let back = c.wait_for(LIMIT, |e| matches!(e, Event::Uncordoned { .. })).unwrap();
    let released = c.wait_for(LIMIT, |e| matches!(e, Event::LockReleased { .. })).unwrap();
    let held = released.at - back.at;
    assert!(held >= Duration::from_millis(2500), "released after {held:?}");
    let events = c.api().list("events");
    let e =
        events.iter().find(|e| e["reason"] == "ReleaseGateTimedOut").unwrap_or_else(|| panic!("no event: {events:?}"));
    assert!(e["message"].as_str().unwrap().contains("PodDisruptionBudget default/gated"), "{e}");
}

#[test]
fn with_a_zero_timeout_the_lock_goes_at_once_as_upstream() {
    let mut c = gated_cluster(&["--release-gate-timeout=0"]);
    hold_the_replica_off(&mut c);
    c.wait_for(LIMIT, |e| matches!(e, Event::LockReleased { .. })).unwrap();
    assert!(!log_of(&c, "node-1").contains("release gate"));
}

fn annotation(c: &Cluster, node: &str, key: &str) -> Option<String> {
    c.get_node(node)?.pointer("/metadata/annotations")?.get(key)?.as_str().map(str::to_string)
}

fn status_of(c: &Cluster, node: &str) -> Option<Value> {
    serde_json::from_str(&annotation(c, node, "kured-rs.dev/status")?).ok()
}

const SCALE_DOWN: &str = "cluster-autoscaler.kubernetes.io/scale-down-disabled";

#[test]
fn the_autoscaler_is_kept_off_a_held_node_and_an_operators_setting_is_kept() {
    let mut s = spec(2, "1s", &[]);
    s.no_reboot = vec!["node-2".into()];
    let mut c = start(s);
    // node-2's operator disabled scale-down for good before its reboot was needed.
    edit_node_named(&c, "node-2", |n| n["metadata"]["annotations"] = json!({SCALE_DOWN: "true"}));
    std::fs::write(c.node("node-2").unwrap().sentinel(), b"").unwrap();
    let mut held_with_annotation = std::collections::BTreeSet::new();
    let mut states = std::collections::BTreeSet::new();
    let settled = c.poll_until(
        cycles(15),
        |_| {},
        |c| {
            for n in ["node-1", "node-2"] {
                if c.lock_holders().iter().any(|h| h == n) && annotation(c, n, SCALE_DOWN).as_deref() == Some("true") {
                    held_with_annotation.insert(n.to_string());
                }
                if let Some(s) = status_of(c, n) {
                    states.insert(s["state"].as_str().unwrap_or("").to_string());
                }
            }
            c.settled()
        },
    );
    assert!(settled, "{}", c.report());
    assert_eq!(held_with_annotation.len(), 2, "{held_with_annotation:?}\n{}", c.report());
    assert_eq!(annotation(&c, "node-1", SCALE_DOWN), None, "kured's own setting is removed");
    assert_eq!(annotation(&c, "node-1", "kured-rs.dev/scale-down-disabled"), None);
    assert_eq!(annotation(&c, "node-2", SCALE_DOWN).as_deref(), Some("true"), "the operator's stays");
    assert!(states.contains("rebooting") && states.contains("ok"), "{states:?}");
    for n in ["node-1", "node-2"] {
        let s = status_of(&c, n).unwrap();
        assert_eq!(s["state"], "ok", "{n}: {s}");
    }
}

fn edit_node_named(c: &Cluster, name: &str, f: impl Fn(&mut Value)) {
    c.api().edit("nodes", "", name, f).unwrap_or_else(|e| panic!("{e}"));
}

/// Remove the lock annotation (an operator lifting a pause), whatever the daemons write meanwhile.
fn unlock(c: &Cluster) {
    let remove = |ds: &mut Value| {
        ds["metadata"]["annotations"].as_object_mut().unwrap().remove("weave.works/kured-node-lock");
    };
    c.api().edit("daemonsets", "kube-system", "kured", remove).unwrap_or_else(|e| panic!("{e}"));
}

fn scrape(c: &Cluster, node: &str) -> String {
    let (code, body) = sim::http::get(c.metrics_port(node).unwrap(), "/metrics").unwrap();
    assert_eq!(code, 200, "{body}");
    body
}

#[track_caller]
fn has_line(text: &str, line: &str) {
    assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
}

fn kubectl_columns(c: &Cluster) -> String {
    let out = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", c.kubeconfig().display()))
        .args([
            "--request-timeout=10s",
            "get",
            "nodes",
            "-o",
            r"custom-columns=NODE:.metadata.name,KURED:.metadata.annotations.kured-rs\.dev/status",
        ])
        .env("HOME", c.dir())
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl must be on PATH");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn metrics_and_the_status_annotation_say_why_a_node_waits_and_what_it_did() {
    let mut s = spec(1, "1s", &[]);
    s.lock = Some(r#"{"nodeID":"manual"}"#.into());
    let mut c = start(s);
    let waiting = c.poll_until(LIMIT, |_| {}, |c| status_of(c, "node-1").is_some_and(|s| s["state"] == "pending"));
    assert!(waiting, "{}", c.report());
    let st = status_of(&c, "node-1").unwrap();
    assert_eq!(st["reason"], "lock held by manual", "{st}");
    let table = kubectl_columns(&c);
    assert!(
        table.contains("node-1") && table.contains(r#""state":"pending","reason":"lock held by manual""#),
        "{table}"
    );

    let m = scrape(&c, "node-1");
    promtool::check(&m);
    has_line(&m, r#"kured_lock_held{node="node-1"} 0"#);
    has_line(&m, r#"kured_reboot_blocked{node="node-1",reason="lock"} 1"#);
    has_line(&m, r#"kured_reboot_blocked{node="node-1",reason="window"} 0"#);
    has_line(&m, r#"kured_maintenance_window_open{node="node-1"} 1"#);
    let pending: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix(r#"kured_reboot_pending_seconds{node="node-1"} "#))
        .unwrap()
        .parse()
        .unwrap();
    assert!(pending > 0.0, "{m}");

    unlock(&c);
    let summary = c.run_until_all_rebooted(LIMIT);
    assert!(summary.violations(1).is_empty(), "{summary}\n{}", c.report());
    // The kured that runs after the reboot timed the reboot and the gate.
    let m = scrape(&c, "node-1");
    promtool::check(&m);
    has_line(&m, r#"kured_phase_duration_seconds_count{node="node-1",phase="reboot"} 1"#);
    has_line(&m, r#"kured_phase_duration_seconds_count{node="node-1",phase="release_gate"} 1"#);
    has_line(&m, r#"kured_lock_held{node="node-1"} 0"#);
    has_line(&m, r#"kured_reboot_pending_seconds{node="node-1"} 0.000"#);
    assert_eq!(status_of(&c, "node-1").unwrap()["state"], "ok");
}

#[test]
fn without_a_watch_a_waiting_node_falls_back_to_its_period() {
    let mut s = spec(1, "2s", &[]);
    s.lock = Some(r#"{"nodeID":"manual"}"#.into());
    let mut c = start(s);
    // RBAC without list/watch on the DaemonSet collection (the GET of the object itself still works).
    c.api().inject(
        fakeapi::Fault::new(
            "GET",
            "/apis/apps/v1/namespaces/kube-system/daemonsets",
            fakeapi::FaultAction::Status(403),
        )
        .exact(),
    );
    let fell_back = c.poll_until(LIMIT, |_| {}, |c| log_of(c, "node-1").contains("cannot watch the reboot lock"));
    assert!(fell_back, "{}", c.report());
    assert!(log_of(&c, "node-1").contains("(--period)"));
    unlock(&c);
    // taken at a periodic check instead
    c.wait_for(LIMIT, |e| matches!(e, Event::LockTaken { .. })).unwrap();
}
