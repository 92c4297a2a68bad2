//! The drain's cost next to the real `kubectl drain` (issue 12): the same
//! 100-pod node on two identical fake clusters, one drained by kured
//! (`drain_node_guided`, unguided), the other by `kubectl drain
//! --ignore-daemonsets --delete-emptydir-data --force`, each counted by the
//! fake API server's request log. kured must make at most 0.6x kubectl's requests and be no
//! slower (10% allowed for a loaded machine). `scripts/bench.sh` prints the
//! figures; `DRAIN_BENCH_DETAIL=1` lists the requests by kind. kubectl must
//! be on PATH: without it this fails.

#[path = "support/drain.rs"]
mod drain;
#[path = "support/kube.rs"]
mod kube;

use std::time::{Duration, Instant};

use drain::drain_node;
use fakeapi::FakeApiServer;
use kured::clock::RealClock;
use kured::drain::DrainOptions;
use serde_json::json;

const PODS: usize = 100;
/// Of which this many are replicas behind a `maxUnavailable: 1` budget.
const REPLICAS: usize = 10;

/// n1 with 90 bare pods and 10 replicas (a budget lets one go at a time),
/// n2 empty and schedulable for the replicas to move to. Also the kured
/// DaemonSet, whose pod on n1 both drains skip.
fn seeded() -> FakeApiServer {
    let api = FakeApiServer::start();
    api.create(json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}));
    api.create(json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"},"spec":{"unschedulable":true}}));
    api.create(json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"kured","namespace":"kube-system"},
        "spec":{"selector":{"matchLabels":{"name":"kured"}},"template":{"metadata":{"labels":{"name":"kured"}},
        "spec":{"containers":[{"name":"kured","image":"kured-rs"}]}}}}));
    api.create(json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},
        "spec":{"replicas":REPLICAS,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"x"}]}}}}));
    api.create(
        json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"default"},
        "spec":{"maxUnavailable":1,"selector":{"matchLabels":{"app":"web"}}}}),
    );
    for i in 0..PODS - REPLICAS {
        api.create(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":format!("job-{i}"),"namespace":"default"},
            "spec":{"nodeName":"n1","terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"x"}]}}));
    }
    let running_on_n1 = |api: &FakeApiServer| {
        api.list("pods").iter().filter(|p| p["spec"]["nodeName"] == "n1" && p["status"]["phase"] == "Running").count()
    };
    assert!(api.wait_until(Duration::from_secs(30), |a| running_on_n1(a) == PODS + 1), "pods did not start");
    let mut n2 = api.get("nodes", "", "n2").unwrap();
    n2["spec"]["unschedulable"] = json!(false);
    api.update(n2).unwrap();
    api
}

fn left_on_n1(api: &FakeApiServer) -> usize {
    api.list("pods")
        .iter()
        .filter(|p| p["spec"]["nodeName"] == "n1" && !p["metadata"]["name"].as_str().unwrap_or("").starts_with("kured"))
        .count()
}

struct Run {
    requests: usize,
    secs: f64,
}

fn kured_drain() -> Run {
    let api = seeded();
    let client = kube::client(&api);
    let before = api.requests().len();
    let started = Instant::now();
    let opts = DrainOptions { timeout: Some(Duration::from_secs(120)), ..DrainOptions::default() };
    let report = drain_node(&client, "n1", &opts, &RealClock).unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(report.evicted.len(), PODS, "{report:?}");
    assert_eq!(left_on_n1(&api), 0);
    summarize("kured", &api, before);
    Run { requests: api.requests().len() - before, secs }
}

fn summarize(who: &str, api: &FakeApiServer, before: usize) {
    if std::env::var_os("DRAIN_BENCH_DETAIL").is_none() {
        return;
    }
    let mut counts = std::collections::BTreeMap::new();
    for r in &api.requests()[before..] {
        let shape: Vec<&str> =
            r.path.split('/').map(|s| if s.starts_with("job-") || s.starts_with("web-") { "*" } else { s }).collect();
        let watch = if r.query.contains("watch=1") || r.query.contains("watch=true") { "?watch" } else { "" };
        *counts.entry(format!("{} {}{watch} {}", r.method, shape.join("/"), r.status)).or_insert(0) += 1;
    }
    for (k, n) in counts {
        eprintln!("{who}: {n:4} {k}");
    }
}

fn kubectl_drain() -> Run {
    let api = seeded();
    let k = fakeapi::kubectl::Kubectl::new(&api, "drain-vs-kubectl");
    let kubectl = |args: &[&str]| k.ok(args, Duration::from_secs(180));
    // Warm kubectl's discovery cache first, so its count is the lower, steady one.
    kubectl(&["get", "nodes"]);
    let before = api.requests().len();
    let started = Instant::now();
    kubectl(&["drain", "n1", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=150s"]);
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(left_on_n1(&api), 0);
    summarize("kubectl", &api, before);
    Run { requests: api.requests().len() - before, secs }
}

#[test]
fn a_100_pod_drain_makes_at_most_0_6x_the_requests_of_kubectl_drain() {
    let ours = kured_drain();
    let theirs = kubectl_drain();
    let ratio = ours.requests as f64 / theirs.requests as f64;
    eprintln!(
        "drain of {PODS} pods: kured {} requests in {:.1} s, kubectl {} requests in {:.1} s: ratio {ratio:.2}",
        ours.requests, ours.secs, theirs.requests, theirs.secs
    );
    assert!(ratio <= 0.6, "kured made {} requests, kubectl {}", ours.requests, theirs.requests);
    // Both ran on the same machine one after the other; 10% for its noise.
    assert!(ours.secs <= theirs.secs * 1.1, "kured took {:.1} s, kubectl {:.1} s", ours.secs, theirs.secs);
}
