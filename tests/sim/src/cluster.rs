//! The simulated cluster: the fake API server in-process, one [`SimNode`] per
//! node running a real kured, and a poll loop that plays the machines (a reboot
//! marker means: kill kured, NotReady, wait the downtime, Ready, restart kured)
//! and feeds the [`Observer`] the server's state.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::backend::Api;

use crate::events::{Event, Timed};
use crate::node::{free_port, Launch, SimNode};
use crate::objects;
use crate::observer::{Observer, Snapshot};
use crate::spec::ClusterSpec;

mod nodeobj;
mod outcome;
mod wait;

/// How often the harness looks at the machines and the server.
pub const POLL_EVERY: Duration = Duration::from_millis(50);

pub struct Cluster {
    // Field order is drop order: the processes go before the server they talk to.
    nodes: Vec<SimNode>,
    api: Api,
    spec: ClusterSpec,
    dir: PathBuf,
    launch: Launch,
    observer: Observer,
    /// The kured DaemonSet as created: lock writes must keep what they do not model.
    kured_ds: Value,
    requests_seen: usize,
    started: Instant,
    timeline: Vec<Timed>,
    /// The largest VmHWM of a kured seen so far (sampled before each "reboot").
    peak_kib: u64,
    /// The last wait that gave up, in words (for the report).
    gave_up: Option<String>,
}

impl Cluster {
    /// Start the server, create the objects, then one kured per node.
    pub fn start(spec: ClusterSpec) -> Result<Cluster, String> {
        Cluster::start_then(spec, Vec::new)
    }

