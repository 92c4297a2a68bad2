//! A small Kubernetes API server for tests: real HTTPS, bearer tokens,
//! resourceVersion conflicts, Status objects, patches, selectors, evictions that
//! honour PodDisruptionBudgets, and fault injection.
//!
//! Contract used by the other test suites (keep these signatures):
//!
//! ```ignore
//! let api = fakeapi::FakeApiServer::start();          // https://127.0.0.1:<port>, stops on drop
//! api.url();                                          // "https://127.0.0.1:43121"
//! api.write_service_account(dir, "kube-system")?;     // token, ca.crt, namespace (for KURED_SERVICE_ACCOUNT_DIR)
//! api.write_kubeconfig(path)?;                        // for the real kubectl
//! api.set_token("new");                               // rotate the accepted token
//! api.create(json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}));
//! api.get("nodes", "", "n1") -> Option<Value>;        // resource plural, namespace ("" if cluster-scoped), name
//! api.list("pods") -> Vec<Value>;
//! api.inject(Fault::status("PUT", "/apis/apps/v1/namespaces/kube-system/daemonsets/kured", 409, 1));
//! api.requests() -> Vec<RequestRecord>;               // what was asked, in order
//! ```
//!
//! More of the surface:
//!
//! ```ignore
//! FakeApiServer::start_with(Options { use_other_ca: true, ..Options::default() }); // cert from an unrelated CA
//! api.ca_pem();                                       // the test CA clients should trust
//! api.in_cluster_env();                               // [(KUBERNETES_SERVICE_HOST, ..), (KUBERNETES_SERVICE_PORT, ..)]
//! api.update(obj) -> Result<Value, Value>;            // whole object incl. status; Err = Status (409 on stale rv)
//! api.delete("pods", "default", "p") -> Option<Value>;// at once, no grace
//! api.set_node_ready("n1", false);
//! api.with_store(|s| ...);                            // raw access to the store
//! api.pdb_violations() -> u64;                        // budgets a deletion took below their minimum
//! api.wait_until(Duration::from_secs(5), |api| ...) -> bool; // poll a condition
//! Fault::status_every / latency / late_answer / drop_connection / reset / expired_continue; api.clear_faults();
//! ```
//!
//! Behaviour: pods created by a ReplicaSet/DaemonSet (or with `spec.nodeName` and
//! no phase) turn Running after `Options::pod_start_delay`; a DELETE or eviction of
//! a scheduled pod sets `deletionTimestamp` and removes it after its grace period.
//! A DaemonSet gets one pod per node (so a `kured` DaemonSet has pods), a Deployment
//! one ReplicaSet and its pods; `Options::controllers: false` turns that off.
//! Controllers write status only when it changes, so an idle server's
//! resourceVersion holds still.

mod controller;
mod discovery;
mod eviction;
pub mod fault;
mod files;
mod handle;
mod handlers;
mod http;
pub mod kubectl;
mod list;
mod ops;
mod patch;
mod pdb;
pub mod resources;
mod route;
pub mod selector;
mod server;
mod state;
pub mod status;
pub mod store;
mod table;
pub mod tls;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use fault::{Fault, FaultAction};
pub use files::base64;
pub use handle::Handle;
pub use state::RequestRecord;
use state::Shared;
pub use store::Store;

/// How to start the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// serve a certificate from an unrelated CA (clients trusting `ca_pem()` must refuse it)
    pub use_other_ca: bool,
    /// the bearer token accepted at first
    pub token: String,
    /// 0 = any free port
    pub port: u16,
    /// how long a scheduled pod stays Pending before it is Running
    pub pod_start_delay: Duration,
    /// how often the controllers run
    pub tick: Duration,
    /// listen on [::1] instead of 127.0.0.1 (the certificate covers both)
    pub ipv6: bool,
    /// run Deployment/ReplicaSet/DaemonSet controllers, the scheduler and PDB status;
    /// false keeps only pod start-up and graceful deletion (a world that holds still)
    pub controllers: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            use_other_ca: false,
            token: "fake-token".to_string(),
            port: 0,
            pod_start_delay: Duration::from_millis(200),
            tick: Duration::from_millis(50),
            ipv6: false,
            controllers: true,
        }
    }
}

pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    ticker: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

fn resource(plural: &str) -> &'static resources::Resource {
    resources::by_name(plural).unwrap_or_else(|| panic!("fake apiserver: unknown resource {plural:?}"))
}

