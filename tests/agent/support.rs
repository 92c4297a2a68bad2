//! The agent's test world: the fake API server with node-1, node-2 and the
//! kured DaemonSet, a `FakeHost` that is both the host and the clock (so "reboot
//! requested" and "waiting for the machine to go down" are one state), and
//! helpers reading the server's state.
//!
//! After a successful reboot `Agent::check` waits forever; the fake's `sleep`
//! unwinds with the [`RebootWait`] marker once a reboot was requested, and
//! [`run_check`] turns that into [`Ended::WaitingForReboot`]. Time only moves
//! when the agent sleeps: nothing here sleeps for real.
#![allow(dead_code)]

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use fakeapi::{FakeApiServer, Options};
use kured::agent::Agent;
use kured::clock::Clock;
use kured::config::{self, Config};
use kured::host::Host;
use kured::kube::Client;
use kured::lock::LockValue;
use kured::metrics::Metrics;
use kured::Error;
use serde_json::{json, Value};
use time::macros::datetime;
use time::OffsetDateTime;

use crate::cluster_support::{client, temp_dir};

pub const NODE: &str = "node-1";
pub const KEY: &str = "weave.works/kured-node-lock";
pub const DS_PATH: &str = "/apis/apps/v1/namespaces/kube-system/daemonsets/kured";
pub const NODE_PATH: &str = "/api/v1/nodes/node-1";
/// A Wednesday, midday UTC: inside the default window.
pub const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

/// What the next `reboot()` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebootResult {
    Ok,
    CommandFailed,
    Uncertain,
}

/// The panic payload that ends the endless "waiting for the reboot" loop.
pub struct RebootWait;

/// The panic payload when the agent slept more than [`SLEEP_LIMIT`] times: a
/// retry loop that does not end (a test would otherwise hang).
pub struct StillRetrying;

pub const SLEEP_LIMIT: usize = 200;

/// Host and clock in one: a settable sentinel, a recorded reboot, fake time.
pub struct FakeHost {
    required: Mutex<Result<bool, String>>,
    reboot_result: Mutex<RebootResult>,
    reboots: AtomicUsize,
    now: Mutex<OffsetDateTime>,
    sleeps: Mutex<Vec<Duration>>,
}

impl FakeHost {
    pub fn new(required: bool) -> FakeHost {
        FakeHost {
            required: Mutex::new(Ok(required)),
            reboot_result: Mutex::new(RebootResult::Ok),
            reboots: AtomicUsize::new(0),
            now: Mutex::new(NOW),
            sleeps: Mutex::new(Vec::new()),
        }
    }
    pub fn set_required(&self, r: Result<bool, &str>) {
        *self.required.lock().unwrap() = r.map_err(str::to_string);
    }
    pub fn set_reboot_result(&self, r: RebootResult) {
        *self.reboot_result.lock().unwrap() = r;
    }
    pub fn reboots(&self) -> usize {
        self.reboots.load(Ordering::SeqCst)
    }
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

impl Host for FakeHost {
    fn reboot_required(&self) -> kured::Result<bool> {
        self.required.lock().unwrap().clone().map_err(|e| Error::CommandFailed {
            command: "fake sentinel".into(),
            status: e,
            stdout: String::new(),
            stderr: String::new(),
        })
    }
    fn reboot(&self) -> kured::Result<()> {
        self.reboots.fetch_add(1, Ordering::SeqCst);
        let command = "fake reboot".to_string();
        match *self.reboot_result.lock().unwrap() {
            RebootResult::Ok => Ok(()),
            RebootResult::CommandFailed => Err(Error::CommandFailed {
                command,
                status: "exit status: 1".into(),
                stdout: String::new(),
                stderr: "no".into(),
            }),
            RebootResult::Uncertain => Err(Error::RebootUncertain { command, status: "timed out".into() }),
        }
    }
}

impl Clock for FakeHost {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        // Once the reboot was requested the only thing left is to wait for the
        // machine to go down: end the test's check there.
        if self.reboots() > 0 {
            panic::panic_any(RebootWait);
        }
        let mut sleeps = self.sleeps.lock().unwrap();
        if sleeps.len() >= SLEEP_LIMIT {
            drop(sleeps);
            panic::panic_any(StillRetrying);
        }
        sleeps.push(d);
        drop(sleeps);
        *self.now.lock().unwrap() += d;
    }
}

/// How a `check()` ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Returned,
    WaitingForReboot,
}

pub fn run_check(agent: &Agent<'_>) -> Ended {
    match catch_markers(|| agent.check()) {
        Ok(()) => Ended::Returned,
        Err(Marker::RebootWait) => Ended::WaitingForReboot,
        Err(Marker::StillRetrying) => panic!("check() kept sleeping: stuck in a loop"),
    }
}

/// `recover()`, or Err when it was still retrying after [`SLEEP_LIMIT`] sleeps.
pub fn run_recover(agent: &Agent<'_>) -> Result<(), ()> {
    match catch_markers(|| agent.recover()) {
        Ok(()) => Ok(()),
        Err(Marker::StillRetrying) => Err(()),
        Err(Marker::RebootWait) => panic!("recover() waited for a reboot"),
    }
}

pub enum Marker {
    RebootWait,
    StillRetrying,
}

fn catch_markers<T>(f: impl FnOnce() -> T) -> Result<T, Marker> {
    quiet_markers();
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Ok(v),
        Err(p) if p.is::<RebootWait>() => Err(Marker::RebootWait),
        Err(p) if p.is::<StillRetrying>() => Err(Marker::StillRetrying),
        Err(p) => panic::resume_unwind(p),
    }
}

/// The marker unwinds are expected: keep them out of the test output.
fn quiet_markers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<RebootWait>() && !info.payload().is::<StillRetrying>() {
                default(info)
            }
        }));
    });
}

/// The fake server (a world that holds still: no controllers), a client, and
/// the harmless host process and reboot command every Config must name.
pub struct World {
    pub api: FakeApiServer,
    pub client: Client,
    sleeper: Child,
    pub dir: PathBuf,
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
        let sleeper = Command::new("sleep").arg("60").spawn().expect("start a sleep child");
        World { api, client, sleeper, dir: temp_dir("agent") }
    }

    /// `--node-id=node-1 --period=1s --drain-grace-period=0` plus `extra`.
    pub fn config(&self, extra: &[&str]) -> Config {
        let marker = self.dir.join("marker");
        let mut args = vec![
            format!("--node-id={NODE}"),
            "--period=1s".into(),
            "--drain-grace-period=0".into(),
            format!("--host-pid={}", self.sleeper.id()),
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
        pods.iter().filter(|p| p["spec"]["nodeName"] == node).map(|p| p["metadata"]["name"].as_str().unwrap().into()).collect()
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
        taints.iter().map(|t| format!("{}:{}", t["key"].as_str().unwrap_or(""), t["effect"].as_str().unwrap_or(""))).collect()
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

    pub fn count(&self, method: &str, path_end: &str) -> usize {
        self.api.requests().iter().filter(|r| r.method == method && r.path.ends_with(path_end)).count()
    }

    pub fn marker_written(&self) -> bool {
        self.dir.join("marker").exists()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn agent<'a>(config: &'a Config, client: &'a Client, fake: &'a FakeHost) -> Agent<'a> {
    Agent {
        config,
        client,
        host: fake,
        clock: fake,
        notifier: None,
        blockers: kured::blockers::from_config(config),
        metrics: Metrics::new(),
    }
}
