//! Fault injection, the request log, and the "other CA" option.

mod common;

use std::time::{Duration, Instant};

use common::{nodes, Client};
use fakeapi::{FakeApiServer, Fault, Options};
use serde_json::json;

#[test]
fn status_faults_by_count_and_rate() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1"]);
    let c = Client::new(&api);
    api.inject(Fault::status("GET", "/api/v1/nodes/n1", 500, 2));
    let codes: Vec<u16> = (0..3).map(|_| c.get("/api/v1/nodes/n1").status).collect();
    assert_eq!(codes, [500, 500, 200]);
    let r = {
        api.inject(Fault::status("PUT", "/api/v1/nodes", 409, 1));
        c.put("/api/v1/nodes/n1", &api.get("nodes", "", "n1").unwrap())
    };
    assert_eq!(
        (r.status, r.json()["reason"].clone(), r.json()["kind"].clone()),
        (409, json!("Conflict"), json!("Status"))
    );
    api.inject(Fault::status_every("GET", "/api/v1/nodes", 429, 3));
    let codes: Vec<u16> = (0..6).map(|_| c.get("/api/v1/nodes").status).collect();
    assert_eq!(codes, [200, 200, 429, 200, 200, 429]);
    api.clear_faults();
    assert_eq!(c.get("/api/v1/nodes").status, 200);
    let statuses: Vec<u16> = api.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200, 409, 200, 200, 429, 200, 200, 429, 200]);
}

#[test]
fn dropped_and_reset_connections_and_latency() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1"]);
    let c = Client::new(&api);
    api.inject(Fault::drop_connection("*", "/api/v1/nodes/n1", 1));
    assert!(c.call("GET", "/api/v1/nodes/n1", None, None).is_err(), "no answer on a dropped connection");
    api.inject(Fault::reset("", "/api/v1/nodes/n1", 1));
    assert!(c.call("GET", "/api/v1/nodes/n1", None, None).is_err(), "no answer on a reset connection");
    assert_eq!(c.get("/api/v1/nodes/n1").status, 200);
    api.inject(Fault::latency("GET", "/api/v1/nodes/n1", Duration::from_millis(300)).times(1));
    let t = Instant::now();
    assert_eq!(c.get("/api/v1/nodes/n1").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let recs = api.requests();
    assert_eq!(recs.iter().map(|r| r.status).collect::<Vec<_>>(), [0, 0, 200, 200]);
    assert_eq!((recs[0].method.as_str(), recs[0].path.as_str()), ("GET", "/api/v1/nodes/n1"));
}

/// A slow server as a client that gave up sees it: the write is applied (others
/// see it) before the late answer goes out.
#[test]
fn a_late_answer_comes_after_the_write_is_applied() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1"]);
    let c = Client::new(&api);
    api.inject(Fault::late_answer("PATCH", "/api/v1/nodes/n1", Duration::from_secs(2)).times(1));
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            let r = c.patch(
                "/api/v1/nodes/n1",
                "application/merge-patch+json",
                &json!({"metadata": {"labels": {"x": "1"}}}),
            );
            tx.send((r.status, started.elapsed())).unwrap();
        });
        common::wait(&api, "the patch applied", |api| {
            api.get("nodes", "", "n1").is_some_and(|n| n["metadata"]["labels"]["x"] == "1")
        });
        assert!(rx.try_recv().is_err(), "applied before it was answered");
        let (status, took) = rx.recv_timeout(Duration::from_secs(10)).expect("the late answer");
        assert_eq!(status, 200);
        assert!(took >= Duration::from_secs(2), "{took:?}");
    });
    assert_eq!(api.requests().iter().map(|r| r.status).collect::<Vec<_>>(), [200]);
}

#[test]
fn a_server_from_another_ca_is_refused() {
    let api = FakeApiServer::start_with(Options { use_other_ca: true, ..Options::default() });
    let err = Client::new(&api).connect().err().expect("handshake must fail");
    let msg = err.to_string();
    assert!(msg.contains("UnknownIssuer") || msg.contains("invalid peer certificate"), "{msg}");
    // and the same client trusting that CA would be fine: the server itself works
    let ok = FakeApiServer::start();
    assert!(Client::new(&ok).connect().is_ok());
}

#[test]
fn ipv6_loopback() {
    let api = FakeApiServer::start_with(Options { ipv6: true, ..Options::default() });
    assert!(api.url().starts_with("https://[::1]:"), "{}", api.url());
    assert_eq!(api.in_cluster_env()[0], ("KUBERNETES_SERVICE_HOST", "::1".to_string()));
    nodes(&api, &["n1"]);
    assert_eq!(Client::new(&api).get("/api/v1/nodes/n1").status, 200);
}

#[test]
fn dry_run_changes_nothing() {
    let api = FakeApiServer::start();
    nodes(&api, &["n1"]);
    let c = Client::new(&api);
    let r =
        c.patch("/api/v1/nodes/n1?dryRun=All", "application/merge-patch+json", &json!({"spec":{"unschedulable":true}}));
    assert_eq!((r.status, r.json()["spec"]["unschedulable"].clone()), (200, json!(true)));
    assert!(api.get("nodes", "", "n1").unwrap()["spec"]["unschedulable"].is_null());
}

#[test]
fn files_for_clients() {
    let api = FakeApiServer::start();
    let dir = std::env::temp_dir().join(format!("fakeapi-files-{}", std::process::id()));
    api.write_service_account(dir.join("sa"), "kube-system").unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("sa/namespace")).unwrap(), "kube-system");
    assert_eq!(std::fs::read_to_string(dir.join("sa/token")).unwrap(), api.token());
    assert_eq!(std::fs::read_to_string(dir.join("sa/ca.crt")).unwrap(), api.ca_pem());
    api.write_kubeconfig(dir.join("kubeconfig")).unwrap();
    let k: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("kubeconfig")).unwrap()).unwrap();
    assert_eq!(k["clusters"][0]["cluster"]["server"], api.url());
    assert_eq!(k["clusters"][0]["cluster"]["certificate-authority-data"], fakeapi::base64(api.ca_pem().as_bytes()));
    std::fs::remove_dir_all(dir).unwrap();
}
