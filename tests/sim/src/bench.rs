//! The scale benchmark's figures (`kured-sim --bench`), computed from the fake
//! server's timed request log after a rollout: what the API server paid
//! (total, per hand-over, against the floor, the busiest second), how fast the
//! lock changed hands, and how fair the order was. Pure functions of the log;
//! `main.rs` runs the cluster and prints [`Report`].
//!
//! - Lock holders come from the successful PUTs of the kured DaemonSet (the
//!   annotation in the body), so takes and releases are timed at the server.
//! - A node starts waiting when it first writes its status annotation with
//!   "lock held by" (kured-rs does so as it finds the lock full, in every
//!   version measured here) or "waiting for its turn" (since issue 18, a
//!   free slot left to the next in line); a node that never did took the
//!   lock at once.
//! - A hand-over is a take that a release made possible for a node already
//!   waiting: with concurrency c, the j-th take (j >= c) follows the
//!   (j-c)-th release; its gap is the time between them.
//! - A node's first-come share is what it would have waited had the takes
//!   that happened gone to the nodes in the order they started waiting.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use fakeapi::RequestRecord;
use serde_json::Value;

use crate::lockview;

/// Shares below this count as this (a node that arrives as a slot frees has
/// a share near zero, and any wait would look unfair).
pub const SHARE_FLOOR: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone)]
pub struct LockTimes {
    /// (time, node), in order
    pub takes: Vec<(Duration, String)>,
    pub releases: Vec<(Duration, String)>,
    /// node -> when it first found the lock held by others
    pub wait_start: BTreeMap<String, Duration>,
}

/// Takes and releases from the lock writes, wait starts from status writes.
pub fn lock_times(requests: &[RequestRecord], ds_path: &str, annotation: &str) -> LockTimes {
    let mut t = LockTimes::default();
    let mut holders: Vec<String> = Vec::new();
    for r in requests.iter().filter(|r| (200..300).contains(&r.status)) {
        if r.method == "PUT" && r.path == ds_path {
            let Ok(ds) = serde_json::from_str::<Value>(&r.body) else { continue };
            let raw = ds
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(annotation))
                .and_then(Value::as_str)
                .unwrap_or("");
            let now: Vec<String> =
                lockview::holders(raw).map(|h| h.into_iter().map(|h| h.node_id).collect()).unwrap_or_default();
            for gone in holders.iter().filter(|h| !now.contains(h)) {
                t.releases.push((r.at, gone.clone()));
            }
            for new in now.iter().filter(|h| !holders.contains(h)) {
                t.takes.push((r.at, new.clone()));
            }
            holders = now;
        } else if r.method == "PATCH" && (r.body.contains("lock held by") || r.body.contains("waiting for its turn")) {
            if let Some(node) = r.path.strip_prefix("/api/v1/nodes/") {
                t.wait_start.entry(node.to_string()).or_insert(r.at);
            }
        }
    }
    t
}

/// The hand-over gaps (see the module comment).
pub fn handover_gaps(t: &LockTimes, concurrency: usize) -> Vec<Duration> {
    let c = concurrency.max(1);
    let mut gaps = Vec::new();
    for (j, (at, node)) in t.takes.iter().enumerate().skip(c) {
        let Some((released, _)) = t.releases.get(j - c) else { break };
        let waited_before = t.wait_start.get(node).is_some_and(|w| w <= released);
        if waited_before && at >= released {
            gaps.push(*at - *released);
        }
    }
    gaps
}

/// Each node's (wait, first-come share), by its first take.
pub fn fairness(t: &LockTimes) -> Vec<(String, Duration, Duration)> {
    let mut first_take: BTreeMap<&str, Duration> = BTreeMap::new();
    for (at, n) in &t.takes {
        first_take.entry(n.as_str()).or_insert(*at);
    }
    let arrival = |n: &str, take: Duration| t.wait_start.get(n).copied().filter(|w| *w <= take).unwrap_or(take);
    let mut arrivals: Vec<(Duration, &str, Duration)> =
        first_take.iter().map(|(n, take)| (arrival(n, *take), *n, *take)).collect();
    arrivals.sort();
    let mut takes: Vec<Duration> = first_take.values().copied().collect();
    takes.sort();
    arrivals
        .iter()
        .zip(takes)
        .map(|((arrived, n, take), fifo_take)| {
            (n.to_string(), take.saturating_sub(*arrived), fifo_take.saturating_sub(*arrived))
        })
        .collect()
}

