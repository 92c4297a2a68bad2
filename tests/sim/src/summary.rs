//! The outcome of a simulation and the invariants it must keep: never more nodes
//! holding the lock or cordoned than the concurrency, no PodDisruptionBudget
//! broken, every node rebooted and none left cordoned.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub nodes_rebooted: usize,
    /// The larger of the most lock holders and the most (kured-)cordoned nodes at once.
    pub max_concurrent: usize,
    pub max_lock_holders: usize,
    pub max_cordoned: usize,
    pub pdb_violations: usize,
    /// With control-plane nodes in the cluster: the most of them holding the
    /// lock, or cordoned, at once (the quorum guard keeps it at 1).
    pub max_concurrent_control_plane: Option<usize>,
    /// Control-plane nodes that took the lock while another was NotReady.
    pub control_plane_taken_while_not_ready: Vec<String>,
    pub elapsed_s: f64,
    /// Nodes still cordoned at the end (operator-cordoned nodes excluded).
    pub left_cordoned: Vec<String>,
    pub not_rebooted: Vec<String>,
    /// Nodes whose kured exited on its own.
    pub crashed: Vec<String>,
    /// Fields of the kured DaemonSet that a lock write lost.
    pub lost_fields: Vec<String>,
    /// kured's requests the real API server refused as forbidden (403): a
    /// permission the RBAC in manifests/base lacks. (Real mode only: the fake
    /// server's 403s are injected faults.)
    pub forbidden: Vec<String>,
}

impl Summary {
    /// Every broken invariant, in words; empty = all good.
    pub fn violations(&self, concurrency: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.max_lock_holders > concurrency {
            out.push(format!("{} nodes held the lock at once (concurrency {concurrency})", self.max_lock_holders));
        }
        if self.max_cordoned > concurrency {
            out.push(format!("{} nodes were cordoned at once (concurrency {concurrency})", self.max_cordoned));
        }
        if let Some(n) = self.max_concurrent_control_plane.filter(|n| *n > 1) {
            out.push(format!(
                "{n} control-plane nodes held the lock or were cordoned at once (the quorum guard allows 1)"
            ));
        }
        for t in &self.control_plane_taken_while_not_ready {
            out.push(format!("control-plane node took the lock while another was NotReady: {t}"));
        }
        if self.pdb_violations > 0 {
            out.push(format!("{} evictions broke a PodDisruptionBudget", self.pdb_violations));
        }
        if !self.left_cordoned.is_empty() {
            out.push(format!("left cordoned: {}", self.left_cordoned.join(", ")));
        }
        if !self.not_rebooted.is_empty() {
            out.push(format!("not rebooted: {}", self.not_rebooted.join(", ")));
        }
        out.extend(self.lost_fields.iter().map(|f| format!("lost by a lock write: {f}")));
        out.extend(self.forbidden.iter().map(|r| format!("forbidden by RBAC: {r}")));
        if !self.crashed.is_empty() {
            out.push(format!("kured exited on: {}", self.crashed.join(", ")));
        }
        out
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nodes_rebooted={} max_concurrent={} pdb_violations={} elapsed_s={:.1}",
            self.nodes_rebooted, self.max_concurrent, self.pdb_violations, self.elapsed_s
        )?;
        match self.max_concurrent_control_plane {
            Some(n) => write!(f, " max_concurrent_control_plane={n}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Summary {
        Summary {
            nodes_rebooted: 3,
            max_concurrent: 1,
            max_lock_holders: 1,
            max_cordoned: 1,
            pdb_violations: 0,
            max_concurrent_control_plane: None,
            control_plane_taken_while_not_ready: vec![],
            elapsed_s: 41.26,
            left_cordoned: vec![],
            not_rebooted: vec![],
            crashed: vec![],
            lost_fields: vec![],
            forbidden: vec![],
        }
    }

    #[test]
    fn prints_exactly_the_summary_line() {
        assert_eq!(good().to_string(), "nodes_rebooted=3 max_concurrent=1 pdb_violations=0 elapsed_s=41.3");
        let ha = Summary { max_concurrent_control_plane: Some(1), ..good() };
        assert_eq!(
            ha.to_string(),
            "nodes_rebooted=3 max_concurrent=1 pdb_violations=0 elapsed_s=41.3 max_concurrent_control_plane=1"
        );
    }

    #[track_caller]
    fn case(change: fn(&mut Summary), concurrency: usize, want: &[&str]) {
        let mut s = good();
        change(&mut s);
        let got = s.violations(concurrency);
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(g.contains(w), "{g:?} should contain {w:?}");
        }
    }

    #[test]
    fn invariants() {
        case(|_| {}, 1, &[]);
        case(|s| s.max_lock_holders = 2, 1, &["2 nodes held the lock"]);
        case(|s| s.max_lock_holders = 2, 2, &[]);
        case(|s| s.max_cordoned = 3, 2, &["3 nodes were cordoned"]);
        case(|s| s.pdb_violations = 1, 1, &["1 evictions broke"]);
        case(|s| s.max_concurrent_control_plane = Some(1), 3, &[]);
        case(|s| s.max_concurrent_control_plane = Some(2), 3, &["2 control-plane nodes"]);
        case(
            |s| s.control_plane_taken_while_not_ready = vec!["cp-2 (while cp-1 was NotReady)".into()],
            3,
            &["while cp-1 was NotReady"],
        );
        case(|s| s.left_cordoned = vec!["node-2".into()], 1, &["left cordoned: node-2"]);
        case(|s| s.not_rebooted = vec!["a".into(), "b".into()], 1, &["not rebooted: a, b"]);
        case(|s| s.crashed = vec!["a".into()], 1, &["kured exited on: a"]);
        case(|s| s.lost_fields = vec!["x /spec changed".into()], 1, &["lost by a lock write: x /spec changed"]);
    }
}
