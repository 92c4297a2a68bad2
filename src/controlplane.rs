//! Control-plane nodes: which nodes are, and `--control-plane-order` (pure).
//!
//! On HA clusters with stacked etcd (k3s, RKE2, kubeadm) each control-plane
//! node is an etcd member: rebooting two of three at once loses quorum, and
//! the API server goes down with the nodes that would have to finish the job.
//! A node is a control-plane node when it carries one of [`ROLE_LABELS`]
//! (any value: kubeadm sets "", k3s "true"), or `--control-plane-selector`
//! selects it. The quorum guard itself decides from the lock (`lock::quorum`);
//! this file holds what the loop decides from the Node list.
//!
//! The order, from the nodes' status annotations (`kured-rs.dev/status`, which
//! every kured-rs pod keeps on its Node; see [`crate::status`]): a node "wants
//! a reboot" while its state is pending, draining, rebooting or release-gate.
//! - `first`: a worker takes no lock while a control-plane node wants a reboot.
//! - `last`: a control-plane node takes no lock while a worker wants a reboot.
//! - `any` (the default): no order.
//!
//! The waiting side also waits out one `--period` after its first look, so
//! that every node of the other side has checked once and said so.
//!
//! Only one side ever waits for the other, so the order alone cannot deadlock;
//! but the other side may be stuck (a sticky sentinel, a blocker, a node
//! outside its window) or keep asking: a node held back by the order for
//! [`PATIENCE_PERIODS`] periods goes ahead anyway, with a warning. Nodes
//! without the status annotation (upstream kured) count as not wanting one.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

/// The labels that make a node a control-plane node (their value does not matter).
pub const ROLE_LABELS: [&str; 2] = ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"];

/// A node held back by the order goes ahead after this many `--period`s.
pub const PATIENCE_PERIODS: u32 = 12;

/// `--control-plane-order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Any,
    /// Control-plane nodes before the workers.
    First,
    /// Control-plane nodes after the workers.
    Last,
}

impl Order {
    pub fn flag_value(self) -> &'static str {
        match self {
            Order::Any => "any",
            Order::First => "first",
            Order::Last => "last",
        }
    }
}

/// Whether these labels carry a control-plane role.
pub fn has_role(labels: &BTreeMap<String, String>) -> bool {
    ROLE_LABELS.iter().any(|k| labels.contains_key(*k))
}

/// One node as the guard and the order see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub control_plane: bool,
    /// Its `Ready` condition is True.
    pub ready: bool,
    /// Its status annotation says it wants a reboot (see the module comment).
    pub wants_reboot: bool,
}

/// Whether a status annotation's value (of a node `ready` or not) says its node
/// wants a reboot that will come: one under way (draining, rebooting, in the
/// release gate: NotReady while it reboots), or one pending on a Ready node
/// that is not held back by the node itself (opted out, stopped by the
/// reboot-loop guard, backing off after failed reboots). A pending node that
/// is not Ready is old news: its kured is not checking.
pub fn wants_reboot(status: Option<&str>, ready: bool) -> bool {
    use crate::status::{Blocked, NodeState};
    let Some(state) = status.and_then(|s| serde_json::from_str::<crate::status::State>(s).ok()) else { return false };
    let stuck = [Blocked::OptedOut, Blocked::RebootLoop, Blocked::BackOff].iter().any(|b| b.label() == state.blocked);
    match NodeState::parse(&state.state) {
        Some(NodeState::Draining | NodeState::Rebooting | NodeState::ReleaseGate) => true,
        Some(NodeState::Pending) => ready && !stuck,
        _ => false,
    }
}

/// The first of the other control-plane nodes that is not Ready.
pub fn not_ready<'p>(me: &str, peers: &'p [Peer]) -> Option<&'p str> {
    peers.iter().find(|p| p.control_plane && p.name != me && !p.ready).map(|p| p.name.as_str())
}

/// Whom the order makes `me` (a control-plane node or not) wait for, if anyone:
/// the nodes of the other side that want a reboot, by name.
pub fn order_waits_for(order: Order, me: &str, me_control_plane: bool, peers: &[Peer]) -> Vec<String> {
    let other_side = match (order, me_control_plane) {
        (Order::First, false) => true,
        (Order::Last, true) => false,
        _ => return vec![],
    };
    peers
        .iter()
        .filter(|p| p.name != me && p.control_plane == other_side && p.wants_reboot)
        .map(|p| p.name.clone())
        .collect()
}

