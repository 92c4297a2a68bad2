//! End to end, blocking on what operators already watch (issue 23): real
//! `kured` processes on a simulated cluster (the `sim` harness, fake API
//! server) asking a fake Prometheus and a fake Alertmanager on loopback.
//! A `--prometheus-query` with a non-empty result holds the rollout (the
//! series named in the node's status) until it clears; a firing alert that
//! Alertmanager holds silenced does not block, and an Alertmanager that
//! cannot answer does (reported as a Prometheus block). A blocking pod named
//! `monitoring/prometheus-0` is reported as a pod (issue 19). Bounded by the
//! harness's cycle budget.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use sim::http::{alerts_answer, TinyServer};
use sim::{Cluster, ClusterSpec, Event, Limit};

const LIMIT: Limit = Limit::Cycles(8);
const STATUS: &str = "kured-rs.dev/status";
/// What the rollout waits on: a database that must be whole first.
const QUERY: &str = "kube_statefulset_status_replicas_ready{statefulset=\"pg\"} < 3";

fn start(args: &[&str]) -> Cluster {
    Cluster::start(ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 1, args))
        .unwrap_or_else(|e| panic!("cluster: {e}"))
}

fn wait(c: &mut Cluster, what: &str, done: impl FnMut(&Cluster) -> bool) {
    let ok = c.poll_until(LIMIT, |_| {}, done);
    assert!(ok, "{what}: not in time\n{}", c.report());
}

