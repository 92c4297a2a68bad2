//! The REST client against real sockets: the fake API server (real HTTPS with a
//! test CA, real HTTP semantics, fault injection) and plain failure cases.

#[path = "support/kube.rs"]
mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use fakeapi::{Fault, Options};
use kured::error::{ApiErrorKind, Error};
use kured::kube::{Client, DaemonSet, ListParams, Patch};
use serde_json::{json, Value};
use support::*;

#[test]
fn a_server_that_is_down_is_a_transport_error() {
    let sa = TempDir::new("down");
    std::fs::write(sa.0.join("token"), "t").unwrap();
    std::fs::write(sa.0.join("ca.crt"), DUMMY_CA).unwrap();
    // Bind then drop: the port is closed, and nobody else is likely to take it this fast.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = Client::new(in_cluster("127.0.0.1", port, sa.path())).unwrap();
    match client.get_node("n1") {
        Err(Error::Transport { method, url, message }) => {
            assert_eq!(method, "GET");
            assert_eq!(url, format!("https://127.0.0.1:{port}/api/v1/nodes/n1"));
            assert!(!message.is_empty());
            eprintln!("{message}");
        }
        other => panic!("want a transport error, got {other:?}"),
    }
}

#[test]
fn a_ca_file_without_certificates_is_refused_at_start() {
    let sa = TempDir::new("noca");
    std::fs::write(sa.0.join("token"), "t").unwrap();
    std::fs::write(sa.0.join("ca.crt"), "not a certificate\n").unwrap();
    let err = Client::new(in_cluster("127.0.0.1", 443, sa.path())).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.to_string().contains(&format!("{}/ca.crt", sa.path())), "{err}");
}

#[test]
fn nodes_get_and_patch_with_each_content_type() {
    let c = cluster();
    c.api.create(node("n1"));
    assert_eq!(c.client.get_node("n1").unwrap().metadata.name, "n1");

    let n = c.client.patch_node("n1", &Patch::Strategic(json!({"spec": {"unschedulable": true}}))).unwrap();
    assert!(n.spec.unschedulable, "the patched node comes back");
    let n = c.client.patch_node("n1", &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}))).unwrap();
    assert_eq!(n.metadata.labels.get("a").map(String::as_str), Some("b"));
    let add = json!([{"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}}]);
    let n = c.client.patch_node("n1", &Patch::Json(add)).unwrap();
    assert_eq!(n.metadata.annotations.get("k").map(String::as_str), Some("v"));
    assert_eq!(c.api.get("nodes", "", "n1").unwrap()["spec"]["unschedulable"], true);

    let types: Vec<String> = requests_to(&c.api, "/api/v1/nodes/n1")
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.content_type)
        .collect();
    assert_eq!(
        types,
        ["application/strategic-merge-patch+json", "application/merge-patch+json", "application/json-patch+json"]
    );

    // A failed JSON-patch `test` is 422 Invalid; a missing node is 404 naming the path.
    let test = json!([{"op": "test", "path": "/metadata/labels/a", "value": "other"}]);
    api_error(c.client.patch_node("n1", &Patch::Json(test)), ApiErrorKind::Invalid);
    let e = api_error(c.client.get_node("gone"), ApiErrorKind::NotFound);
    match &e {
        Error::Api { method, path, code, reason, .. } => {
            assert_eq!(
                (*method, path.as_str(), *code, reason.as_str()),
                ("GET", "/api/v1/nodes/gone", 404, "NotFound")
            );
        }
        _ => unreachable!(),
    }
    assert!(e.is_not_found());
}

#[test]
fn pods_list_with_selectors_across_pages() {
    let c = cluster();
    for i in 0..7 {
        c.api.create(pod("default", &format!("a{i}"), "n1", "web"));
    }
    c.api.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}));
    c.api.create(pod("other", "b0", "n1", "db"));
    c.api.create(pod("default", "c0", "n2", "web"));

    let params = ListParams { field_selector: Some("spec.nodeName=n1".into()), limit: Some(2), ..Default::default() };
    let mut names: Vec<String> = c.client.list_pods(&params).unwrap().into_iter().map(|p| p.metadata.name).collect();
    names.sort();
    assert_eq!(names, ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "b0"]);
    let pages = requests_to(&c.api, "/api/v1/pods");
    assert_eq!(pages.len(), 4, "8 pods in pages of 2");
    assert_eq!(pages[0].query, "fieldSelector=spec.nodeName%3Dn1&limit=2");
    assert!(
        pages[1..].iter().all(|r| r.query.contains("&continue=")),
        "{:?}",
        pages.iter().map(|r| &r.query).collect::<Vec<_>>()
    );

    let params = ListParams {
        label_selector: Some("app in (web,db),app!=db".into()),
        field_selector: Some("spec.nodeName=n1".into()),
        limit: None,
    };
    assert_eq!(c.client.list_pods(&params).unwrap().len(), 7);
    assert_eq!(c.client.list_pods(&ListParams::default()).unwrap().len(), 9);

    let p = c.client.get_pod("other", "b0").unwrap();
    assert_eq!((p.metadata.namespace.as_str(), p.spec.node_name.as_str()), ("other", "n1"));
    api_error(c.client.get_pod("other", "nope"), ApiErrorKind::NotFound);
}

