//! The fake API server with a client for it: the one way the tests build a
//! client, through the in-cluster code path a pod takes (service-account token
//! and the server's test CA, written to a temp dir that goes with the client),
//! the clusters the tests start from, fixtures, and a clock the test controls.
//! Included with `#[path = "support/kube.rs"] mod kube;`.

#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Mutex;
use std::time::Duration;

use fakeapi::{FakeApiServer, Options, RequestRecord};
use kured::clock::Clock;
use kured::error::{ApiErrorKind, Error};
use kured::kube::{Client, KubeConfig};
use serde_json::{json, Value};
use time::OffsetDateTime;

#[path = "tempdir.rs"]
mod tempdir;
pub use tempdir::TempDir;

/// The in-cluster configuration for `host:port` and service-account dir `sa`,
/// through the same code path as in a pod.
pub fn in_cluster(host: &str, port: u16, sa: &str) -> KubeConfig {
    let vars = [
        ("KUBERNETES_SERVICE_HOST", host.to_string()),
        ("KUBERNETES_SERVICE_PORT", port.to_string()),
        ("KURED_SERVICE_ACCOUNT_DIR", sa.to_string()),
    ];
    KubeConfig::in_cluster(&|k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap()
}

// Syntactically valid PEM: enough for the client to start; no handshake ever happens.
pub const DUMMY_CA: &str = "-----BEGIN CERTIFICATE-----\nAAECAw==\n-----END CERTIFICATE-----\n";

/// A client of `api` and its service-account directory (the client re-reads
/// the token while it lives, so the two go together). Derefs to the client.
pub struct TestClient {
    pub client: Client,
    pub sa: TempDir,
}

impl Deref for TestClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// A client for `api`, configured the in-cluster way.
pub fn client(api: &FakeApiServer) -> TestClient {
    let sa = TempDir::new("sa");
    api.write_service_account(&sa.0, "kube-system").unwrap();
    let [(_, host), (_, port)] = api.in_cluster_env();
    let client = Client::new(in_cluster(&host, port.parse().unwrap(), sa.path())).unwrap();
    TestClient { client, sa }
}

/// A fake API server and a client configured for it the in-cluster way.
pub struct Cluster {
    pub api: FakeApiServer,
    pub sa: TempDir,
    pub client: Client,
}

pub fn cluster_with(opts: Options) -> Cluster {
    let api = FakeApiServer::start_with(opts);
    let TestClient { client, sa } = client(&api);
    Cluster { api, sa, client }
}

/// No controllers: the world holds still unless the test changes it.
pub fn cluster() -> Cluster {
    cluster_with(Options { controllers: false, ..Options::default() })
}

/// A server with its controllers and two Ready nodes, n1 and n2.
pub fn two_nodes() -> FakeApiServer {
    let api = FakeApiServer::start();
    for n in ["n1", "n2"] {
        api.create(node(n));
    }
    api
}

pub fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
}

pub fn pod(ns: &str, name: &str, node: &str, app: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    })
}

pub fn daemonset() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kured", "namespace": "kube-system", "annotations": {"keep": "me"}},
        "spec": {
            "selector": {"matchLabels": {"name": "kured"}},
            "x-custom": {"nested": [1, 2, 3]},
            "template": {
                "metadata": {"labels": {"name": "kured"}},
                "spec": {"containers": [{"name": "kured", "image": "kured:1", "args": ["--period=1h", "--reboot-days=mon"]}]},
            },
        },
    })
}

pub fn requests_to(api: &FakeApiServer, path: &str) -> Vec<RequestRecord> {
    api.requests().into_iter().filter(|r| r.path == path).collect()
}

#[track_caller]
pub fn api_error(result: Result<impl std::fmt::Debug, Error>, kind: ApiErrorKind) -> Error {
    match result {
        Err(e) if e.api_kind() == Some(kind) => e,
        other => panic!("want an API error {kind:?}, got {other:?}"),
    }
}

/// Time that moves only when told (or when slept through).
pub struct FakeClock(Mutex<OffsetDateTime>);

impl FakeClock {
    pub fn at(t: OffsetDateTime) -> FakeClock {
        FakeClock(Mutex::new(t))
    }
    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        self.advance(d)
    }
}
