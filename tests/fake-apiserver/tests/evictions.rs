//! Evictions against PodDisruptionBudgets, graceful deletion, and the
//! controllers that recreate pods elsewhere.

mod common;

use common::{nodes, wait, Client};
use fakeapi::FakeApiServer;
use serde_json::{json, Value};

fn deployment(name: &str, replicas: i64) -> Value {
    json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":name,"namespace":"default"},
        "spec":{"replicas":replicas,"selector":{"matchLabels":{"app":name}},
            "template":{"metadata":{"labels":{"app":name}},"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"i"}]}}}})
}

fn pdb(name: &str, app: &str, spec: Value) -> Value {
    let mut s = spec;
    s["selector"] = json!({"matchLabels":{"app":app}});
    json!({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":name,"namespace":"default"},"spec":s})
}

fn running(api: &FakeApiServer, app: &str) -> Vec<Value> {
    api.list("pods")
        .into_iter()
        .filter(|p| {
            p["metadata"]["labels"]["app"] == app
                && p["status"]["phase"] == "Running"
                && p["metadata"]["deletionTimestamp"].is_null()
        })
        .collect()
}

fn name(p: &Value) -> String {
    p["metadata"]["name"].as_str().unwrap().to_string()
}

fn cordon(c: &Client, node: &str, on: bool) {
    let r = c.patch(
        &format!("/api/v1/nodes/{node}"),
        "application/strategic-merge-patch+json",
        &json!({"spec":{"unschedulable":on}}),
    );
    assert_eq!(r.status, 200);
}

fn evict(c: &Client, pod: &str) -> common::Resp {
    c.post(
        &format!("/api/v1/namespaces/default/pods/{pod}/eviction"),
        &json!({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":pod,"namespace":"default"}}),
    )
}

/// Nodes n1 and n2, a Deployment "web" of 2 and a budget keeping 1 available.
fn web_behind_a_budget() -> FakeApiServer {
    let api = FakeApiServer::start();
    nodes(&api, &["n1", "n2"]);
    api.create(deployment("web", 2));
    api.create(pdb("web", "web", json!({"minAvailable": 1})));
    api
}

#[test]
fn eviction_honours_the_budget_until_replacements_run() {
    let api = web_behind_a_budget();
    wait(&api, "2 running web pods", |a| running(a, "web").len() == 2);
    let c = Client::new(&api);
    // no room for replacements yet, so the budget stays tight however slow this test runs
    cordon(&c, "n1", true);
    cordon(&c, "n2", true);
    let pods = running(&api, "web");
    let (a, b) = (name(&pods[0]), name(&pods[1]));

    let r = evict(&c, &a);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json(), json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201}));
    let gone = api.get("pods", "default", &a).unwrap();
    assert!(!gone["metadata"]["deletionTimestamp"].is_null(), "eviction deletes gracefully");
    assert_eq!(gone["metadata"]["deletionGracePeriodSeconds"], 1);

    let r = evict(&c, &b);
    assert_eq!(r.status, 429);
    let s = r.json();
    assert_eq!(
        (s["reason"].clone(), s["message"].clone()),
        (json!("TooManyRequests"), json!("Cannot evict pod as it would violate the pod's disruption budget."))
    );
    assert_eq!(
        s["details"]["causes"][0],
        json!({"reason":"DisruptionBudget","message":"The disruption budget web needs 1 healthy pods and has 1 currently"})
    );

    let r = evict(&c, "no-such-pod");
    assert_eq!((r.status, r.json()["message"].clone()), (404, json!("pods \"no-such-pod\" not found")));

    // the ReplicaSet replaces the evicted pod; then the budget allows the next eviction
    cordon(&c, "n2", false);
    wait(&api, "a replacement running", |a| running(a, "web").len() == 2);
    wait(&api, "the evicted pod gone after its grace period", |api| api.get("pods", "default", &a).is_none());
    assert_eq!(evict(&c, &b).status, 201);
    assert_eq!(api.pdb_violations(), 0);
    let budget = api.get("poddisruptionbudgets", "default", "web").unwrap();
    assert_eq!(budget["status"]["desiredHealthy"], 1);
}

#[test]
fn percentages_max_unavailable_and_two_budgets() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1"]);
    api.create(deployment("db", 4));
    api.create(pdb("db", "db", json!({"maxUnavailable": "50%"})));
    wait(&api, "4 running db pods", |a| running(a, "db").len() == 4);
    let c = Client::new(&api);
    cordon(&c, "n1", true);
    let pods = running(&api, "db");
    assert_eq!(evict(&c, &name(&pods[0])).status, 201);
    assert_eq!(evict(&c, &name(&pods[1])).status, 201);
    let r = evict(&c, &name(&pods[2]));
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json()["details"]["causes"][0]["message"],
        "The disruption budget db needs 2 healthy pods and has 2 currently"
    );
    api.create(pdb("db2", "db", json!({"minAvailable": "10%"})));
    let r = evict(&c, &name(&pods[3]));
    assert_eq!(
        (r.status, r.json()["message"].clone()),
        (
            500,
            json!("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        )
    );
    assert_eq!(api.pdb_violations(), 0);
}

#[test]
fn graceful_and_immediate_deletion() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1"]);
    for p in ["slow", "fast", "opts"] {
        api.create(json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":p,"namespace":"default"},"spec":{"nodeName":"n1","containers":[]}}));
    }
    wait(&api, "pods running", |a| a.list("pods").iter().all(|p| p["status"]["phase"] == "Running"));
    let c = Client::new(&api);
    let r = c.delete("/api/v1/namespaces/default/pods/slow?gracePeriodSeconds=1");
    assert_eq!(r.status, 200);
    assert!(!r.json()["metadata"]["deletionTimestamp"].is_null());
    assert!(api.get("pods", "default", "slow").is_some(), "still there during its grace period");
    let r = c
        .call(
            "DELETE",
            "/api/v1/namespaces/default/pods/opts",
            Some("application/json"),
            Some(r#"{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0}"#),
        )
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(api.get("pods", "default", "opts").is_none(), "grace 0 deletes at once");
    assert_eq!(c.delete("/api/v1/namespaces/default/pods/fast?gracePeriodSeconds=0").status, 200);
    assert!(api.get("pods", "default", "fast").is_none());
    wait(&api, "slow gone after 1s", |a| a.get("pods", "default", "slow").is_none());
    assert_eq!(c.delete("/api/v1/namespaces/default/pods/slow").status, 404);
    assert_eq!(c.delete("/api/v1/nodes/n1").status, 200);
}

#[test]
fn deleting_past_a_budget_counts_as_a_violation() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1"]);
    api.create(deployment("web", 2));
    api.create(pdb("web", "web", json!({"minAvailable": 2})));
    wait(&api, "2 running web pods", |a| running(a, "web").len() == 2);
    let c = Client::new(&api);
    let pods = running(&api, "web");
    assert_eq!(evict(&c, &name(&pods[0])).status, 429);
    assert_eq!(api.pdb_violations(), 0);
    // a drainer that deletes instead of evicting is caught
    assert_eq!(c.delete(&format!("/api/v1/namespaces/default/pods/{}", name(&pods[0]))).status, 200);
    assert_eq!(api.pdb_violations(), 1);
}

#[test]
fn daemonsets_place_one_pod_per_node_even_cordoned() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1", "n2"]);
    let c = Client::new(&api);
    c.patch("/api/v1/nodes/n2", "application/strategic-merge-patch+json", &json!({"spec":{"unschedulable":true}}));
    api.create(json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"kured","namespace":"kube-system"},
        "spec":{"selector":{"matchLabels":{"app":"kured"}},"template":{"metadata":{"labels":{"app":"kured"}},"spec":{"containers":[]}}}}));
    wait(&api, "a kured pod per node", |a| {
        let mut on: Vec<String> =
            a.list("pods").iter().map(|p| p["spec"]["nodeName"].as_str().unwrap_or("").to_string()).collect();
        on.sort();
        on == ["n1", "n2"]
    });
    let p = &api.list("pods")[0];
    assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
    assert_eq!(p["metadata"]["ownerReferences"][0]["controller"], true);
    // a Deployment's pods avoid the cordoned node and NotReady nodes
    api.set_node_ready("n1", false);
    api.create(deployment("web", 1));
    assert!(!api.wait_until(std::time::Duration::from_millis(300), |a| running(a, "web").len() == 1));
    api.set_node_ready("n1", true);
    wait(&api, "web scheduled once n1 is Ready", |a| running(a, "web").len() == 1);
    assert_eq!(running(&api, "web")[0]["spec"]["nodeName"], "n1");
    wait(&api, "daemonset status", |a| {
        a.get("daemonsets", "kube-system", "kured").unwrap()["status"]["numberReady"] == 2
    });
}