#[test]
fn an_expired_continue_token_restarts_the_list() {
    let c = cluster();
    for i in 0..5 {
        c.api.create(pod("default", &format!("p{i}"), "n1", "web"));
    }
    c.api.inject(Fault::expired_continue("/api/v1/pods", 1));
    let params = ListParams { limit: Some(2), ..Default::default() };
    assert_eq!(c.client.list_pods(&params).unwrap().len(), 5, "no pod lost or doubled by the restart");
    let pages = requests_to(&c.api, "/api/v1/pods");
    let statuses: Vec<u16> = pages.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 410, 200, 200, 200]);
    assert!(!pages[2].query.contains("continue"), "the restart starts from scratch");

    c.api.inject(Fault::expired_continue("/api/v1/pods", 100));
    api_error(c.client.list_pods(&params), ApiErrorKind::Gone);
}

#[test]
fn delete_and_evict_pods() {
    let c = cluster();
    for name in ["d1", "e1", "e2"] {
        c.api.create(pod("default", name, "n1", "web"));
    }
    c.client.delete_pod("default", "d1", Some(0)).unwrap();
    let del = requests_to(&c.api, "/api/v1/namespaces/default/pods/d1");
    assert_eq!((del[0].method.as_str(), del[0].query.as_str()), ("DELETE", "gracePeriodSeconds=0"));
    assert!(c.api.wait_until(Duration::from_secs(5), |api| api.get("pods", "default", "d1").is_none()));

    c.client.evict_pod("default", "e1", Some(5)).unwrap();
    c.client.evict_pod("default", "e2", None).unwrap();
    let body = |name: &str| -> Value {
        let r = &requests_to(&c.api, &format!("/api/v1/namespaces/default/pods/{name}/eviction"))[0];
        assert_eq!((r.method.as_str(), r.content_type.as_str()), ("POST", "application/json"));
        serde_json::from_str(&r.body).unwrap()
    };
    assert_eq!(
        body("e1"),
        json!({"kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "e1", "namespace": "default"},
               "deleteOptions": {"gracePeriodSeconds": 5}})
    );
    assert_eq!(
        body("e2"),
        json!({"kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "e2", "namespace": "default"}})
    );
    api_error(c.client.evict_pod("default", "missing", None), ApiErrorKind::NotFound);
    api_error(c.client.delete_pod("default", "missing", None), ApiErrorKind::NotFound);
}

#[test]
fn an_eviction_refused_by_a_budget_comes_back_at_once() {
    let c = cluster();
    c.api.create(pod("default", "only", "n1", "web"));
    c.api.create(json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }));
    assert!(c.api.wait_until(Duration::from_secs(5), |api| {
        api.get("pods", "default", "only").is_some_and(|p| p["status"]["phase"] == "Running")
    }));
    let e = api_error(c.client.evict_pod("default", "only", None), ApiErrorKind::TooManyRequests);
    assert!(e.is_too_many_requests());
    assert!(e.to_string().contains("The disruption budget web needs 1 healthy pods"), "{e}");

    // An injected 429 with Retry-After: returned, not waited on, with the wait filled in.
    c.api.create(pod("default", "free", "n1", "other"));
    c.api.inject(Fault::status("POST", "/api/v1/namespaces/default/pods/free/eviction", 429, 1));
    let started = Instant::now();
    match api_error(c.client.evict_pod("default", "free", None), ApiErrorKind::TooManyRequests) {
        Error::Api { retry_after, .. } => assert_eq!(retry_after, Some(Duration::from_secs(1))),
        _ => unreachable!(),
    }
    assert!(started.elapsed() < Duration::from_millis(900), "an eviction 429 is not retried by the client");
    assert_eq!(requests_to(&c.api, "/api/v1/namespaces/default/pods/free/eviction").len(), 1);

    // A 503 with Retry-After is the server, not a budget: waited out and resent.
    c.api.inject(Fault::status("POST", "/api/v1/namespaces/default/pods/free/eviction", 503, 1));
    c.client.evict_pod("default", "free", None).unwrap();
    let statuses: Vec<u16> =
        requests_to(&c.api, "/api/v1/namespaces/default/pods/free/eviction").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 503, 201]);
}

