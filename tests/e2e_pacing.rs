//! End to end, fleet pacing (issue 12): real `kured` processes on the
//! simulated cluster. Waking on the lock's release (hand-over times with
//! `--period=30s`), the release gate, the cluster-autoscaler annotation, the
//! metrics and the status annotation. Each scenario is bounded by deadlines
//! and synchronises by polling the server, the timeline or the logs.

use std::time::Duration;

use sim::{Cluster, ClusterSpec, Event};

fn spec(nodes: usize, period: &str, args: &[&str]) -> ClusterSpec {
    let mut s = ClusterSpec::new(env!("CARGO_BIN_EXE_kured"));
    s.nodes = nodes;
    s.period = period.into();
    s.downtime = Duration::from_millis(500);
    s.extra_kured_args = args.iter().map(|a| a.to_string()).collect();
    s
}

fn start(spec: ClusterSpec) -> Cluster {
    Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"))
}

fn log_of(c: &Cluster, node: &str) -> String {
    std::fs::read_to_string(c.node(node).expect("node").log_path()).unwrap_or_default()
}

/// From each release to the next take, in the timeline.
fn handovers(c: &Cluster) -> Vec<Duration> {
    let tl = c.timeline();
    let mut out = Vec::new();
    for (i, e) in tl.iter().enumerate() {
        if let Event::LockReleased { .. } = e.event {
            if let Some(next) = tl[i..].iter().find(|n| matches!(n.event, Event::LockTaken { .. })) {
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
    // The first check comes after 15-45 s (upstream's random initial delay).
    let all_waiting = c.poll_until(Duration::from_secs(90), |_| {}, |c| names.iter().all(|n| log_of(c, n).contains("waiting for the reboot lock")));
    assert!(all_waiting, "not every node waits for the lock\n{}", c.report());
    let api = c.api();
    let mut ds = api.get("daemonsets", "kube-system", "kured").unwrap();
    ds["metadata"]["annotations"].as_object_mut().unwrap().remove("weave.works/kured-node-lock");
    api.update(ds).unwrap();
    // Five reboots one after the other; with the period alone this takes minutes.
    let summary = c.run_until_all_rebooted(Duration::from_secs(90));
    assert!(summary.violations(1).is_empty(), "{summary}\n{}", c.report());
    let h = handovers(&c);
    let shown: Vec<String> = h.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect();
    eprintln!("hand-overs (s, release to next take): {}", shown.join(" "));
    assert_eq!(h.len(), 5, "the operator's release and four node releases: {shown:?}\n{}", c.report());
    assert!(h.iter().all(|d| *d < Duration::from_secs(5)), "a hand-over took 5 s or more: {shown:?}\n{}", c.report());
    let woken = names.iter().filter(|n| log_of(&c, n).contains("the reboot lock has a free slot")).count();
    assert!(woken >= 4, "nodes woke by the watch, not the period: {woken}");
}
