//! What a run came to: the [`Summary`] the invariants are checked on, what the
//! kured DaemonSet lost, and a readable report (timeline and log tails) for
//! failing tests.

use serde_json::Value;

use super::Cluster;
use crate::node::SimNode;
use crate::summary::Summary;

impl Cluster {
    /// The most machines down at once (their reboot command ran, not back
    /// yet), leaving out the nodes `skip` names.
    pub fn most_down_at_once(&self, skip: &dyn Fn(&str) -> bool) -> usize {
        let (mut down, mut most) = (std::collections::BTreeSet::new(), 0);
        for e in &self.timeline {
            match &e.event {
                crate::Event::Rebooted { node, .. } if !skip(node) => {
                    down.insert(node.clone());
                }
                crate::Event::NodeBack { node } => {
                    down.remove(node);
                }
                _ => {}
            }
            most = most.max(down.len());
        }
        most
    }

    pub fn summary(&self) -> Summary {
        let names = |f: &dyn Fn(&SimNode) -> bool| {
            self.nodes.iter().filter(|n| f(n)).map(|n| n.name.clone()).collect::<Vec<_>>()
        };
        let max_cordoned = self.observer.max_cordoned;
        let max_lock_holders = self.observer.max_lock_holders;
        Summary {
            nodes_rebooted: self.nodes.iter().filter(|n| n.reboots > 0).count(),
            max_concurrent: max_cordoned.max(max_lock_holders),
            max_lock_holders,
            max_cordoned,
            pdb_violations: self.observer.pdb_violations,
            max_concurrent_control_plane: (!self.spec.control_plane_nodes.is_empty())
                .then_some(self.observer.max_concurrent_control_plane),
            control_plane_taken_while_not_ready: self.observer.control_plane_taken_while_not_ready.clone(),
            elapsed_s: self.started.elapsed().as_secs_f64(),
            left_cordoned: self.observer.cordoned().cloned().collect(),
            not_rebooted: names(&|n| n.reboots == 0 && !self.spec.no_reboot.contains(&n.name)),
            crashed: names(&|n| n.crashed.is_some()),
            lost_fields: self.lost_fields(),
            forbidden: self.forbidden(),
        }
    }

    /// What the kured DaemonSet lost since it was created (the lock lives in its
    /// annotations; a read-modify-write that dropped unknown fields shows here).
    pub fn lost_fields(&self) -> Vec<String> {
        let Some(now) = self.api.get("daemonsets", "kube-system", "kured") else {
            return vec!["kube-system/kured was deleted".into()];
        };
        let mut lost = Vec::new();
        for path in ["/spec", "/metadata/labels"] {
            if self.kured_ds.pointer(path) != now.pointer(path) {
                lost.push(format!("kube-system/kured {path} changed"));
            }
        }
        let annotations = now.pointer("/metadata/annotations").and_then(Value::as_object);
        for (key, value) in
            self.kured_ds.pointer("/metadata/annotations").and_then(Value::as_object).into_iter().flatten()
        {
            if key != &self.spec.lock_annotation && annotations.and_then(|a| a.get(key)) != Some(value) {
                lost.push(format!("kube-system/kured annotation {key} changed"));
            }
        }
        lost
    }

    /// Real mode: kured's requests the server refused with 403 (from the audit log).
    pub fn forbidden(&self) -> Vec<String> {
        if !self.api.is_real() {
            return Vec::new();
        }
        let mut out: Vec<String> = self
            .api
            .requests()
            .iter()
            .filter(|r| r.status == 403)
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        out.dedup();
        out
    }

    /// The timeline and the tail of every kured log: for a failing test's message.
    pub fn report(&self) -> String {
        let mut out = String::from("--- time\n");
        if let Some(why) = &self.gave_up {
            out.push_str(&format!("{why}\n"));
        }
        out.push_str(&format!("after {:?}: {}\n--- timeline\n", self.started.elapsed(), self.budget()));
        for e in &self.timeline {
            out.push_str(&format!("{e}\n"));
        }
        for n in &self.nodes {
            out.push_str(&format!("--- {} ({})\n{}\n", n.name, n.log_path().display(), n.log_tail(40)));
        }
        out
    }
}
