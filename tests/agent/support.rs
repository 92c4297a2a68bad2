//! The agent's test world: the fake API server with node-1, node-2 and the
//! kured DaemonSet, a client, an Agent built on a [`FakeHost`], and helpers
//! reading the server's state.
#![allow(dead_code, unused_imports)]

use fakeapi::{FakeApiServer, Options};
use kured::agent::Agent;
use kured::config::{self, Config};
use kured::kube::Client;
use kured::lock::LockValue;
use serde_json::{json, Value};

pub use crate::fake_host::{run_check, run_loop_until_reboot, run_recover, Ended, FakeHost, RebootResult};
use crate::host::HostStandIn;
use crate::kube::{client, TempDir, TestClient};

pub const NODE: &str = "node-1";
pub const KEY: &str = "weave.works/kured-node-lock";
pub const DS_PATH: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";
pub const NODE_PATH: &str = "/api/v1/nodes/node-1";

/// The fake server (a world that holds still: no controllers), a client, and
/// the harmless host process and reboot command every Config must name.
pub struct World {
    pub api: FakeApiServer,
    pub client: TestClient,
    host: HostStandIn,
    pub dir: TempDir,
}

impl World {
    pub fn new() -> World {
        let _ = env_logger::builder().is_test(true).try_init();
        let api = FakeApiServer::start_with(Options { controllers: false, ..Options::default() });
        for n in [NODE, "node-2"] {
            api.create(json!({"apiVersion":"v1","kind":"Node","metadata":{"name":n}}));
        }
        api.create(json!({"apiVersion":"apps/v1","kind":"DaemonSet",
            "metadata":{"name":"kured","namespace":"kube-system","annotations":{}},
            "spec":{"selector":{"matchLabels":{"name":"kured"}},
                    "template":{"metadata":{"labels":{"name":"kured"}},"spec":{"containers":[{"name":"kured","image":"kured"}]}}}}));
        let client = client(&api);
        World { api, client, host: HostStandIn::new(), dir: TempDir::new("agent") }
    }

    /// `--node-id=node-1 --period=1s --drain-grace-period=0` plus `extra`.
    pub fn config(&self, extra: &[&str]) -> Config {
        let marker = self.dir.join("marker");
        let mut args = vec![
            format!("--node-id={NODE}"),
            "--period=1s".into(),
            "--drain-grace-period=0".into(),
            self.host.flag(),
            format!("--reboot-command=/bin/sh -c 'echo x > {}'", marker.display()),
            format!("--reboot-sentinel={}", self.dir.join("reboot-required").display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        match config::parse(args, |_| None).unwrap_or_else(|e| panic!("config: {e}")) {
            config::Command::Run(c) => *c,
            other => panic!("not a run command: {other:?}"),
        }
    }

    /// A bare pod on `node`, Running, labelled `app=<name>`.
    pub fn pod(&self, name: &str, node: &str) {
        self.api.create(json!({"apiVersion":"v1","kind":"Pod",
            "metadata":{"name":name,"namespace":"default","annotations":{},"labels":{"app":name}},
            "spec":{"nodeName":node,"containers":[{"name":"c","image":"busybox"}]},"status":{"phase":"Running"}}));
    }

    pub fn pods_on(&self, node: &str) -> Vec<String> {
        let pods = self.api.list("pods");
        pods.iter()
            .filter(|p| p["spec"]["nodeName"] == node)
            .map(|p| p["metadata"]["name"].as_str().unwrap().into())
            .collect()
    }

    fn node(&self) -> Value {
        self.api.get("nodes", "", NODE).expect("node-1")
    }

    pub fn cordoned(&self) -> bool {
        self.node()["spec"]["unschedulable"].as_bool().unwrap_or(false)
    }

    pub fn set_cordoned(&self) {
        let mut n = self.node();
        n["spec"]["unschedulable"] = json!(true);
        self.api.update(n).expect("cordon node-1");
    }

    pub fn annotations(&self) -> Vec<String> {
        let n = self.node();
        n["metadata"]["annotations"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    pub fn label(&self, key: &str) -> Option<String> {
        self.node()["metadata"]["labels"].get(key).and_then(Value::as_str).map(str::to_string)
    }

    pub fn taints(&self) -> Vec<String> {
        let n = self.node();
        let taints = n["spec"]["taints"].as_array().cloned().unwrap_or_default();
        taints
            .iter()
            .map(|t| format!("{}:{}", t["key"].as_str().unwrap_or(""), t["effect"].as_str().unwrap_or("")))
            .collect()
    }

    pub fn lock_annotation(&self) -> Option<String> {
        let ds = self.api.get("daemonsets", "kube-system", "kured").expect("kured daemonset");
        ds["metadata"]["annotations"].get(KEY).and_then(Value::as_str).map(str::to_string)
    }

    pub fn set_lock_annotation(&self, value: &str) {
        let mut ds = self.api.get("daemonsets", "kube-system", "kured").expect("kured daemonset");
        ds["metadata"]["annotations"][KEY] = json!(value);
        self.api.update(ds).expect("annotate the daemonset");
    }

    /// Nodes holding the lock (none when the annotation is absent or empty).
    pub fn holders(&self) -> Vec<String> {
        let Some(a) = self.lock_annotation() else { return vec![] };
        let v = LockValue::from_annotation(&a).unwrap_or_else(|e| panic!("lock {a:?}: {e}"));
        v.entries().iter().map(|e| e.node_id.clone()).collect()
    }

    /// Reasons of the Events recorded on node-1, sorted (their generated names
    /// do not keep the order they were made in).
    pub fn event_reasons(&self) -> Vec<String> {
        let events = self.api.list("events");
        let mut reasons: Vec<String> = events
            .iter()
            .filter(|e| e["involvedObject"]["name"] == NODE)
            .map(|e| e["reason"].as_str().unwrap_or("").to_string())
            .collect();
        reasons.sort();
        reasons
    }

    pub fn count(&self, method: &str, path_end: &str) -> usize {
        self.api.requests().iter().filter(|r| r.method == method && r.path.ends_with(path_end)).count()
    }

    /// Not cordoned, and nobody holds the lock: the node is back in service.
    #[track_caller]
    pub fn assert_put_back(&self) {
        assert_eq!((self.cordoned(), self.holders()), (false, Vec::<String>::new()), "put back");
    }

    /// The lock released, the node left cordoned (the operator's cordon).
    #[track_caller]
    pub fn assert_released_still_cordoned(&self) {
        assert_eq!((self.cordoned(), self.holders()), (true, Vec::<String>::new()), "released, still cordoned");
    }

    /// Cordoned, and node-1 holds the lock: the reboot is under way.
    #[track_caller]
    pub fn assert_held(&self) {
        assert_eq!((self.cordoned(), self.holders()), (true, vec![NODE.to_string()]), "held for the reboot");
    }

    pub fn marker_written(&self) -> bool {
        self.dir.join("marker").exists()
    }
}

pub fn agent<'a>(config: &'a Config, client: &'a Client, fake: &'a FakeHost) -> Agent<'a> {
    Agent::new(config, client, fake, fake)
}