fn decoded_query(target: &str) -> String {
    let q = target.split_once("query=").map_or("", |(_, q)| q).as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < q.len() {
        let hex = q.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (q[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// node-1's status annotation, decoded (Null while there is none).
fn status_json(c: &Cluster) -> Value {
    let node = c.get_node("node-1").unwrap_or(Value::Null);
    let raw = node.pointer("/metadata/annotations").and_then(|a| a.get(STATUS)).and_then(Value::as_str).unwrap_or("{}");
    serde_json::from_str(raw).unwrap_or(Value::Null)
}

/// The reason in node-1's status annotation.
fn status(c: &Cluster) -> String {
    status_json(c)["reason"].as_str().unwrap_or("").to_string()
}

/// What holds node-1's pending reboot back, as its status says (the label of
/// `kured_reboot_blocked{reason}`).
fn blocked(c: &Cluster) -> String {
    status_json(c)["blocked"].as_str().unwrap_or("").to_string()
}

fn vector(samples: Vec<Value>) -> String {
    json!({"status": "success", "data": {"resultType": "vector", "result": samples}}).to_string()
}

#[test]
fn a_prometheus_query_blocks_until_its_result_is_empty() {
    let short = Arc::new(AtomicBool::new(true));
    let s = short.clone();
    let prom = TinyServer::start(move |r| {
        let body = if decoded_query(&r.target) == "ALERTS" {
            alerts_answer(&[])
        } else if s.load(Ordering::Relaxed) {
            let metric =
                json!({"__name__": "kube_statefulset_status_replicas_ready", "namespace": "db", "statefulset": "pg"});
            vector(vec![json!({"metric": metric, "value": [1700000000.0, "2"]})])
        } else {
            vector(Vec::new())
        };
        (200, "application/json".into(), body)
    })
    .expect("fake prometheus");
    let url = format!("--prometheus-url={}", prom.url());
    let query = format!("--prometheus-query={QUERY}");
    let mut c = start(&[&url, &query]);
    let asked = |p: &TinyServer| p.received().iter().filter(|r| decoded_query(&r.target) == QUERY).count();
    wait(&mut c, "the query asked twice", |_| asked(&prom) >= 2);
    let series = "kube_statefulset_status_replicas_ready{namespace=\"db\", statefulset=\"pg\"}";
    wait(&mut c, "the series in the status", |c| status(c).contains(series));
    c.poll();
    assert!(c.lock_holders().is_empty() && c.reboots("node-1") == 0, "held by the query\n{}", c.report());
    assert!(status(&c).starts_with("prometheus query result kube_statefulset"), "{}", status(&c));
    short.store(false, Ordering::Relaxed);
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
}

#[test]
fn a_silenced_alert_does_not_block_and_a_mute_alertmanager_does() {
    let prom = TinyServer::start(|_| (200, "application/json".into(), alerts_answer(&["NodeOnFire"])))
        .expect("fake prometheus");
    // 0: cannot answer, 1: nothing silenced, 2: NodeOnFire silenced
    let mode = Arc::new(AtomicU8::new(0));
    let m = mode.clone();
    let am = TinyServer::start(move |r| {
        match m.load(Ordering::Relaxed) {
            0 => return (503, "text/plain".into(), "alertmanager is starting".into()),
            1 => return (200, "application/json".into(), "[]".into()),
            _ => {}
        }
        assert!(r.target.starts_with("/api/v2/alerts?") && r.target.contains("silenced=true"), "{}", r.target);
        // As Alertmanager keeps it: Prometheus's external label added.
        let silenced = json!([{
            "labels": {"alertname": "NodeOnFire", "severity": "page", "prometheus": "monitoring/k8s"},
            "annotations": {}, "fingerprint": "1a2b", "receivers": [{"name": "ops"}],
            "startsAt": "2026-12-03T10:00:00Z", "endsAt": "2026-12-03T12:00:00Z", "updatedAt": "2026-12-03T10:00:00Z",
            "status": {"state": "suppressed", "silencedBy": ["5c1f0a"], "inhibitedBy": []}
        }]);
        (200, "application/json".into(), silenced.to_string())
    })
    .expect("fake alertmanager");
    let (purl, aurl) = (format!("--prometheus-url={}", prom.url()), format!("--alertmanager-url={}", am.url()));
    let mut c = start(&[&purl, &aurl]);
    // Alertmanager cannot answer: cannot tell whether the alert is silenced, so blocked,
    // by Prometheus (issue 19: the kind comes from the blocker)
    wait(&mut c, "alertmanager asked twice", |_| am.received().len() >= 2);
    wait(&mut c, "status blocked by prometheus", |c| blocked(c) == "prometheus");
    assert!(status(&c).starts_with("cannot check blockers: prometheus "), "{}", status(&c));
    c.poll();
    assert!(
        c.lock_holders().is_empty() && c.reboots("node-1") == 0,
        "blocked while alertmanager is down\n{}",
        c.report()
    );
    // nothing silenced: the firing alert blocks
    mode.store(1, Ordering::Relaxed);
    let n = am.received().len();
    wait(&mut c, "alertmanager asked twice more", |_| am.received().len() >= n + 2);
    c.poll();
    assert!(c.lock_holders().is_empty() && c.reboots("node-1") == 0, "blocked by the unsilenced alert\n{}", c.report());
    mode.store(2, Ordering::Relaxed);
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
    let log = c.node("node-1").unwrap().log_tail(400);
    assert!(log.contains("silenced in alertmanager, not blocking: NodeOnFire"), "{log}");
}

/// Issue 19: a blocking pod named after Prometheus is reported as a pod
/// (the kind came from the reason's text before: `blocked` said `prometheus`).
#[test]
fn a_blocking_pod_named_prometheus_is_reported_as_pods() {
    let mut spec = ClusterSpec::scenario(env!("CARGO_BIN_EXE_kured"), 1, &["--blocking-pod-selector=app=prometheus"]);
    spec.extra_objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}),
        sim::objects::bare_pod("monitoring", "prometheus-0", "node-1", "prometheus", false),
    ];
    let mut c = Cluster::start(spec).unwrap_or_else(|e| panic!("cluster: {e}"));
    wait(&mut c, "status blocked by the pod", |c| blocked(c) == "pods");
    assert!(status(&c).contains("monitoring/prometheus-0"), "{}", status(&c));
    assert!(c.lock_holders().is_empty() && c.reboots("node-1") == 0, "blocked by the pod\n{}", c.report());
    c.api().delete("pods", "monitoring", "prometheus-0").expect("the pod existed");
    c.wait_for(LIMIT, |e| matches!(e, Event::Rebooted { .. })).unwrap();
}