    /// As [`Cluster::start`], with flags for every kured that `late_args`
    /// makes once the server is up and the objects exist, just before the
    /// kureds start (after `extra_kured_args`, so they win): a maintenance
    /// window that must open a set time after kured starts, however long a
    /// real control plane took to come up.
    pub fn start_then(spec: ClusterSpec, late_args: impl FnOnce() -> Vec<String>) -> Result<Cluster, String> {
        let dir = work_dir().map_err(|e| format!("create work directory: {e}"))?;
        // on failure the nodes built so far are gone (dropped) by now: the directory can go
        Cluster::start_in(dir.clone(), spec, late_args).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&dir);
        })
    }

    fn start_in(
        dir: PathBuf,
        mut spec: ClusterSpec,
        late_args: impl FnOnce() -> Vec<String>,
    ) -> Result<Cluster, String> {
        let api = Api::start(spec.control_plane, &dir)?;
        api.write_kubeconfig(&dir.join("kubeconfig")).map_err(|e| format!("write kubeconfig: {e}"))?;
        if let Some(command) = &spec.install_command {
            install(&api, command, &dir)?;
        }
        let sa = dir.join("serviceaccount");
        std::fs::create_dir_all(&sa).map_err(|e| format!("create {}: {e}", sa.display()))?;
        let apply_rbac = spec.install_command.is_none();
        api.write_service_account(&sa, "kube-system", apply_rbac).map_err(|e| format!("write service account: {e}"))?;
        let api_port = port_of(&api.url())?;

        let names = spec.node_names();
        for n in &names {
            let mut node = objects::node(n, spec.precordoned.contains(n));
            if spec.control_plane_nodes.contains(n) {
                node["metadata"]["labels"][objects::CONTROL_PLANE_ROLE] = Value::String(String::new());
            }
            create(&api, node)?;
        }
        let lock = spec.lock.as_deref().map(|v| (spec.lock_annotation.as_str(), v));
        if spec.install_command.is_none() {
            create(&api, objects::kured_daemonset("kube-system", "kured", lock))?;
        }
        let mut extra = if spec.workloads { objects::workloads(&names) } else { Vec::new() };
        extra.extend(spec.extra_objects.iter().cloned());
        for obj in extra {
            create(&api, obj)?;
        }

        spec.extra_kured_args.extend(late_args());
        let launch = Launch {
            kured_bin: spec.kured_bin.clone(),
            runner: spec.kured_runner.clone(),
            api_port,
            service_account_dir: sa,
            common_args: spec.common_args(),
        };
        let mut nodes = Vec::new();
        for n in &names {
            let port = free_port().map_err(|e| format!("find a free port: {e}"))?;
            let mut node =
                SimNode::new(n, &dir, port, !spec.no_reboot.contains(n)).map_err(|e| format!("set up {n}: {e}"))?;
            node.env = spec.kured_env.get(n).cloned().unwrap_or_default();
            nodes.push(node);
        }
        let observer = Observer::new(spec.precordoned.iter().cloned());
        let kured_ds = api.get("daemonsets", "kube-system", "kured").ok_or("the kured DaemonSet vanished")?;
        let mut c = Cluster {
            nodes,
            api,
            spec,
            dir,
            launch,
            observer,
            kured_ds,
            requests_seen: 0,
            started: Instant::now(),
            timeline: Vec::new(),
            peak_kib: 0,
            gave_up: None,
        };
        c.poll(); // the starting state, before any kured acts
        for node in &mut c.nodes {
            node.start_kured(&c.launch).map_err(|e| format!("{}: {e}", node.name))?;
        }
        Ok(c)
    }

    pub fn api(&self) -> &Api {
        &self.api
    }
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
    /// Keep the working directory (logs, kubeconfig) when the cluster goes.
    pub fn keep_dir_on_drop(&mut self) {
        self.spec.keep_dir = true;
    }
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
    /// Every event so far.
    pub fn timeline(&self) -> &[Timed] {
        &self.timeline
    }
    pub fn node(&self, name: &str) -> Option<&SimNode> {
        self.nodes.iter().find(|n| n.name == name)
    }
    pub fn reboots(&self, name: &str) -> u32 {
        self.node(name).map_or(0, |n| n.reboots)
    }
    pub fn metrics_port(&self, name: &str) -> Option<u16> {
        self.node(name).map(|n| n.metrics_port)
    }
    /// Current lock holders, as of the last poll.
    pub fn lock_holders(&self) -> Vec<String> {
        self.observer.holders().iter().cloned().collect()
    }
    /// A node object as the server has it now.
    pub fn get_node(&self, name: &str) -> Option<Value> {
        self.api.get("nodes", "", name)
    }

    /// Kill the node's kured (SIGKILL, as an OOM kill or a lost pod) and start
    /// it again on the same boot: no reboot.
    pub fn restart_kured(&mut self, name: &str) -> Result<(), String> {
        let node = self.nodes.iter_mut().find(|n| n.name == name).ok_or_else(|| format!("no node {name}"))?;
        node.kill_kured();
        node.start_kured(&self.launch).map_err(|e| format!("{name}: {e}"))
    }

    /// Start the node's kured again after it exited (as a DaemonSet would),
    /// forgetting that exit. No-op while it runs or while the machine is down.
    pub fn relaunch_kured(&mut self, name: &str) -> Result<(), String> {
        let node = self.nodes.iter_mut().find(|n| n.name == name).ok_or_else(|| format!("no node {name}"))?;
        if node.kured_running() || node.down_until.is_some() {
            return Ok(());
        }
        node.crashed = None;
        node.start_kured(&self.launch).map_err(|e| format!("{name}: {e}"))
    }

    /// The machine is gone for good: its kured dies and its Node object is deleted
    /// (whatever it held, such as the lock, stays behind).
    pub fn remove_node(&mut self, name: &str) -> Result<(), String> {
        let i = self.nodes.iter().position(|n| n.name == name).ok_or_else(|| format!("no node {name}"))?;
        self.nodes.remove(i); // dropping it kills kured and the host helper
        self.api.delete("nodes", "", name).map(|_| ()).ok_or_else(|| format!("node {name} was not in the API"))
    }

    /// Send `signal` to the node's kured (never to a pid <= 1).
    pub fn signal_kured(&self, name: &str, signal: i32) -> Result<(), String> {
        let pid =
            self.node(name).and_then(SimNode::kured_pid).ok_or_else(|| format!("{name}: kured is not running"))?;
        let pid = libc::pid_t::try_from(pid).map_err(|_| "pid out of range".to_string())?;
        if pid <= 1 {
            return Err(format!("refusing to signal pid {pid}"));
        }
        // SAFETY: kill(2) on a child this harness started (pid > 1).
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(format!("kill {pid}: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Look once: play the machines, then read the server. Returns what happened.
    pub fn poll(&mut self) -> Vec<Timed> {
        self.api.sync();
        let now = Instant::now();
        let mut ev = Vec::new();
        for node in &mut self.nodes {
            let dud = self.spec.dud_reboot.contains(&node.name);
            if !dud && node.down_until.is_none() && node.kured_running() && node.take_marker() {
                self.peak_kib = self.peak_kib.max(node.kured_peak_kib().unwrap_or(0));
                node.kill_kured();
                node.reboots += 1;
                self.api.set_node_ready(&node.name, false);
                if !self.spec.sticky_sentinel.contains(&node.name) {
                    let _ = std::fs::remove_file(node.sentinel());
                }
                node.down_until = Some(now + self.spec.downtime);
                ev.push(Event::Rebooted { node: node.name.clone(), count: node.reboots });
            } else if let Some(status) = node.check_exit() {
                ev.push(Event::KuredExited { node: node.name.clone(), status });
            }
            if node.down_until.is_some_and(|t| now >= t) {
                node.down_until = None;
                // kubelet reports the new boot's ID as the node comes back
                // (in real mode the simulated kubelet does, with its status)
                if !self.api.is_real() {
                    set_boot_id(&self.api, &node.name, &objects::boot_id(&node.name, node.reboots));
                }
                self.api.set_node_ready(&node.name, true);
                match node.start_kured(&self.launch) {
                    Ok(()) => ev.push(Event::NodeBack { node: node.name.clone() }),
                    Err(e) => {
                        node.crashed = Some(e.to_string());
                        ev.push(Event::KuredExited { node: node.name.clone(), status: e.to_string() });
                    }
                }
            }
        }
        self.nodes.iter_mut().for_each(SimNode::note_first_check);
        let snap = self.snapshot();
        ev.extend(self.observer.observe(&snap));
        let at = self.started.elapsed();
        let timed: Vec<Timed> = ev.into_iter().map(|event| Timed { at, event }).collect();
        self.timeline.extend(timed.iter().cloned());
        timed
    }

    fn snapshot(&mut self) -> Snapshot {
        let ds = self.api.get("daemonsets", "kube-system", "kured");
        let lock = ds
            .as_ref()
            .and_then(|d| d.pointer("/metadata/annotations"))
            .and_then(|a| a.get(&self.spec.lock_annotation));
        // Only the new part of the log: a 200-node run logs hundreds of thousands.
        let requests = self.api.requests_since(self.requests_seen);
        let new_requests = requests.iter().map(|r| (r.method.clone(), r.path.clone(), r.status)).collect();
        self.requests_seen += requests.len();
        Snapshot {
            lock: lock.and_then(Value::as_str).map(str::to_string),
            nodes: self.api.list("nodes"),
            new_requests,
            pdb_violations: usize::try_from(self.api.pdb_violations()).unwrap_or(usize::MAX),
        }
    }

    /// The largest peak memory (VmHWM, KiB) of one kured: those that
    /// "rebooted" (sampled just before) and those running now.
    pub fn daemon_peak_kib(&self) -> u64 {
        self.nodes.iter().filter_map(SimNode::kured_peak_kib).fold(self.peak_kib, u64::max)
    }

    /// API requests so far, per node and hour of this run.
    pub fn requests_per_node_hour(&self) -> (usize, f64) {
        let n = self.api.request_count();
        let hours = self.started.elapsed().as_secs_f64() / 3600.0;
        (n, n as f64 / self.nodes.len().max(1) as f64 / hours.max(1e-9))
    }

    /// Every node rebooted and back, nobody holds the lock, nothing left cordoned.
    pub fn settled(&self) -> bool {
        self.nodes.iter().all(|n| n.reboots > 0 && n.down_until.is_none())
            && self.observer.holders().is_empty()
            && self.observer.cordoned().next().is_none()
    }

    /// Nobody holds the lock, no node is down or cordoned by kured.
    pub fn quiet(&self) -> bool {
        self.nodes.iter().all(|n| n.down_until.is_none())
            && self.observer.holders().is_empty()
            && self.observer.cordoned().next().is_none()
    }

    /// The memory the running daemons hold now, together (VmRSS, KiB).
    pub fn fleet_rss_kib(&self) -> u64 {
        self.nodes.iter().filter_map(SimNode::kured_rss_kib).sum()
    }

    /// Every kured exited on its own: nothing more will happen.
    pub fn all_dead(&self) -> bool {
        self.nodes.iter().all(|n| n.crashed.is_some() && !n.kured_running())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.clear();
        // a real control plane writes into the directory until it stops
        if let Api::Real(r) = &mut self.api {
            r.stop();
        }
        if self.spec.keep_dir || std::thread::panicking() {
            eprintln!("kured-sim: kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Set `status.nodeInfo.bootID`, re-reading on a conflict with kured's writes.
fn set_boot_id(api: &Api, name: &str, boot_id: &str) {
    let _ =
        api.edit("nodes", "", name, |node| node["status"]["nodeInfo"]["bootID"] = Value::String(boot_id.to_string()));
}

/// Run `spec.install_command` (real mode only) as a cluster admin; its output
/// goes to `install.log` in the cluster's directory.
fn install(api: &Api, command: &[String], dir: &Path) -> Result<(), String> {
    if !api.is_real() {
        return Err("an install command needs the real control plane (control_plane = Real)".into());
    }
    let (program, args) = command.split_first().ok_or("the install command is empty")?;
    let log_path = dir.join("install.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("create {}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let status = std::process::Command::new(program)
        .args(args)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .status()
        .map_err(|e| format!("run {program}: {e}"))?;
    if !status.success() {
        let said = std::fs::read_to_string(&log_path).unwrap_or_default();
        return Err(format!("install command {command:?} failed ({status}):\n{}", said.trim()));
    }
    Ok(())
}

fn create(api: &Api, obj: Value) -> Result<(), String> {
    let what = format!("{}/{}", obj["kind"].as_str().unwrap_or("?"), obj["metadata"]["name"].as_str().unwrap_or("?"));
    api.try_create(obj)
        .map(|_| ())
        .map_err(|status| format!("create {what}: {}", status["message"].as_str().unwrap_or("refused")))
}

fn port_of(url: &str) -> Result<u16, String> {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .ok_or_else(|| format!("no port in server url {url}"))
}

/// A fresh directory under the system temp dir.
fn work_dir() -> std::io::Result<PathBuf> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "kured-sim-{}-{}-{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