impl FakeApiServer {
    /// Start on 127.0.0.1 with the default options. Panics if it cannot (test support).
    pub fn start() -> FakeApiServer {
        FakeApiServer::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> FakeApiServer {
        FakeApiServer::try_start(opts).unwrap_or_else(|e| panic!("fake apiserver: cannot start: {e}"))
    }

    pub fn try_start(opts: Options) -> io::Result<FakeApiServer> {
        let fixture = if opts.use_other_ca { &tls::OTHER_CA } else { &tls::TEST_CA };
        let cfg = tls::server_config(fixture).map_err(io::Error::other)?;
        let host = if opts.ipv6 { "::1" } else { "127.0.0.1" };
        let listener = TcpListener::bind((host, opts.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(&opts.token, opts.pod_start_delay, opts.controllers));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (shared, conns) = (shared.clone(), conns.clone());
            thread::Builder::new()
                .name("fakeapi-accept".into())
                .spawn(move || server::accept_loop(listener, shared, cfg, conns))?
        };
        let ticker = {
            let shared = shared.clone();
            let tick = opts.tick.max(Duration::from_millis(5));
            thread::Builder::new().name("fakeapi-controllers".into()).spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    {
                        let mut st = shared.lock();
                        let before = st.store.resource_version();
                        controller::tick(&mut st, Instant::now());
                        shared.notify_since(&st, before);
                    }
                    thread::sleep(tick);
                }
            })?
        };
        Ok(FakeApiServer { shared, addr, accept: Some(accept), ticker: Some(ticker), conns })
    }

    /// `https://127.0.0.1:PORT` (or `https://[::1]:PORT`)
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` as a pod would see them.
    pub fn in_cluster_env(&self) -> [(&'static str, String); 2] {
        [
            ("KUBERNETES_SERVICE_HOST", self.addr.ip().to_string()),
            ("KUBERNETES_SERVICE_PORT", self.addr.port().to_string()),
        ]
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// PEM of the CA clients should trust (the test CA, whatever `use_other_ca` says).
    pub fn ca_pem(&self) -> &'static str {
        tls::TEST_CA.ca_pem
    }

    pub fn token(&self) -> String {
        self.shared.lock().token.clone()
    }

    /// Accept only `token` from now on.
    pub fn set_token(&self, token: &str) {
        self.shared.lock().token = token.to_string();
    }

    /// `token`, `ca.crt` and `namespace` in `dir`, as in a pod.
    pub fn write_service_account(&self, dir: impl AsRef<Path>, namespace: &str) -> io::Result<()> {
        files::write_service_account(dir.as_ref(), namespace, &self.token(), self.ca_pem())
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> io::Result<()> {
        std::fs::write(path, files::kubeconfig(&self.url(), &self.token(), self.ca_pem()))
    }

    /// Create from a whole object (apiVersion + kind pick the resource; namespaced
    /// objects default to "default"). Err is the `Status` the API would answer.
    pub fn try_create(&self, obj: Value) -> Result<Value, Value> {
        self.handle().try_create(obj)
    }

    /// Like `try_create`, panicking on error (test setup).
    pub fn create(&self, obj: Value) -> Value {
        self.try_create(obj).unwrap_or_else(|e| panic!("fake apiserver: create failed: {e}"))
    }

    pub fn get(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.handle().get(plural, namespace, name)
    }

    /// Every object of a resource, all namespaces, in key order.
    pub fn list(&self, plural: &str) -> Vec<Value> {
        self.shared.lock().store.list_owned(resource(plural), None)
    }

    /// Replace a whole object, status included; a stale `resourceVersion` is Err(409 Status).
    pub fn update(&self, obj: Value) -> Result<Value, Value> {
        self.handle().update(obj)
    }

    /// Remove at once (no grace period, no budget checks).
    pub fn delete(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.handle().delete(plural, namespace, name)
    }

    /// The server's state for a callback or another thread (it does not keep
    /// the server running).
    pub fn handle(&self) -> Handle {
        Handle { shared: self.shared.clone() }
    }

    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let out = f(&mut self.shared.lock().store);
        self.shared.notify_all();
        out
    }

    /// Set the node's Ready condition (a test naming a node that is not there is wrong).
    pub fn set_node_ready(&self, name: &str, ready: bool) {
        assert!(self.set_node_ready_if_present(name, ready), "fake apiserver: no node {name:?}");
    }

    /// Set the node's Ready condition if the Node exists (a simulated kubelet
    /// whose Node was deleted has no status to write). False = no such node.
    pub fn set_node_ready_if_present(&self, name: &str, ready: bool) -> bool {
        let mut st = self.shared.lock();
        let res = resource("nodes");
        let Ok(mut node) = st.store.get(res, "", name).cloned() else { return false };
        let mut conds: Vec<Value> = node["status"]["conditions"].as_array().cloned().unwrap_or_default();
        conds.retain(|c| c["type"] != "Ready");
        conds.push(ops::ready_condition(ready));
        node["status"]["conditions"] = json!(conds);
        let _ = st.store.update(res, "", name, node, false);
        drop(st);
        self.shared.notify_all();
        true
    }

    pub fn inject(&self, f: Fault) {
        self.handle().inject(f);
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    /// How many requests were logged (cheap: nothing is copied).
    pub fn request_count(&self) -> usize {
        self.shared.lock().requests.len()
    }

    /// The requests logged after the first `n` (a watcher of a long log copies only what is new).
    pub fn requests_since(&self, n: usize) -> Vec<RequestRecord> {
        self.shared.lock().requests.get(n..).map(<[RequestRecord]>::to_vec).unwrap_or_default()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// How many times a deletion (eviction or DELETE) took a PodDisruptionBudget
    /// from satisfied to below its minimum.
    pub fn pdb_violations(&self) -> u64 {
        self.shared.lock().pdb_violations
    }

    pub fn resource_version(&self) -> u64 {
        self.shared.lock().store.resource_version()
    }

    /// Poll `cond` every 20 ms until it holds (true) or `timeout` passes (false).
    pub fn wait_until(&self, timeout: Duration, cond: impl Fn(&FakeApiServer) -> bool) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.notify_all();
        // wake the blocking accept() so it sees the flag
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for h in [self.accept.take(), self.ticker.take()].into_iter().flatten() {
            let _ = h.join();
        }
        let conns: Vec<_> = self.conns.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect();
        for h in conns {
            let _ = h.join();
        }
    }
}
