//! End to end, the API cost of a large rollout (issue 18): 100 real `kured`
//! processes on the fake API server, and the total of their requests against
//! the floor, what each node's reboot needs when it is alone. Counts, not
//! times: a slow machine makes the rollout longer, which only adds periodic
//! checks, and those are allowed for by the periods the rollout took. Before
//! issue 18 every waiting node checked at every release (about 50 waiters
//! here, ~6 requests each), several times this budget.

use std::time::Duration;

use sim::{cycles, Cluster, ClusterSpec};

const NODES: usize = 100;
const CONCURRENCY: u32 = 1;
/// Requests one node's reboot needs when it is alone, without workloads
/// (`kured-sim --nodes 3 --workloads=false --bench-floor --period=5s`: 22-23;
/// lock take and release, cordon and uncordon, status annotations, its pods,
/// its Events, the release gate).
const FLOOR_PER_NODE: usize = 23;
/// The budget: this many times the floor ...
const FLOOR_MULTIPLE: usize = 2;
/// ... plus this many requests per node per period of the rollout (a waiting
/// node's periodic check: its Node, the lock, and its watch of the lock now and then).
const PER_NODE_PERIOD: f64 = 2.0;

#[test]
fn a_hundred_node_rollout_costs_requests_in_proportion_to_the_nodes() {
    // KURED_E2E_SCALE_BIN: another build to hold to the same budget (e.g. the
    // one before issue 18, which fails it)
    let bin = std::env::var_os("KURED_E2E_SCALE_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_kured").into(), std::path::PathBuf::from);
    let mut s = ClusterSpec::scenario(bin, NODES, &[]);
    s.concurrency = CONCURRENCY;
    s.period = "10s".into();
    let mut c = Cluster::start(s).unwrap_or_else(|e| panic!("cluster: {e}"));
    // 100 short reboots one after the other, after the first checks (5-15 s)
    let summary = c.run_until_all_rebooted(cycles(30));
    assert!(summary.violations(CONCURRENCY as usize).is_empty(), "{summary}\n{}", c.report());
    let requests = c.api().requests();
    let periods = c.elapsed().as_secs_f64() / Duration::from_secs(10).as_secs_f64();
    let floor = NODES * FLOOR_PER_NODE;
    let budget = (FLOOR_MULTIPLE * floor) as f64 + PER_NODE_PERIOD * NODES as f64 * periods;
    let kinds: Vec<String> = sim::bench::by_kind(&requests, 8).into_iter().map(|(k, n)| format!("{n} {k}")).collect();
    eprintln!(
        "100-node rollout, concurrency {CONCURRENCY}: {} requests in {:.1} periods; floor {floor}, budget {budget:.0} ({FLOOR_MULTIPLE}x floor + {PER_NODE_PERIOD} per node per period)\n  {}",
        requests.len(),
        periods,
        kinds.join("\n  ")
    );
    assert!(
        requests.len() as f64 <= budget,
        "{} requests, over the budget of {budget:.0} ({FLOOR_MULTIPLE} x the floor of {floor} + {PER_NODE_PERIOD} per node per period for {periods:.1} periods): \
         waiting nodes cost the API server more than their turn\n  {}",
        requests.len(),
        kinds.join("\n  ")
    );
}