/// Whether a node held back by the order since `since` has waited long enough
/// ([`PATIENCE_PERIODS`] x `period`) and goes ahead.
pub fn patience_over(since: OffsetDateTime, now: OffsetDateTime, period: Duration) -> bool {
    (now - since).unsigned_abs() >= period.saturating_mul(PATIENCE_PERIODS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn peer(name: &str, cp: bool, ready: bool, wants: bool) -> Peer {
        Peer { name: name.into(), control_plane: cp, ready, wants_reboot: wants }
    }

    #[test]
    fn either_role_label_makes_a_control_plane_node() {
        let l = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(has_role(&l("node-role.kubernetes.io/control-plane", "")));
        assert!(has_role(&l("node-role.kubernetes.io/master", "true")));
        assert!(!has_role(&l("node-role.kubernetes.io/worker", "")));
        assert!(!has_role(&BTreeMap::new()));
    }

    #[track_caller]
    fn wants(annotation: Option<&str>, want: bool) {
        assert_eq!(wants_reboot(annotation, true), want, "{annotation:?}");
    }

    #[test]
    fn a_node_wants_a_reboot_while_its_status_says_so() {
        let s = |state: &str| format!(r#"{{"state":"{state}","reason":"x","since":"2024-03-01T03:00:00Z"}}"#);
        for st in ["pending", "draining", "rebooting", "release-gate"] {
            wants(Some(&s(st)), true);
        }
        for st in ["ok", "error"] {
            wants(Some(&s(st)), false);
        }
        wants(None, false); // upstream kured, or a node kured never ran on
        wants(Some("not json"), false);
        wants(Some(r#"{"state":"pending"}"#), false); // no `since`: not ours
                                                      // held back by itself: its reboot is not coming soon, nobody waits for it
        let b = |blocked: &str| {
            format!(r#"{{"state":"pending","reason":"x","since":"2024-03-01T03:00:00Z","blocked":"{blocked}"}}"#)
        };
        for blocked in ["opted-out", "reboot-loop", "back-off"] {
            wants(Some(&b(blocked)), false);
        }
        for blocked in ["lock", "window", "pods", "prometheus", "paused", "control-plane"] {
            wants(Some(&b(blocked)), true);
        }
        // NotReady: a reboot under way (it is down while it reboots), not a pending one
        for st in ["draining", "rebooting", "release-gate"] {
            assert!(wants_reboot(Some(&s(st)), false), "{st}");
        }
        assert!(!wants_reboot(Some(&s("pending")), false));
    }

    #[test]
    fn not_ready_looks_at_the_other_control_plane_nodes_only() {
        let peers =
            [peer("cp-1", true, false, false), peer("w-1", false, false, false), peer("cp-2", true, true, false)];
        assert_eq!(not_ready("cp-1", &peers), None); // itself (it is running kured)
        assert_eq!(not_ready("cp-2", &peers), Some("cp-1"));
        assert_eq!(not_ready("w-2", &[peer("w-1", false, false, false)]), None);
    }

    #[track_caller]
    fn order(o: Order, me: &str, me_cp: bool, want: &[&str]) {
        let peers = [
            peer("cp-1", true, true, true),
            peer("cp-2", true, true, false),
            peer("w-1", false, true, true),
            peer("w-2", false, true, false),
        ];
        assert_eq!(order_waits_for(o, me, me_cp, &peers), want, "{o:?} {me}");
    }

    #[test]
    fn only_one_side_waits_for_the_other() {
        order(Order::Any, "w-2", false, &[]);
        order(Order::Any, "cp-2", true, &[]);
        // first: workers wait for control-plane nodes that want a reboot
        order(Order::First, "w-2", false, &["cp-1"]);
        order(Order::First, "cp-2", true, &[]);
        // last: control-plane nodes wait for workers that want a reboot
        order(Order::Last, "cp-2", true, &["w-1"]);
        order(Order::Last, "w-2", false, &[]);
        // never for itself
        order(Order::Last, "cp-1", true, &["w-1"]);
        order(Order::First, "w-1", false, &["cp-1"]);
    }

    #[test]
    fn patience_is_a_number_of_periods() {
        let t0 = datetime!(2024-03-01 03:00:00 UTC);
        let p = Duration::from_secs(3600);
        assert!(!patience_over(t0, t0 + time::Duration::hours(11), p));
        assert!(patience_over(t0, t0 + time::Duration::hours(12), p));
        assert!(patience_over(t0, t0 + time::Duration::hours(13), p));
    }
}
