//! The fake server over real HTTPS: authentication, Status errors, optimistic
//! concurrency, the three patch types, lists, keep-alive and chunked bodies.

mod common;

use common::{nodes, Client};
use fakeapi::FakeApiServer;
use serde_json::{json, Value};

#[test]
fn token_is_required_and_rotates() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1"]);
    let c = Client::new(&api);
    assert_eq!(c.get("/api/v1/nodes/n1").status, 200);
    let anon = Client::new(&api).with_token(None).get("/api/v1/nodes/n1");
    assert_eq!(anon.status, 401);
    assert_eq!(
        anon.json(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401})
    );
    assert_eq!(Client::new(&api).with_token(Some("wrong")).get("/api/v1/nodes/n1").status, 401);
    let mut s = c.connect().unwrap();
    s.send("GET", "/api/v1/nodes/n1", None, None, None, false).unwrap();
    assert_eq!(s.read_response().unwrap().status, 401, "no Authorization header at all");
    assert_eq!(Client::new(&api).with_token(None).get("/version").json()["gitVersion"], "v1.32.0");
    api.set_token("rotated");
    assert_eq!(c.get("/api/v1/nodes/n1").status, 401);
    assert_eq!(Client::new(&api).get("/api/v1/nodes/n1").status, 200);
}

#[test]
fn errors_are_status_objects_like_the_real_server() {
    let api = FakeApiServer::start();
    let c = Client::new(&api);
    let r = c.get("/api/v1/nodes/n9");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"nodes \"n9\" not found","reason":"NotFound","details":{"name":"n9","kind":"nodes"},"code":404})
    );
    let r = c.get("/apis/apps/v1/namespaces/kube-system/daemonsets/kured");
    assert_eq!(r.json()["message"], "daemonsets.apps \"kured\" not found");
    assert_eq!(r.json()["details"], json!({"name":"kured","group":"apps","kind":"daemonsets"}));
    assert_eq!(c.get("/api/v1/widgets").status, 404);
    let node = json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}});
    assert_eq!(c.post("/api/v1/nodes", &node).status, 201);
    let dup = c.post("/api/v1/nodes", &node);
    assert_eq!((dup.status, dup.json()["reason"].clone()), (409, json!("AlreadyExists")));
    assert_eq!(dup.json()["message"], "nodes \"n1\" already exists");
    let bad = c.call("POST", "/api/v1/nodes", Some("application/json"), Some("{not json")).unwrap();
    assert_eq!((bad.status, bad.json()["reason"].clone()), (400, json!("BadRequest")));
    let missing_ns = c.post("/api/v1/namespaces/nope/pods", &json!({"metadata":{"name":"p"}}));
    assert_eq!(missing_ns.json()["message"], "namespaces \"nope\" not found");
}

fn daemonset() -> Value {
    json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"kured","namespace":"kube-system"},
        "spec":{"selector":{"matchLabels":{"app":"kured"}},"template":{"metadata":{"labels":{"app":"kured"}},"spec":{"containers":[{"name":"kured","image":"kured"}]}}}})
}

#[test]
fn stale_put_is_a_conflict() {
    // No controllers: the DaemonSet controller's status write between our GET
    // and PUT would make the first PUT a conflict too (seen on a loaded machine).
    let api = FakeApiServer::start_with(fakeapi::Options { controllers: false, ..Default::default() });
    api.create(daemonset());
    let c = Client::new(&api);
    let path = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";
    let mut ds = c.get(path).json();
    let stale = ds.clone();
    ds["metadata"]["annotations"] = json!({"weave.works/kured-node-lock": "{\"nodeID\":\"n1\"}"});
    let r = c.put(path, &ds);
    assert_eq!(r.status, 200);
    assert_ne!(r.json()["metadata"]["resourceVersion"], stale["metadata"]["resourceVersion"]);
    let r = c.put(path, &stale);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "Conflict");
    assert_eq!(r.json()["message"], "Operation cannot be fulfilled on daemonsets.apps \"kured\": the object has been modified; please apply your changes to the latest version and try again");
    let mut unconditional = stale.clone();
    unconditional["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    assert_eq!(c.put(path, &unconditional).status, 200);
    assert!(api.get("daemonsets", "kube-system", "kured").unwrap()["metadata"]["annotations"].is_null());
}

