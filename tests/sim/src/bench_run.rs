//! The scale benchmark's runs (`--bench`, `--bench-floor`): sampling the
//! fleet's memory during a rollout, the report after it, and the floor run
//! (each node rebooting alone in turn). The figures are `sim::bench`'s.

use std::time::{Duration, Instant};

use sim::bench::{self, Report};
use sim::{Cluster, ClusterSpec};

/// The kured DaemonSet every simulation carries the lock on.
const DS_PATH: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";
const RSS_EVERY: Duration = Duration::from_secs(5);

/// The most memory the running daemons held together (VmRSS summed), sampled.
#[derive(Default)]
pub struct RssSampler {
    last: Option<Instant>,
    pub max_kib: u64,
}

impl RssSampler {
    pub fn sample(&mut self, c: &Cluster) {
        if self.last.is_some_and(|t| t.elapsed() < RSS_EVERY) {
            return;
        }
        self.last = Some(Instant::now());
        self.max_kib = self.max_kib.max(c.fleet_rss_kib());
    }
}

/// CPU seconds (user + system) of this process: the fake API server and the harness.
pub fn self_cpu_s() -> f64 {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_SELF is always valid.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

pub fn report(
    c: &Cluster,
    label: &str,
    floor: Option<(f64, f64, usize)>,
    prometheus_queries: Option<usize>,
    fleet_rss_kib: u64,
) -> String {
    let requests = c.api().requests();
    let times = bench::lock_times(&requests, DS_PATH, &c.spec().lock_annotation);
    let nodes = c.spec().nodes;
    let r = Report {
        label: label.to_string(),
        nodes,
        concurrency: c.spec().concurrency as usize,
        period: c.period(),
        elapsed: c.elapsed(),
        floor: floor.map(|(sum, min, k)| sum + nodes.saturating_sub(k) as f64 * min),
        prometheus_queries,
        daemon_peak_kib: c.daemon_peak_kib(),
        fleet_rss_kib,
        server_cpu_s: self_cpu_s(),
    };
    let mut out = r.render(&requests, &times);
    // what the busiest second was made of
    let secs = bench::per_second(&requests);
    let first = times.takes.first().map_or(0, |(at, _)| at.as_secs() as usize);
    {
        let peak = bench::peak(&secs, first).0 as u64;
        let in_peak: Vec<_> = requests.iter().filter(|r| r.at.as_secs() == peak).cloned().collect();
        let kinds: Vec<String> = bench::by_kind(&in_peak, 6).into_iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.push_str(&format!("bench: {label} rollout_peak_second {peak}s: {}\n", kinds.join(", ")));
    }
    for (k, n) in bench::by_kind(&requests, 8) {
        out.push_str(&format!("bench: {label} requests {n:7} {k}\n"));
    }
    out
}

/// Each of the spec's nodes reboots alone, one after the other: the requests
/// its reboot needed, less the idle checks of the fleet meanwhile (measured
/// first, over two periods). One line: `bench-floor: ... --floor=SUM,MIN,K`.
pub fn floor(mut spec: ClusterSpec, limit: Duration) -> Result<String, String> {
    let names = spec.node_names();
    spec.no_reboot = names.clone();
    let k = names.len();
    let mut c = Cluster::start(spec)?;
    let period = c.period();
    // every kured's first check, then the idle rate
    c.poll_until(period * 2, |_| {}, |_| false);
    let (n0, t0) = (c.api().request_count(), Instant::now());
    c.poll_until(period * 2, |_| {}, |_| false);
    let idle = (c.api().request_count() - n0) as f64 / (k as f64 * t0.elapsed().as_secs_f64());
    let mut costs = Vec::new();
    for name in &names {
        let sentinel = c.node(name).ok_or("node vanished")?.sentinel();
        let (n1, t1) = (c.api().request_count(), Instant::now());
        std::fs::File::create(&sentinel).map_err(|e| format!("create {}: {e}", sentinel.display()))?;
        if !c.poll_until(limit, |_| {}, |c| c.reboots(name) >= 1 && c.quiet()) {
            return Err(format!("{name} did not reboot alone within {limit:?}\n{}", c.report()));
        }
        // what the node does right after (Events, annotations)
        c.poll_until(Duration::from_secs(3), |_| {}, |_| false);
        let n = (c.api().request_count() - n1) as f64 - idle * k as f64 * t1.elapsed().as_secs_f64();
        costs.push(n.max(0.0));
    }
    let sum: f64 = costs.iter().sum();
    let min = costs.iter().copied().fold(f64::INFINITY, f64::min);
    let each: Vec<String> = costs.iter().map(|c| format!("{c:.0}")).collect();
    Ok(format!(
        "bench-floor: k={k} per_node=[{}] idle_per_node_per_period={:.2} --floor={sum:.0},{min:.0},{k}",
        each.join(" "),
        idle * period.as_secs_f64()
    ))
}