#[test]
fn retry_after_on_a_503_is_honoured() {
    let c = cluster();
    c.api.create(node("n1"));
    c.api.inject(Fault::status("GET", "/api/v1/nodes/n1", 503, 1));
    let started = Instant::now();
    assert_eq!(c.client.get_node("n1").unwrap().metadata.name, "n1");
    assert!(started.elapsed() >= Duration::from_millis(900), "waited the second the server asked for");
    let statuses: Vec<u16> = requests_to(&c.api, "/api/v1/nodes/n1").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 200]);

    // Without Retry-After, a read is resent twice, a moment apart, then it is an error.
    c.api.clear_requests();
    c.api.inject(Fault::status("GET", "/api/v1/nodes/n1", 500, 2));
    assert_eq!(c.client.get_node("n1").unwrap().metadata.name, "n1", "one flapping answer is not a failure");
    c.api.inject(Fault::status("GET", "/api/v1/nodes/n1", 500, 3));
    let e = api_error(c.client.get_node("n1"), ApiErrorKind::Server);
    assert!(e.to_string().starts_with("GET /api/v1/nodes/n1: 500 InternalError"), "{e}");
    let statuses: Vec<u16> = requests_to(&c.api, "/api/v1/nodes/n1").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200, 500, 500, 500]);

    // A merge PATCH sets values: resent the same way. A JSON patch and other writes are not.
    c.api.clear_requests();
    c.api.inject(Fault::status("PATCH", "/api/v1/nodes/n1", 500, 1));
    c.client.patch_node("n1", &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}))).unwrap();
    c.api.inject(Fault::status("PATCH", "/api/v1/nodes/n1", 500, 1));
    let ops = json!([{"op": "add", "path": "/metadata/labels/c", "value": "d"}]);
    api_error(c.client.patch_node("n1", &Patch::Json(ops)), ApiErrorKind::Server);
    let statuses: Vec<u16> = requests_to(&c.api, "/api/v1/nodes/n1").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 200, 500]);
}

#[test]
fn daemonset_replace_keeps_unmodelled_fields_and_conflicts_when_stale() {
    let c = cluster();
    c.api.create(daemonset());
    let original = c.client.get_daemonset("kube-system", "kured").unwrap();
    let mut ds = original.clone();
    ds.set_annotation("weave.works/kured-node-lock", Some(r#"{"nodeID":"n1","created":"2026-01-01T00:00:00Z"}"#));
    let stored: DaemonSet = c.client.replace_daemonset(&ds).unwrap();
    assert_ne!(stored.resource_version(), original.resource_version(), "the stored object replaces ours");
    assert!(stored.annotation("weave.works/kured-node-lock").unwrap().contains("\"n1\""));

    let server = c.api.get("daemonsets", "kube-system", "kured").unwrap();
    assert_eq!(server["spec"]["x-custom"], json!({"nested": [1, 2, 3]}));
    assert_eq!(
        server["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["--period=1h", "--reboot-days=mon"])
    );
    assert_eq!(server["metadata"]["annotations"]["keep"], "me");

    // Writing from the copy read before: someone (we) wrote in between.
    let e = api_error(c.client.replace_daemonset(&original), ApiErrorKind::Conflict);
    assert!(e.is_conflict());
    let put = requests_to(&c.api, "/apis/apps/v1/namespaces/kube-system/daemonsets/kured");
    assert_eq!(put.iter().filter(|r| r.method == "PUT").map(|r| r.status).collect::<Vec<_>>(), [200, 409]);

    // The release path: remove the annotation from the fresh copy.
    let mut fresh = c.client.get_daemonset("kube-system", "kured").unwrap();
    fresh.set_annotation("weave.works/kured-node-lock", None);
    let stored = c.client.replace_daemonset(&fresh).unwrap();
    assert_eq!(stored.annotation("weave.works/kured-node-lock"), None);
    assert_eq!(stored.raw["spec"]["x-custom"], json!({"nested": [1, 2, 3]}));
    api_error(c.client.get_daemonset("kube-system", "nope"), ApiErrorKind::NotFound);
}

#[test]
fn events_are_created() {
    let c = cluster();
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "n1.reboot", "namespace": "default"},
        "involvedObject": {"kind": "Node", "name": "n1"},
        "reason": "Reboot", "message": "Node will reboot now", "type": "Normal",
    });
    c.client.create_event("default", &event).unwrap();
    let events = c.api.list("events");
    assert!(events.iter().any(|e| e["reason"] == "Reboot" && e["metadata"]["namespace"] == "default"), "{events:?}");
}

