//! Fidelity with the real kubectl: discovery, get, cordon, label, annotate,
//! taint, and a drain that evicts through a PodDisruptionBudget. kubectl must be
//! installed: a missing kubectl fails these tests, it does not skip them.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{nodes, wait};
use fakeapi::{FakeApiServer, Options};
use serde_json::{json, Value};

/// The real kubectl with a request timeout, each run bounded.
struct Kubectl(fakeapi::kubectl::Kubectl);

impl Kubectl {
    fn new(api: &FakeApiServer, test: &str) -> Kubectl {
        Kubectl(fakeapi::kubectl::Kubectl::new(api, test))
    }

    #[track_caller]
    fn run(&self, args: &[&str], deadline: Duration) -> fakeapi::kubectl::Out {
        self.0.run(&[&["--request-timeout=10s"], args].concat(), deadline)
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args, Duration::from_secs(20));
        assert!(o.ok, "kubectl {args:?} failed:\n{}\n{}", o.stdout, o.stderr);
        o.stdout
    }
}

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn kubectl_reads_and_edits_nodes() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1", "n2"]);
    api.create(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"kube-system"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"i"}]}}));
    let k = Kubectl::new(&api, "edit");
    let list: Value = serde_json::from_str(&k.ok(&["get", "nodes", "-o", "json"])).unwrap();
    assert_eq!(names(&list), ["n1", "n2"]);
    let pods: Value = serde_json::from_str(&k.ok(&["get", "pods", "-A", "-o", "json"])).unwrap();
    assert_eq!(names(&pods), ["p"]);
    let human = k.ok(&["get", "nodes"]);
    assert!(human.contains("NAME") && human.contains("n1") && human.contains("Ready"), "{human}");

    k.ok(&["cordon", "n1"]);
    assert_eq!(api.get("nodes", "", "n1").unwrap()["spec"]["unschedulable"], true);
    assert!(k.ok(&["get", "nodes"]).contains("SchedulingDisabled"));
    k.ok(&["uncordon", "n1"]);
    assert_ne!(api.get("nodes", "", "n1").unwrap()["spec"]["unschedulable"], true);
    k.ok(&["label", "node", "n1", "a=b"]);
    k.ok(&["annotate", "node", "n1", "x=y"]);
    k.ok(&["taint", "node", "n1", "k=v:NoSchedule"]);
    let n = api.get("nodes", "", "n1").unwrap();
    assert_eq!(n["metadata"]["labels"]["a"], "b");
    assert_eq!(n["metadata"]["annotations"]["x"], "y");
    assert_eq!(n["spec"]["taints"], json!([{"key":"k","value":"v","effect":"NoSchedule"}]));
    k.ok(&["taint", "node", "n1", "k=v:NoSchedule-"]);
    assert!(api.get("nodes", "", "n1").unwrap()["spec"]["taints"].as_array().is_none_or(|t| t.is_empty()));
    let err = k.run(&["get", "node", "n9"], Duration::from_secs(20));
    assert!(!err.ok && err.stderr.contains("nodes \"n9\" not found"), "{}", err.stderr);
}

#[test]
fn kubectl_watches_nodes() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1"]);
    let k = Kubectl::new(&api, "watch");
    let out = std::thread::scope(|s| {
        let watcher =
            s.spawn(|| k.run(&["get", "nodes", "-w", "-o", "name", "--request-timeout=3s"], Duration::from_secs(20)));
        wait(&api, "kubectl to start watching", |a| a.requests().iter().any(|r| r.query.contains("watch=true")));
        api.set_node_ready("n1", false);
        watcher.join().unwrap()
    });
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["node/n1", "node/n1"],
        "initial state, then the change: {}",
        out.stderr
    );
}

fn seed_drain(api: &FakeApiServer) {
    // the Deployment's pods all land on n1: it is the only node when they start
    nodes(api, &["n1"]);
    api.create(json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},
        "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
            "template":{"metadata":{"labels":{"app":"web"}},"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"i"}]}}}}));
    api.create(
        json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"default"},
        "spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}}}),
    );
    api.create(json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"kured","namespace":"kube-system"},
        "spec":{"selector":{"matchLabels":{"app":"kured"}},"template":{"metadata":{"labels":{"app":"kured"}},
            "spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"kured","image":"kured"}]}}}}));
    api.create(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"cache","namespace":"default"},
        "spec":{"nodeName":"n1","terminationGracePeriodSeconds":1,"volumes":[{"name":"scratch","emptyDir":{}}],"containers":[{"name":"c","image":"i"}]}}));
    api.create(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"lonely","namespace":"default"},
        "spec":{"nodeName":"n1","terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"i"}]}}));
    wait(api, "5 running pods on n1", |a| {
        a.list("pods").iter().filter(|p| p["status"]["phase"] == "Running").count() == 5
    });
    nodes(api, &["n2", "n3"]);
}

fn on_node<'a>(pods: &'a [Value], node: &str) -> Vec<&'a Value> {
    pods.iter().filter(|p| p["spec"]["nodeName"] == node).collect()
}

#[test]
fn kubectl_drain_evicts_through_the_budget() {
    // replacements take 2 s to run, well inside kubectl's 5 s retry after a 429,
    // so the budget blocks the second eviction however slowly kubectl sends it
    let api = FakeApiServer::start_with(Options { pod_start_delay: Duration::from_secs(2), ..Options::default() });
    seed_drain(&api);
    let k = Kubectl::new(&api, "drain");
    let out = k.run(
        &["drain", "n1", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=60s"],
        Duration::from_secs(50),
    );
    assert!(out.ok, "drain failed:\n{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("node/n1 drained"), "{}", out.stdout);

    let node = api.get("nodes", "", "n1").unwrap();
    assert_eq!(node["spec"]["unschedulable"], true);
    let pods = api.list("pods");
    let left = on_node(&pods, "n1");
    assert!(!left.is_empty());
    for p in &left {
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "DaemonSet", "only DaemonSet pods stay on n1: {p}");
    }
    let web_elsewhere =
        pods.iter().filter(|p| p["metadata"]["labels"]["app"] == "web" && p["spec"]["nodeName"] != "n1").count();
    assert_eq!(web_elsewhere, 2);
    assert!(api.get("pods", "default", "lonely").is_none() && api.get("pods", "default", "cache").is_none());
    assert_eq!(api.pdb_violations(), 0);

    let evictions: Vec<u16> = api
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/eviction"))
        .map(|r| r.status)
        .collect();
    assert!(evictions.contains(&429), "the budget blocked at first: {evictions:?}");
    assert_eq!(evictions.iter().filter(|s| **s == 201).count(), 4, "web x2, cache, lonely evicted: {evictions:?}");
    assert!(
        !api.requests().iter().any(|r| r.method == "DELETE" && r.path.contains("/pods/")),
        "drain used evictions, not deletes"
    );
}

#[test]
fn kubectl_is_installed() {
    // a guard with a clear message: these tests need the real kubectl
    assert!(
        Path::new("/usr/bin/kubectl").exists()
            || Command::new("kubectl").arg("version").arg("--client").output().is_ok(),
        "kubectl not found: install it (these tests do not skip)"
    );
}
