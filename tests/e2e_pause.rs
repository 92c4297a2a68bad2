//! End to end, the operator's run-time controls (issue 22): real `kured`
//! processes on the simulated cluster. Reboots paused by `kured-rs.dev/pause`
//! on the lock's DaemonSet in the middle of a rollout (the holder finishes, no
//! node takes the lock after the pause, every node says why, resuming
//! wakes the next in line by the lock's watch), and the whole operator's story
//! with the real kubectl as the README tells it (pause, opt a node out, look at
//! `kubectl get nodes -o custom-columns=...`, resume, opt back in), on both
//! servers. Each wait is bounded in kured cycles; synchronisation is by polling
//! the server, the timeline or the logs.

use std::time::Duration;

use serde_json::Value;
use sim::{cycles, Cluster, ClusterSpec, ControlPlaneKind, Event, Limit};

const PAUSE: &str = "kured-rs.dev/pause";
const LIMIT: Limit = Limit::Cycles(8);

fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

fn log_of(c: &Cluster, node: &str) -> String {
    std::fs::read_to_string(c.node(node).expect("node").log_path()).unwrap_or_default()
}

fn status_of(c: &Cluster, node: &str) -> Option<Value> {
    let n = c.get_node(node)?;
    serde_json::from_str(n["metadata"]["annotations"]["kured-rs.dev/status"].as_str()?).ok()
}

fn reason_of(c: &Cluster, node: &str) -> String {
    status_of(c, node).and_then(|s| s["reason"].as_str().map(str::to_string)).unwrap_or_default()
}

fn takes_after(c: &Cluster, at: Duration) -> Vec<String> {
    let taken = c.timeline().iter().filter(|e| e.at >= at);
    taken
        .filter_map(|e| match &e.event {
            Event::LockTaken { node } => Some(node.clone()),
            _ => None,
        })
        .collect()
}

fn was_cordoned(c: &Cluster, node: &str) -> bool {
    c.timeline()
        .iter()
        .any(|e| matches!(&e.event, Event::Cordoned { node: n } | Event::LockTaken { node: n } if n == node))
}