/// Requests per whole second since the server started.
pub fn per_second(requests: &[RequestRecord]) -> Vec<usize> {
    let mut buckets = Vec::new();
    for r in requests {
        let s = r.at.as_secs() as usize;
        if buckets.len() <= s {
            buckets.resize(s + 1, 0);
        }
        buckets[s] += 1;
    }
    buckets
}

/// The busiest second from second `from` on: (second, requests).
pub fn peak(secs: &[usize], from: usize) -> (usize, usize) {
    secs.iter().enumerate().skip(from).max_by_key(|(_, n)| **n).map_or((0, 0), |(i, n)| (i, *n))
}

/// Requests in the second after each release.
pub fn bursts(requests: &[RequestRecord], t: &LockTimes) -> Vec<usize> {
    let times: Vec<Duration> = requests.iter().map(|r| r.at).collect();
    t.releases
        .iter()
        .map(|(at, _)| {
            let from = times.partition_point(|x| x < at);
            let to = times.partition_point(|x| *x < *at + Duration::from_secs(1));
            to - from
        })
        .collect()
}

/// The q-quantile (0..=1) of sorted `v`.
pub fn quantile<T: Copy + Default>(v: &[T], q: f64) -> T {
    if v.is_empty() {
        return T::default();
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// What the benchmark prints after a rollout (one `bench:` line each).
pub struct Report {
    pub label: String,
    pub nodes: usize,
    pub concurrency: usize,
    pub period: Duration,
    pub elapsed: Duration,
    /// Requests each node's reboot needs when alone, summed (None: not measured).
    pub floor: Option<f64>,
    pub prometheus_queries: Option<usize>,
    pub daemon_peak_kib: u64,
    pub fleet_rss_kib: u64,
    pub server_cpu_s: f64,
}

impl Report {
    pub fn render(&self, requests: &[RequestRecord], t: &LockTimes) -> String {
        let mut out = String::new();
        let p = |out: &mut String, line: String| {
            let _ = writeln!(out, "bench: {} {line}", self.label);
        };
        let total = requests.len();
        let handovers = t.takes.len().saturating_sub(self.concurrency).max(1);
        let periodic = self.nodes as f64 * self.elapsed.as_secs_f64() / self.period.as_secs_f64().max(1e-9);
        p(
            &mut out,
            format!(
                "nodes={} concurrency={} period={:?} rollout_s={:.1} takes={}",
                self.nodes,
                self.concurrency,
                self.period,
                self.elapsed.as_secs_f64(),
                t.takes.len()
            ),
        );
        p(
            &mut out,
            format!(
                "requests_total={total} per_handover={:.1} per_node={:.1}",
                total as f64 / handovers as f64,
                total as f64 / self.nodes.max(1) as f64
            ),
        );
        if let Some(floor) = self.floor {
            let budget = 2.0 * floor + periodic;
            p(&mut out, format!(
                "floor={floor:.0} ratio={:.2} periodic_checks={periodic:.0} budget(2xfloor+periodic)={budget:.0} within_budget={}",
                total as f64 / floor.max(1.0),
                (total as f64) <= budget
            ));
        }
        let secs = per_second(requests);
        let (peak_at, peak_all) = peak(&secs, 0);
        // from the first take on: the start-up (every daemon reads the lock
        // in its first second, as the simulation starts them all at once) apart
        let first = t.takes.first().map_or(0, |(at, _)| at.as_secs() as usize);
        let (rollout_peak_at, rollout_peak) = peak(&secs, first);
        let mut b = bursts(requests, t);
        b.sort();
        p(&mut out, format!(
            "peak_1s_rollout={rollout_peak} (at {rollout_peak_at}s; limit 20+5xc={}) peak_1s_with_startup={peak_all} (at {peak_at}s) burst_after_release p50={} max={}",
            20 + 5 * self.concurrency,
            quantile(&b, 0.5),
            b.last().copied().unwrap_or(0)
        ));
        let mut gaps = handover_gaps(t, self.concurrency);
        gaps.sort();
        p(
            &mut out,
            format!(
                "handover_gap n={} p50={:.2}s p99={:.2}s max={:.2}s",
                gaps.len(),
                quantile(&gaps, 0.5).as_secs_f64(),
                quantile(&gaps, 0.99).as_secs_f64(),
                gaps.last().copied().unwrap_or_default().as_secs_f64()
            ),
        );
        let fair = fairness(t);
        let ratio = |w: Duration, s: Duration| w.as_secs_f64() / s.max(SHARE_FLOOR).as_secs_f64();
        let worst = fair.iter().max_by(|a, b| ratio(a.1, a.2).total_cmp(&ratio(b.1, b.2)));
        let over = fair.iter().filter(|(_, w, s)| ratio(*w, *s) > 2.0).count();
        let mut waits: Vec<Duration> = fair.iter().map(|f| f.1).collect();
        waits.sort();
        if let Some((n, w, s)) = worst {
            p(&mut out, format!(
                "fairness: worst wait/share={:.2} ({n}: waited {:.1}s, first-come share {:.1}s; shares below {}s count as {}s) nodes_over_2x={over} wait p50={:.1}s max={:.1}s",
                ratio(*w, *s),
                w.as_secs_f64(),
                s.as_secs_f64(),
                SHARE_FLOOR.as_secs(),
                SHARE_FLOOR.as_secs(),
                quantile(&waits, 0.5).as_secs_f64(),
                waits.last().copied().unwrap_or_default().as_secs_f64()
            ));
        }
        if let Some(q) = self.prometheus_queries {
            p(&mut out, format!("prometheus_queries={q} per_node={:.1}", q as f64 / self.nodes.max(1) as f64));
        }
        p(
            &mut out,
            format!(
                "daemon_peak_rss_kib={} fleet_rss_mib={:.0} sim_and_fake_server_cpu_s={:.1}",
                self.daemon_peak_kib,
                self.fleet_rss_kib as f64 / 1024.0,
                self.server_cpu_s
            ),
        );
        out
    }
}

/// Requests by kind (method and path shape), most first.
pub fn by_kind(requests: &[RequestRecord], top: usize) -> Vec<(String, usize)> {
    let mut counts = BTreeMap::new();
    for r in requests {
        let shape: Vec<&str> = r
            .path
            .split('/')
            .map(|s| if s.starts_with("node-") || s.contains('-') && s.len() > 12 { "*" } else { s })
            .collect();
        let watch = if r.query.contains("watch=1") { "?watch" } else { "" };
        *counts.entry(format!("{} {}{watch}", r.method, shape.join("/"))).or_insert(0usize) += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts.truncate(top);
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(at_ms: u64, method: &str, path: &str, body: &str) -> RequestRecord {
        RequestRecord {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            content_type: String::new(),
            body: body.into(),
            status: 200,
            at: Duration::from_millis(at_ms),
        }
    }

    const DS: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";

    fn lock(holder: Option<&str>) -> String {
        let value =
            holder.map_or(String::new(), |h| format!(r#"{{"nodeID":"{h}","created":"2024-01-01T00:00:00Z","TTL":0}}"#));
        serde_json::json!({"metadata": {"annotations": {"weave.works/kured-node-lock": value}}}).to_string()
    }

    #[test]
    fn takes_releases_gaps_and_shares() {
        let log = vec![
            req(0, "PUT", DS, &lock(Some("a"))),
            req(100, "PATCH", "/api/v1/nodes/b", r#"{"reason":"lock held by a"}"#),
            req(200, "PATCH", "/api/v1/nodes/c", r#"{"reason":"lock held by a"}"#),
            req(5_000, "PUT", DS, &lock(None)),
            req(5_400, "PUT", DS, &lock(Some("c"))),
            req(9_000, "PUT", DS, &lock(None)),
            req(9_200, "PUT", DS, &lock(Some("b"))),
            req(12_000, "PUT", DS, &lock(None)),
        ];
        let t = lock_times(&log, DS, "weave.works/kured-node-lock");
        assert_eq!(t.takes.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(), ["a", "c", "b"]);
        assert_eq!(t.releases.len(), 3);
        assert_eq!(handover_gaps(&t, 1), [Duration::from_millis(400), Duration::from_millis(200)]);
        let f = fairness(&t);
        // b came first but went last: waited 9.1 s, first-come share 5.3 s
        let b = f.iter().find(|x| x.0 == "b").unwrap();
        assert_eq!((b.1, b.2), (Duration::from_millis(9_100), Duration::from_millis(5_300)));
        assert_eq!(per_second(&log), [3, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 1]);
        assert_eq!(bursts(&log, &t), [2, 2, 1]);
    }
}