#[test]
fn patches_of_each_type() {
    let api = FakeApiServer::start();
    api.create(json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"old":"1","keep":"1"}}}));
    let c = Client::new(&api);
    let p = "/api/v1/nodes/n1";
    let r = c.patch(p, "application/merge-patch+json", &json!({"metadata":{"labels":{"old":null,"new":"2"}}}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["metadata"]["labels"], json!({"keep":"1","new":"2"}));
    let r = c.patch(
        p,
        "application/strategic-merge-patch+json",
        &json!({"spec":{"unschedulable":true,"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]}}),
    );
    assert_eq!(r.status, 200);
    let n = api.get("nodes", "", "n1").unwrap();
    assert_eq!((n["spec"]["unschedulable"].clone(), n["spec"]["taints"][0]["key"].clone()), (json!(true), json!("k")));
    let r = c.patch(
        p,
        "application/json-patch+json",
        &json!([
        {"op":"test","path":"/metadata/labels/keep","value":"1"},
        {"op":"add","path":"/metadata/annotations","value":{}},
        {"op":"add","path":"/metadata/annotations/example.com~1lock","value":"x~y"},
        {"op":"remove","path":"/spec/taints/0"}]),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let n = api.get("nodes", "", "n1").unwrap();
    assert_eq!(n["metadata"]["annotations"]["example.com/lock"], "x~y");
    assert_eq!(n["spec"]["taints"], json!([]));
    // a failed test operation: 422 Invalid, nothing changes
    let rv = n["metadata"]["resourceVersion"].clone();
    let r = c.patch(
        p,
        "application/json-patch+json",
        &json!([{"op":"test","path":"/metadata/labels/keep","value":"2"},{"op":"remove","path":"/metadata/labels"}]),
    );
    assert_eq!((r.status, r.json()["reason"].clone()), (422, json!("Invalid")));
    assert_eq!(api.get("nodes", "", "n1").unwrap()["metadata"]["resourceVersion"], rv);
    // a patch that carries a stale resourceVersion conflicts; one without never does
    let r = c.patch(p, "application/merge-patch+json", &json!({"metadata":{"resourceVersion":"1","labels":{"x":"y"}}}));
    assert_eq!(r.status, 409);
    let r = c.patch(p, "application/merge-patch+json", &json!({"metadata":{"resourceVersion":rv,"labels":{"x":"y"}}}));
    assert_eq!(r.status, 200);
    assert_eq!(c.patch(p, "application/yaml", &json!({})).status, 415);
    assert_eq!(c.patch("/api/v1/nodes/n9", "application/merge-patch+json", &json!({})).status, 404);
    // status is a subresource: patching the object leaves it alone
    c.patch(p, "application/merge-patch+json", &json!({"status":{"conditions":[]}}));
    assert_eq!(api.get("nodes", "", "n1").unwrap()["status"]["conditions"][0]["type"], "Ready");
}

fn pod(ns: &str, name: &str, node: &str, labels: Value) -> Value {
    json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"namespace":ns,"labels":labels},
        "spec":{"nodeName":node,"containers":[{"name":"c","image":"i"}]},"status":{"phase":"Running"}})
}

fn names(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn selectors_filter_lists() {
    let api = FakeApiServer::start();
    api.create(pod("default", "a", "n1", json!({"app":"web","tier":"front"})));
    api.create(pod("default", "b", "n2", json!({"app":"web"})));
    api.create(pod("kube-system", "c", "n1", json!({"app":"kured"})));
    let c = Client::new(&api);
    #[track_caller]
    fn check(c: &Client, q: &str, want: &[&str]) {
        let r = c.get(&format!("/api/v1/pods?{q}"));
        assert_eq!(r.status, 200, "{q}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(names(&r.json()), want, "{q}");
    }
    check(&c, "", &["a", "b", "c"]);
    check(&c, "labelSelector=app%3Dweb", &["a", "b"]);
    check(&c, "labelSelector=app%3D%3Dweb,tier", &["a"]);
    check(&c, "labelSelector=app!%3Dweb", &["c"]);
    check(&c, "labelSelector=app+in+(kured,%20other)", &["c"]);
    check(&c, "labelSelector=app%20notin%20(kured)", &["a", "b"]);
    check(&c, "labelSelector=!tier", &["b", "c"]);
    check(&c, "fieldSelector=spec.nodeName%3Dn1", &["a", "c"]);
    check(&c, "fieldSelector=spec.nodeName!%3Dn1,metadata.namespace%3D%3Ddefault", &["b"]);
    check(&c, "fieldSelector=status.phase%3DRunning&labelSelector=app%3Dkured", &["c"]);
    let r = c.get("/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Db");
    assert_eq!(names(&r.json()), ["b"]);
    assert_eq!(r.json()["kind"], "PodList");
    assert!(r.json()["items"][0].get("kind").is_none(), "list items carry no kind, as on the real server");
    assert_eq!(c.get("/api/v1/pods?labelSelector=a%20in%20x").status, 400);
    assert_eq!(c.get("/api/v1/pods?fieldSelector=spec.bogus%3D1").status, 400);
}

#[test]
fn pagination_with_continue_tokens() {
    let api = FakeApiServer::start();
    common::nodes(&api, &["n1", "n2", "n3", "n4", "n5"]);
    let c = Client::new(&api);
    let (mut seen, mut cont, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let r = c.get(&format!("/api/v1/nodes?limit=2&continue={cont}")).json();
        seen.extend(names(&r));
        pages += 1;
        match r["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => cont = t.to_string(),
            _ => break,
        }
    }
    assert_eq!((seen, pages), (["n1", "n2", "n3", "n4", "n5"].map(String::from).to_vec(), 3));
    let first = c.get("/api/v1/nodes?limit=2").json();
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    api.inject(fakeapi::Fault::expired_continue("/api/v1/nodes", 1));
    let r = c.get(&format!("/api/v1/nodes?limit=2&continue={token}"));
    assert_eq!((r.status, r.json()["reason"].clone()), (410, json!("Expired")));
    assert_eq!(c.get(&format!("/api/v1/nodes?limit=2&continue={token}")).status, 200);
    assert_eq!(c.get("/api/v1/nodes?limit=2&continue=garbage").status, 400);
}

#[test]
fn keep_alive_and_chunked_request_bodies() {
    let api = FakeApiServer::start();
    let c = Client::new(&api);
    let mut s = c.connect().unwrap();
    let body = json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"chunky"}}).to_string();
    s.send("POST", "/api/v1/nodes", c.token.as_deref(), Some("application/json"), Some(body.as_bytes()), true).unwrap();
    assert_eq!(s.read_response().unwrap().status, 201);
    s.send("GET", "/api/v1/nodes/chunky", c.token.as_deref(), None, None, false).unwrap();
    let r = s.read_response().unwrap();
    assert_eq!((r.status, r.json()["metadata"]["name"].clone()), (200, json!("chunky")));
    let reqs = api.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!((reqs[0].method.as_str(), reqs[0].status, reqs[0].body.as_str()), ("POST", 201, body.as_str()));
}

