//! Control-plane nodes, as the loop sees them right before it takes the lock:
//! the Node lists the quorum guard ([`crate::lock::quorum`]) and
//! `--control-plane-order` ([`crate::controlplane`]) decide from.
//!
//! Cheap by construction: a worker with no `--control-plane-selector` and no
//! order makes no request at all; otherwise the control-plane nodes are listed
//! by label (one list per role label, one for the selector), and only a
//! control-plane node under `--control-plane-order=last` lists every node.
//! The lists are read before the lock, so the guard's "no other
//! control-plane holder" is decided on the very read the lock write is
//! conditional on (see `lock::quorum`).
//!
//! A guarded control-plane holder lists them again right before its reboot
//! command (its drain may have lasted long enough for another one to go
//! down): if another is not Ready it does not reboot. It puts the node back
//! (uncordons it if kured cordoned it, releases its entry) and takes the lock
//! again once the guard allows, rather than hold the lock and the cordon
//! through a wait of unknown length. A list that fails there is no look:
//! the node is put back the same way, and retries.

use std::collections::BTreeMap;

use super::machine::Quorum;
use super::Agent;
use crate::controlplane::{self, Order, Peer, ROLE_LABELS};
use crate::error::Result;
use crate::kube::Node;
use crate::lock::quorum::{self, Guard, Wait};
use crate::status::{Blocked, NodeState};