/// The real kubectl against the cluster, as an operator runs it.
fn kubectl(c: &Cluster, args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", c.kubeconfig().display()))
        .arg("--request-timeout=10s")
        .args(args)
        .env("HOME", c.dir())
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl must be on PATH (scripts/setup.sh installs it)");
    assert!(out.status.success(), "kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The README's columns: each node's status and its opt-out label.
const COLUMNS: &str = r"custom-columns=NODE:.metadata.name,KURED:.metadata.annotations.kured-rs\.dev/status,OPT-OUT:.metadata.labels.kured-rs\.dev/opt-out";

/// The row of `node` in `kubectl get nodes -o custom-columns=...`.
fn row(table: &str, node: &str) -> String {
    table.lines().find(|l| l.split_whitespace().next() == Some(node)).unwrap_or_default().to_string()
}

#[test]
fn pausing_mid_rollout_stops_new_takes_and_resuming_goes_on() {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 4, &[]);
    s.period = "4s".into();
    let mut c = start(s);
    let first =
        c.wait_for(LIMIT, |e| matches!(e, Event::LockTaken { .. })).unwrap_or_else(|e| panic!("{e}\n{}", c.report()));
    // The operator pauses: a write of the DaemonSet, so any take read before
    // it is refused (409) and read again, and sees the pause.
    let written = c.api().edit("daemonsets", "kube-system", "kured", |ds| {
        ds["metadata"]["annotations"][PAUSE] = "etcd upgrade, INC-42".into()
    });
    let written = written.unwrap_or_else(|e| panic!("{e}"));
    let paused_at = c.elapsed();
    let lock =
        written["metadata"]["annotations"][sim::lockview::DEFAULT_LOCK_ANNOTATION].as_str().unwrap_or("").to_string();
    let at_pause: Vec<String> = if lock.is_empty() {
        vec![]
    } else {
        sim::lockview::holders(&lock).unwrap().into_iter().map(|h| h.node_id).collect()
    };
    eprintln!("paused {:.1}s after {}; holders then: {at_pause:?}", (paused_at - first.at).as_secs_f64(), first.event);
    let names = c.spec().node_names();
    // The holder finishes; every other node waits, saying why, and the nodes
    // already rebooted (nothing left to do) say it too.
    let quiet = c.poll_until(
        LIMIT,
        |_| {},
        |c| c.lock_holders().is_empty() && names.iter().all(|n| reason_of(c, n) == "paused: etcd upgrade, INC-42"),
    );
    let reasons: Vec<String> = names.iter().map(|n| format!("{n}: {}", reason_of(&c, n))).collect();
    assert!(quiet, "the holders did not finish, or not every node says paused: {reasons:?}\n{}", c.report());
    for n in names.iter().filter(|n| c.reboots(n) > 0) {
        assert_eq!(status_of(&c, n).unwrap()["state"], "ok", "{n}: rebooted, nothing left to do\n{}", c.report());
    }
    // Two more periods of nobody taking it.
    c.poll_until(Duration::from_secs(8), |_| {}, |_| false);
    let taken: Vec<String> = takes_after(&c, paused_at).into_iter().filter(|n| !at_pause.contains(n)).collect();
    assert!(taken.is_empty(), "took the lock while paused: {taken:?}\n{}", c.report());
    let rebooted_while_paused: Vec<&String> = names.iter().filter(|n| c.reboots(n) > 0).collect();
    assert!(rebooted_while_paused.len() < names.len(), "the pause came too late to hold anyone back\n{}", c.report());

    // Resume: the event removing the pause wakes the next in line.
    c.api()
        .edit("daemonsets", "kube-system", "kured", |ds| {
            ds["metadata"]["annotations"].as_object_mut().unwrap().remove(PAUSE);
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let resumed_at = c.elapsed();
    let next =
        c.wait_for(LIMIT, |e| matches!(e, Event::LockTaken { .. })).unwrap_or_else(|e| panic!("{e}\n{}", c.report()));
    let Event::LockTaken { node } = &next.event else { unreachable!() };
    eprintln!("resumed: {node} took the lock {:.2}s later", (next.at - resumed_at).as_secs_f64());
    assert!(
        log_of(&c, node).contains("the reboot lock has a free slot and it is this node's turn"),
        "{node} was not woken by the watch\n{}",
        log_of(&c, node)
    );
    let summary = c.run_until_all_rebooted(LIMIT);
    assert!(summary.violations(1).is_empty(), "{summary}\n{}", c.report());
}

/// The README's story with the real kubectl: reboots paused before the
/// sentinels appear and node-3 opted out by its label; every node says why in
/// `kubectl get nodes -o custom-columns=...`; resumed, node-1 and node-2
/// reboot and node-3 is never cordoned; opted back in, node-3 reboots too.
fn pause_and_opt_out_with_kubectl(cp: ControlPlaneKind) {
    let mut s = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 3, &[]);
    s.control_plane = cp;
    s.period = "2s".into();
    s.no_reboot = s.node_names();
    let mut c = start(s);
    kubectl(&c, &["-n", "kube-system", "annotate", "daemonset", "kured", "kured-rs.dev/pause=maintenance freeze"]);
    kubectl(&c, &["label", "node", "node-3", "kured-rs.dev/opt-out=true"]);
    for n in c.spec().node_names() {
        std::fs::write(c.node(&n).unwrap().sentinel(), b"").unwrap();
    }
    let says = |c: &Cluster| {
        let t = kubectl(c, &["get", "nodes", "-o", COLUMNS]);
        let paused =
            ["node-1", "node-2"].iter().all(|n| row(&t, n).contains(r#""reason":"paused: maintenance freeze""#));
        paused && row(&t, "node-3").contains(r#""reason":"opted out""#) && row(&t, "node-3").ends_with("true")
    };
    let shown = c.poll_until(LIMIT, |_| {}, says);
    let table = kubectl(&c, &["get", "nodes", "-o", COLUMNS]);
    assert!(shown, "kubectl does not show the pause and the opt-out:\n{table}\n{}", c.report());
    eprintln!("{table}");
    let ds = kubectl(
        &c,
        &[
            "-n",
            "kube-system",
            "get",
            "daemonset",
            "kured",
            "-o",
            r"custom-columns=PAUSED:.metadata.annotations.kured-rs\.dev/pause",
        ],
    );
    assert!(ds.contains("maintenance freeze"), "{ds}");
    assert!(takes_after(&c, Duration::ZERO).is_empty(), "took the lock while paused\n{}", c.report());

    kubectl(&c, &["-n", "kube-system", "annotate", "daemonset", "kured", "kured-rs.dev/pause-"]);
    let two = c.poll_until(
        cycles(12),
        |_| {},
        |c| c.reboots("node-1") == 1 && c.reboots("node-2") == 1 && c.lock_holders().is_empty(),
    );
    assert!(two, "node-1 and node-2 were not rebooted after the resume\n{}", c.report());
    assert!(!was_cordoned(&c, "node-3"), "the opted-out node was cordoned or took the lock\n{}", c.report());
    assert_eq!((c.reboots("node-3"), reason_of(&c, "node-3")), (0, "opted out".to_string()), "{}", c.report());

    kubectl(&c, &["label", "node", "node-3", "kured-rs.dev/opt-out-"]);
    let summary = c.run_until_all_rebooted(LIMIT);
    assert!(summary.violations(1).is_empty(), "{summary}\n{}", c.report());
    assert!(log_of(&c, "node-3").contains("is opted out"), "{}", log_of(&c, "node-3"));
}

mod pause_and_opt_out_with_kubectl {
    #[test]
    fn fake() {
        super::pause_and_opt_out_with_kubectl(sim::ControlPlaneKind::Fake)
    }
    #[test]
    fn real() {
        super::pause_and_opt_out_with_kubectl(sim::ControlPlaneKind::Real)
    }
}