#[test]
fn watch_streams_changes() {
    let api = FakeApiServer::start();
    common::nodes(&api, &["n1"]);
    let c = Client::new(&api);
    let rv = api.resource_version();
    common::nodes(&api, &["n2"]);
    api.delete("nodes", "", "n1");
    let r = c.get(&format!("/api/v1/nodes?watch=true&resourceVersion={rv}&timeoutSeconds=1"));
    assert_eq!(r.status, 200);
    let events: Vec<(String, String)> = String::from_utf8(r.body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|e| {
            (e["type"].as_str().unwrap().to_string(), e["object"]["metadata"]["name"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(events, [("ADDED".to_string(), "n2".to_string()), ("DELETED".to_string(), "n1".to_string())]);
    let r = c.get("/api/v1/nodes?watch=1&timeoutSeconds=1");
    let first: Value = serde_json::from_str(String::from_utf8(r.body).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!((first["type"].clone(), first["object"]["metadata"]["name"].clone()), (json!("ADDED"), json!("n2")));
}

#[test]
fn discovery_names_the_eviction_subresource() {
    let api = FakeApiServer::start();
    let c = Client::new(&api);
    let v1 = c.get("/api/v1").json();
    let ev = v1["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods/eviction").cloned().unwrap();
    assert_eq!(
        (ev["group"].clone(), ev["version"].clone(), ev["kind"].clone()),
        (json!("policy"), json!("v1"), json!("Eviction"))
    );
    let groups = c.get("/apis").json();
    assert!(groups["groups"].as_array().unwrap().iter().any(|g| g["name"] == "policy"));
    assert_eq!(c.get("/apis/apps/v1").json()["groupVersion"], "apps/v1");
}

#[test]
fn events_in_both_groups() {
    let api = FakeApiServer::start();
    let c = Client::new(&api);
    let ev = json!({"apiVersion":"v1","kind":"Event","metadata":{"generateName":"n1.","namespace":"default"},
        "involvedObject":{"kind":"Node","name":"n1"},"reason":"RebootScheduled","message":"Node n1 will reboot","type":"Normal"});
    let r = c.post("/api/v1/namespaces/default/events", &ev);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["metadata"]["name"].as_str().unwrap().starts_with("n1."));
    let r = c.post("/apis/events.k8s.io/v1/namespaces/default/events",
        &json!({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e2"},"regarding":{"kind":"Node","name":"n1"},"reason":"X","action":"Y","type":"Normal"}));
    assert_eq!(r.status, 201);
    assert_eq!(api.list("events")[0]["reason"], "RebootScheduled");
    assert_eq!(api.list("events.events.k8s.io").len(), 1);
    let found = c.get("/api/v1/events?fieldSelector=involvedObject.name%3Dn1,reason%3DRebootScheduled").json();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
}

#[test]
fn a_field_selected_watch_sees_objects_leave_and_enter_its_selection() {
    let api = FakeApiServer::start_with(fakeapi::Options { controllers: false, ..Default::default() });
    common::nodes(&api, &["n1", "n2"]);
    let pod = |name: &str, node: &str| {
        json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":name,"namespace":"default"},
               "spec":{"nodeName":node,"containers":[{"name":"c","image":"x"}]}})
    };
    api.create(pod("a", "n1"));
    api.create(pod("b", "n2"));
    let c = Client::new(&api);
    let rv = api.resource_version();
    let mut a = api.get("pods", "default", "a").unwrap();
    a["spec"]["nodeName"] = json!("n2");
    api.update(a).unwrap();
    let mut b = api.get("pods", "default", "b").unwrap();
    b["spec"]["nodeName"] = json!("n1");
    api.update(b).unwrap();
    let r =
        c.get(&format!("/api/v1/pods?watch=1&fieldSelector=spec.nodeName%3Dn1&resourceVersion={rv}&timeoutSeconds=1"));
    let events: Vec<(String, String)> = String::from_utf8(r.body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|e| {
            (e["type"].as_str().unwrap().to_string(), e["object"]["metadata"]["name"].as_str().unwrap().to_string())
        })
        .collect();
    // (then b may turn Running: a MODIFIED)
    assert_eq!(events[..2], [("DELETED".to_string(), "a".to_string()), ("ADDED".to_string(), "b".to_string())]);
}