impl Agent<'_> {
    /// Look up what the guard and the order need, set the lock's guard
    /// (`io.guard`), and apply the order. True: held back by the order
    /// (reported); the lock is not to be taken now.
    pub(super) fn control_plane_check(&mut self, node: &Node) -> Result<bool> {
        self.io.guard = None;
        let config = self.config;
        let by_role = controlplane::has_role(&node.metadata.labels);
        if !by_role && config.control_plane_selector.is_empty() && config.control_plane_order == Order::Any {
            return Ok(false);
        }
        let control_plane = self.control_plane_nodes()?;
        let me_cp = by_role || control_plane.contains_key(self.node_id());
        if me_cp && config.control_plane_quorum_guard {
            let (not_ready, settling) = self.not_ready(&control_plane);
            let mut names: std::collections::BTreeSet<String> = control_plane.keys().cloned().collect();
            names.insert(self.node_id().to_string());
            self.io.guard = Some(Guard { control_plane: names, not_ready, settling });
        }
        let order = config.control_plane_order;
        let peers: Vec<Peer> = match (order, me_cp) {
            (Order::First, false) => control_plane.values().map(|n| peer(n, true)).collect(),
            (Order::Last, true) => self
                .client
                .list_nodes("")?
                .iter()
                .map(|n| peer(n, control_plane.contains_key(&n.metadata.name)))
                .collect(),
            _ => vec![],
        };
        let waiting_side = matches!((order, me_cp), (Order::First, false) | (Order::Last, true));
        let mut waits_for = controlplane::order_waits_for(order, self.node_id(), me_cp, &peers);
        // The other side says it wants a reboot in its status annotation, at
        // its first check: the waiting side's first period after its own
        // first look gives every node of the other side that check.
        let settles_at = *self.io.order_settles_at.get_or_insert_with(|| std::time::Instant::now() + config.period);
        if waiting_side && waits_for.is_empty() && std::time::Instant::now() < settles_at {
            waits_for.push("(the first period: every node checks once first)".into());
            self.note_lock_frees_in(settles_at.saturating_duration_since(std::time::Instant::now()));
        }
        Ok(self.held_by_order(order, &waits_for))
    }

    /// Right before the reboot command of a guarded control-plane holder:
    /// Hold = another control-plane node is not Ready or settling, Failed =
    /// they could not be listed: the machine puts the node back and lets the
    /// lock go (see the module comment); not rebooting now.
    pub(super) fn quorum_before_reboot(&mut self) -> Quorum {
        if self.io.guard.is_none() {
            return Quorum::Fine;
        }
        match self.control_plane_nodes() {
            Ok(cp) => match self.not_ready(&cp) {
                (not_ready, _) if !not_ready.is_empty() => Quorum::Hold(Wait::NotReady(not_ready[0].clone()).reason()),
                (_, settling) => match settling.into_iter().next() {
                    Some(s) => Quorum::Hold(Wait::Settling(s).reason()),
                    None => Quorum::Fine,
                },
            },
            Err(e) => Quorum::Failed(e.to_string()),
        }
    }

    /// The other control-plane nodes that are not Ready, and those Ready
    /// for less than `--control-plane-settle`, by name.
    fn not_ready(&self, control_plane: &BTreeMap<String, Node>) -> (Vec<String>, Vec<String>) {
        let now = self.clock.now();
        let others = || control_plane.values().filter(|n| n.metadata.name != self.node_id());
        let name = |n: &Node| n.metadata.name.clone();
        let not_ready = others().filter(|n| !n.ready()).map(name).collect();
        let settling = others()
            .filter(|n| n.ready() && !quorum::settled(n.ready_since(), now, self.config.control_plane_settle))
            .map(name)
            .collect();
        (not_ready, settling)
    }

    /// Every control-plane node (by role label or `--control-plane-selector`), by name.
    fn control_plane_nodes(&self) -> Result<BTreeMap<String, Node>> {
        let mut selectors: Vec<&str> = ROLE_LABELS.to_vec();
        if !self.config.control_plane_selector.is_empty() {
            selectors.push(&self.config.control_plane_selector);
        }
        let mut out = BTreeMap::new();
        for s in selectors {
            let nodes = match self.client.list_nodes(s) {
                Ok(nodes) => nodes,
                // upstream's chart: the guard still keeps kured-rs's own
                // control-plane holders apart (their entries' mark)
                Err(e) if e.api_kind() == Some(crate::error::ApiErrorKind::Forbidden) => {
                    let level = crate::logging::warn_once("list nodes");
                    log::log!(
                        level,
                        "cannot list nodes ({e}): control-plane nodes are known by their own role labels and lock entries only, and the others' readiness is not checked"
                    );
                    return Ok(BTreeMap::new());
                }
                Err(e) => return Err(e),
            };
            for n in nodes {
                out.insert(n.metadata.name.clone(), n);
            }
        }
        Ok(out)
    }

    /// Report and remember a hold by the order; false once there is none, or
    /// once it has lasted [`controlplane::PATIENCE_PERIODS`] periods.
    fn held_by_order(&mut self, order: Order, waits_for: &[String]) -> bool {
        let now = self.clock.now();
        let period = self.config.period;
        if waits_for.is_empty() {
            self.io.order_held = None;
            return false;
        }
        // A hold seen again after a gap (the node needed no reboot meanwhile) starts afresh.
        let (since, warned) = match self.io.order_held {
            Some((since, last, warned)) if (now - last).unsigned_abs() <= period.saturating_mul(2) => (since, warned),
            _ => (now, false),
        };
        let names = crate::names::summary(waits_for);
        let over = controlplane::patience_over(since, now, period);
        self.io.order_held = Some((since, now, over));
        if over {
            let level = if warned { log::Level::Debug } else { log::Level::Warn };
            log::log!(
                level,
                "--control-plane-order={}: held back for {} periods while {names} still want a reboot: going ahead anyway",
                order.flag_value(),
                controlplane::PATIENCE_PERIODS
            );
            return false;
        }
        let why = match order {
            Order::First => format!("waiting: control-plane nodes reboot first (--control-plane-order=first): {names}"),
            _ => format!("waiting: workers reboot first (--control-plane-order=last): {names}"),
        };
        log::info!("{why}");
        self.report(NodeState::Pending, &why, Some(Blocked::ControlPlane), false);
        true
    }
}

fn peer(n: &Node, control_plane: bool) -> Peer {
    Peer {
        name: n.metadata.name.clone(),
        control_plane,
        ready: n.ready(),
        wants_reboot: controlplane::wants_reboot(
            n.metadata.annotations.get(crate::status::ANNOTATION).map(String::as_str),
            n.ready(),
        ),
    }
}
