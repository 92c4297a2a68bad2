//! Regression tests for what the chaos campaign (`scripts/chaos`) found, each
//! named after the seed that found it: real `kured` processes on the simulated
//! cluster, synchronised by polling with deadlines.

use std::time::Duration;

use sim::{Cluster, ClusterSpec, Limit};

/// In kured cycles (sim::budget turns them into seconds on this machine).
const LIMIT: Limit = Limit::Cycles(10);

fn warnings(c: &Cluster, node: &str, reason: &str) -> usize {
    c.api()
        .list("events")
        .iter()
        .filter(|e| e["type"] == "Warning" && e["reason"] == reason && e["involvedObject"]["name"] == node)
        .count()
}

/// Seed 9403657673498569885: a reboot command that hangs kept the node cordoned
/// and the lock held for the host-command timeout (300 s) although
/// `--reboot-timeout` was 4 s. Now the command is cut at `--reboot-timeout`, the
/// node is put back (Warning `RebootFailed`), and the next attempt reboots it.
#[test]
fn a_hung_reboot_command_is_cut_at_the_reboot_timeout() {
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_kured"));
    spec.nodes = 1;
    spec.period = "1s".into();
    spec.downtime = Duration::from_millis(300);
    spec.no_reboot = vec!["node-1".into()];
    spec.extra_kured_args = vec!["--reboot-timeout=2s".into()];
    let mut c = Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"));
    let node = c.node("node-1").expect("node-1");
    let fault = node.reboot_fault();
    std::fs::write(&fault, format!("rm -f {}; sleep 600; exit 1\n", fault.display())).expect("write the reboot fault");
    std::fs::write(node.sentinel(), "").expect("create the sentinel");

    let ok = c.poll_until(LIMIT, |_| {}, |c| c.reboots("node-1") == 1 && c.settled());
    assert!(ok, "node-1 did not reboot in time after a hung reboot command\n{}", c.report());
    assert!(!fault.exists(), "the faulty command never ran\n{}", c.report());
    assert_eq!(warnings(&c, "node-1", "RebootFailed"), 1, "{}", c.report());
    let s = c.summary();
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
}