#[test]
fn controllers_are_quiet_once_settled_and_can_be_off() {
    let api = web_behind_a_budget();
    api.create(json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"kured","namespace":"kube-system"},
        "spec":{"selector":{"matchLabels":{"app":"kured"}},"template":{"metadata":{"labels":{"app":"kured"}},"spec":{"containers":[]}}}}));
    wait(&api, "everything running", |a| {
        a.list("pods").iter().filter(|p| p["status"]["phase"] == "Running").count() == 4
            && a.get("poddisruptionbudgets", "default", "web").unwrap()["status"]["currentHealthy"] == 2
            && a.get("daemonsets", "kube-system", "kured").unwrap()["status"]["numberReady"] == 2
            && a.get("deployments", "default", "web").unwrap()["status"]["readyReplicas"] == 2
    });
    let rv = api.resource_version();
    assert!(
        !api.wait_until(std::time::Duration::from_millis(400), |a| a.resource_version() != rv),
        "an idle server writes nothing"
    );

    let still = FakeApiServer::start_with(fakeapi::Options { controllers: false, ..Default::default() });
    nodes(&still, &["n1"]);
    still.create(deployment("web", 2));
    still.create(
        json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"nodeName":"n1"}}),
    );
    wait(&still, "the bare pod running", |a| a.get("pods", "default", "p").unwrap()["status"]["phase"] == "Running");
    assert_eq!(still.list("pods").len(), 1, "no controller made pods");
}
