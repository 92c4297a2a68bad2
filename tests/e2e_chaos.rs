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

/// The `clock-skew` fault's hook: `KURED_RS_TEST_CLOCK_OFFSET_MS` shifts the
/// daemon's wall clock, so the lock entry it writes is stamped with its skewed
/// time (here an hour ahead), and the daemon says so in its log.
#[test]
fn a_clock_offset_shifts_what_the_daemon_stamps() {
    let mut spec = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 1, &["--reboot-delay=2s"]);
    spec.kured_env.insert("node-1".into(), vec![("KURED_RS_TEST_CLOCK_OFFSET_MS".into(), "3600000".into())]);
    let mut c = Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"));
    let mut created = None;
    let ok = c.poll_until(
        LIMIT,
        |_| {},
        |c| {
            let ds = c.api().get("daemonsets", "kube-system", "kured").unwrap_or_default();
            let lock = ds["metadata"]["annotations"]["weave.works/kured-node-lock"].as_str().unwrap_or("").to_string();
            let value: serde_json::Value = serde_json::from_str(&lock).unwrap_or_default();
            if let Some(t) = value["created"].as_str() {
                created = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok();
            }
            created.is_some()
        },
    );
    assert!(ok, "node-1 never took the lock\n{}", c.report());
    let ahead = created.unwrap() - time::OffsetDateTime::now_utc();
    assert!(
        ahead > time::Duration::minutes(59) && ahead < time::Duration::minutes(61),
        "created {ahead} from now\n{}",
        c.report()
    );
    let log = std::fs::read_to_string(c.node("node-1").expect("node-1").log_path()).unwrap_or_default();
    assert!(log.contains("WARN") && log.contains("KURED_RS_TEST_CLOCK_OFFSET_MS=3600000"), "{log}");
    let ok = c.poll_until(LIMIT, |_| {}, |c| c.settled());
    assert!(ok, "the skewed node did not finish its reboot\n{}", c.report());
}

/// `api-slower-than-client-timeout`: the lock's writes (take and release) are
/// applied by the server but answered after kured's `--api-timeout` gave up
/// on them. kured must find out from the next read that they happened: the
/// node that took the lock without hearing so goes on with it, the one whose
/// release was lost finds it released; nobody is stuck and the lock stays
/// within the concurrency.
#[test]
fn lock_writes_answered_after_the_api_timeout_are_not_lost() {
    let mut spec = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 2, &["--api-timeout=1s"]);
    spec.downtime = Duration::from_millis(300);
    let mut c = Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"));
    let lock_ds = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";
    c.api().inject(fakeapi::Fault::late_answer("PUT", lock_ds, Duration::from_millis(2500)).times(4));
    let ok = c.poll_until(Duration::from_secs(60), |_| {}, |c| c.settled());
    assert!(ok, "not settled after late answers to lock writes\n{}", c.report());
    for n in ["node-1", "node-2"] {
        assert_eq!(c.reboots(n), 1, "{n}\n{}", c.report());
    }
    let s = c.summary();
    assert!(s.violations(1).is_empty(), "{:?}\n{}", s.violations(1), c.report());
    let logs: String = ["node-1", "node-2"]
        .iter()
        .map(|n| std::fs::read_to_string(c.node(n).unwrap().log_path()).unwrap_or_default())
        .collect();
    assert!(logs.contains("timeout"), "no lock write timed out: the fault did not bite\n{logs}");
}

/// Seed 13090294232347265417: after a reboot that left the sentinel set, the
/// lock's release was applied but its answer came after `--api-timeout`. The
/// retry found the lock no longer ours and stopped there, and with the released
/// entry went the reboot-loop count it carried: the node was rebooted past
/// `--reboot-loop-limit`, with no `RebootLoop` Event. Now the retry finishes
/// with what the first try found.
#[test]
fn a_release_answered_after_the_api_timeout_keeps_the_reboot_loop_count() {
    let mut spec =
        ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 1, &["--api-timeout=1s", "--reboot-loop-limit=2"]);
    spec.downtime = Duration::from_secs(1);
    spec.sticky_sentinel = vec!["node-1".into()];
    let mut c = Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"));
    let lock_ds = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";
    // the machine is down: the next lock write is the release after the reboot
    assert!(c.poll_until(LIMIT, |_| {}, |c| c.reboots("node-1") >= 1), "no first reboot\n{}", c.report());
    c.api().inject(fakeapi::Fault::late_answer("PUT", lock_ds, Duration::from_millis(2000)).times(1));
    let stopped = |c: &Cluster| warnings(c, "node-1", "RebootLoop") >= 1 && c.lock_holders().is_empty();
    assert!(
        c.poll_until(LIMIT, |_| {}, stopped),
        "no RebootLoop Event after {} reboots\n{}",
        c.reboots("node-1"),
        c.report()
    );
    assert_eq!(c.reboots("node-1"), 2, "--reboot-loop-limit=2\n{}", c.report());
    let log = std::fs::read_to_string(c.node("node-1").expect("node-1").log_path()).unwrap_or_default();
    assert!(
        log.contains("PUT") && log.contains("timeout"),
        "the release never timed out: the fault did not bite\n{log}"
    );
    // a few periods more: no third reboot
    assert!(
        !c.poll_until(Duration::from_secs(4), |_| {}, |c| c.reboots("node-1") > 2),
        "rebooted past the limit\n{}",
        c.report()
    );
}