#[test]
fn a_rotated_token_is_reread_after_a_401() {
    let c = cluster();
    c.api.create(node("n1"));
    c.client.get_node("n1").unwrap();

    // Rotate on the server and on disk, but keep the file's mtime: only the 401 can tell.
    let path = c.sa.0.join("token");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    c.api.set_token("rotated-token");
    std::fs::write(&path, "rotated-token\n").unwrap();
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(mtime).unwrap();
    c.api.clear_requests();
    c.client.get_node("n1").unwrap();
    let statuses: Vec<u16> = c.api.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 200]);

    // A changed mtime is noticed before the server has to refuse anything.
    c.api.set_token("third-token");
    std::fs::write(&path, "third-token").unwrap();
    let later = mtime + Duration::from_secs(5);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
    c.api.clear_requests();
    c.client.get_node("n1").unwrap();
    assert_eq!(c.api.requests().iter().map(|r| r.status).collect::<Vec<_>>(), [200]);

    // A token the server no longer takes: one re-read, one resend, then the 401.
    c.api.set_token("unknown-to-us");
    c.api.clear_requests();
    let e = api_error(c.client.get_node("n1"), ApiErrorKind::Unauthorized);
    assert_eq!(c.api.requests().len(), 2, "{e}");
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    let c = cluster_with(Options { use_other_ca: true, controllers: false, ..Options::default() });
    c.api.create(node("n1"));
    match c.client.get_node("n1") {
        Err(Error::Transport { message, .. }) => {
            assert!(message.starts_with("tls: "), "{message}");
            assert!(message.contains(&format!("{}/ca.crt", c.sa.path())), "{message}");
        }
        other => panic!("want a TLS transport error, got {other:?}"),
    }
    assert!(c.api.requests().is_empty(), "no request may reach a server we do not trust");
}

#[test]
fn dropped_and_reset_connections_are_errors_not_panics() {
    let c = cluster();
    c.api.create(node("n1"));
    let tries = 1 + kured::kube::http::GET_TRANSPORT_RETRIES;
    c.api.inject(Fault::drop_connection("GET", "/api/v1/nodes/n1", tries));
    assert!(matches!(c.client.get_node("n1"), Err(Error::Transport { .. })));
    c.api.inject(Fault::reset("GET", "/api/v1/nodes/n1", tries));
    assert!(matches!(c.client.get_node("n1"), Err(Error::Transport { .. })));
    assert_eq!(c.client.get_node("n1").unwrap().metadata.name, "n1", "the next request works");
}

#[test]
fn a_get_that_lost_its_connection_is_resent_but_a_write_is_not() {
    let c = cluster();
    c.api.create(node("n1"));
    c.api.inject(Fault::reset("GET", "/api/v1/nodes/n1", 1));
    c.api.inject(Fault::drop_connection("GET", "/api/v1/nodes/n1", 1));
    assert_eq!(c.client.get_node("n1").unwrap().metadata.name, "n1", "two lost answers, the third try reads it");
    let gets = c.api.requests().iter().filter(|r| r.method == "GET" && r.path == "/api/v1/nodes/n1").count();
    assert_eq!(gets, 3);
    // A write may have been applied before its answer was lost: the caller decides.
    c.api.inject(Fault::reset("PATCH", "/api/v1/nodes/n1", 1));
    let patch = Patch::Merge(json!({"metadata":{"labels":{"a":"b"}}}));
    assert!(matches!(c.client.patch_node("n1", &patch), Err(Error::Transport { .. })));
    assert_eq!(c.api.requests().iter().filter(|r| r.method == "PATCH").count(), 1, "not resent");
}

#[test]
fn an_ipv6_api_server_address_is_bracketed() {
    let c = cluster_with(Options { ipv6: true, controllers: false, ..Options::default() });
    assert!(c.client.config().base_url.starts_with("https://[::1]:"), "{}", c.client.config().base_url);
    c.api.create(node("n1"));
    assert_eq!(c.client.get_node("n1").unwrap().metadata.name, "n1");
}

#[test]
fn a_slow_server_times_out() {
    let c = cluster();
    c.api.create(node("n1"));
    let mut config = c.client.config().clone();
    config.read_timeout = Duration::from_millis(300);
    let client = Client::new(config).unwrap();
    c.api.inject(Fault::latency("GET", "/api/v1/nodes/n1", Duration::from_secs(2)));
    let started = Instant::now();
    match client.get_node("n1") {
        Err(Error::Transport { message, .. }) => assert!(message.contains("timeout"), "{message}"),
        other => panic!("want a timeout, got {other:?}"),
    }
    // before the server's answer, however loaded the machine
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "gave up after {took:?}, not before the server's answer at 2 s");
    // A timeout is not resent, however short --api-timeout is: it already took
    // its whole time. (The server logs the request when its 2 s are up; a
    // resend would follow within half a second.)
    assert!(c.api.wait_until(Duration::from_secs(10), |a| !a.requests().is_empty()));
    assert!(!c.api.wait_until(Duration::from_secs(1), |a| a.requests().len() > 1), "resent after a timeout");
    c.api.clear_faults();
}
