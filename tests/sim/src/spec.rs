//! What to simulate: how many nodes, kured's shared flags, the reboot downtime,
//! and the starting state (workloads, operator-cordoned nodes, a lock planted
//! by "another" kured, extra objects).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::backend::ControlPlaneKind;
use crate::lockview::DEFAULT_LOCK_ANNOTATION;

/// `--control-plane-settle` in simulated clusters with control-plane nodes
/// (extra arguments may set another).
pub const CONTROL_PLANE_SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Nodes `node-1..=N`.
    pub nodes: usize,
    pub concurrency: u32,
    pub kured_bin: PathBuf,
    /// A command that runs `kured_bin` (e.g. `qemu-aarch64-static` for an ARM
    /// build); empty: run it directly.
    pub kured_runner: Vec<String>,
    /// `--period` (Go duration syntax); short, so a run takes seconds.
    pub period: String,
    /// How long a rebooting node stays NotReady.
    pub downtime: Duration,
    /// Create the sample Deployments, PDBs, DaemonSet and bare pods.
    pub workloads: bool,
    /// Passed to every kured after the harness's own flags (so they win).
    pub extra_kured_args: Vec<String>,
    /// Extra environment of one node's kured, by node name (the chaos
    /// campaign's per-node clock offset), on every start.
    pub kured_env: BTreeMap<String, Vec<(String, String)>>,
    /// Nodes an operator cordoned beforehand.
    pub precordoned: Vec<String>,
    /// Nodes labelled `node-role.kubernetes.io/control-plane` (an HA control
    /// plane: the summary then reports `max_concurrent_control_plane`).
    pub control_plane_nodes: Vec<String>,
    /// Nodes that start without the sentinel (no reboot needed).
    pub no_reboot: Vec<String>,
    /// Nodes whose sentinel stays after a reboot (a package that keeps asking).
    pub sticky_sentinel: Vec<String>,
    /// Nodes whose reboot command does nothing (exits 0, the machine stays up);
    /// the marker it writes is left in place for the test to see.
    pub dud_reboot: Vec<String>,
    /// Initial value of the lock annotation on the kured DaemonSet.
    pub lock: Option<String>,
    pub lock_annotation: String,
    /// Created after the nodes and the DaemonSet, before kured starts.
    pub extra_objects: Vec<Value>,
    /// Keep the working directory (logs, kubeconfig) after the cluster is gone.
    pub keep_dir: bool,
    /// The fake API server (default) or a real control plane.
    pub control_plane: ControlPlaneKind,
    /// Real mode: a command that installs kured's ServiceAccount
    /// `kube-system/kured`, its RBAC and the DaemonSet `kube-system/kured`
    /// (e.g. `helm install kured <chart> -n kube-system`), run once with
    /// `KUBECONFIG` set to a cluster-admin kubeconfig, before the nodes exist.
    /// None: the harness applies manifests/base's ServiceAccount and RBAC and
    /// creates the DaemonSet itself (with `lock`, which an install ignores).
    pub install_command: Option<Vec<String>>,
}

impl ClusterSpec {
    pub fn new(kured_bin: impl Into<PathBuf>) -> ClusterSpec {
        ClusterSpec {
            nodes: 3,
            concurrency: 1,
            kured_bin: kured_bin.into(),
            kured_runner: Vec::new(),
            period: "2s".into(),
            downtime: Duration::from_secs(1),
            workloads: false,
            extra_kured_args: Vec::new(),
            kured_env: BTreeMap::new(),
            precordoned: Vec::new(),
            control_plane_nodes: Vec::new(),
            no_reboot: Vec::new(),
            sticky_sentinel: Vec::new(),
            dud_reboot: Vec::new(),
            lock: None,
            lock_annotation: DEFAULT_LOCK_ANNOTATION.into(),
            extra_objects: Vec::new(),
            keep_dir: false,
            control_plane: ControlPlaneKind::default(),
            install_command: None,
        }
    }

    /// What end-to-end scenarios start from: `nodes` nodes checking every second,
    /// reboots of half a second, and `args` passed to every kured.
    pub fn scenario(kured_bin: impl Into<PathBuf>, nodes: usize, args: &[&str]) -> ClusterSpec {
        let mut s = ClusterSpec::new(kured_bin);
        s.nodes = nodes;
        s.period = "1s".into();
        s.downtime = Duration::from_millis(500);
        s.extra_kured_args = args.iter().map(|a| a.to_string()).collect();
        s
    }

    pub fn node_names(&self) -> Vec<String> {
        (1..=self.nodes).map(|i| format!("node-{i}")).collect()
    }

    /// The flags every kured gets (besides its node's own).
    pub fn common_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--period={}", self.period),
            format!("--concurrency={}", self.concurrency),
            "--lock-release-delay=0".to_string(),
            "--drain-grace-period=1".to_string(),
            "--ds-namespace=kube-system".to_string(),
            "--ds-name=kured".to_string(),
        ];
        if self.lock_annotation != DEFAULT_LOCK_ANNOTATION {
            args.push(format!("--lock-annotation={}", self.lock_annotation));
        }
        if !self.control_plane_nodes.is_empty() {
            // the default (2m) would add minutes per control-plane node; a
            // short settle still puts it in every HA scenario's way
            args.push(format!("--control-plane-settle={}s", CONTROL_PLANE_SETTLE.as_secs()));
        }
        args.extend(self.extra_kured_args.iter().cloned());
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_args_come_last_so_they_win() {
        let mut s = ClusterSpec::new("/bin/kured");
        s.extra_kured_args = vec!["--period=1s".into()];
        let a = s.common_args();
        assert_eq!(a.first().map(String::as_str), Some("--period=2s"));
        assert_eq!(a.last().map(String::as_str), Some("--period=1s"));
        assert_eq!(s.node_names(), ["node-1", "node-2", "node-3"]);
    }
}
