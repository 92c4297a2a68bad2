//! The loop's side of the release gate (see [`crate::gate`]): record the
//! budgets before the drain, wait for them (and readiness) after the reboot,
//! before the lock is released. Best effort on the way in: a budget list that
//! cannot be read only narrows the gate to readiness, never stops a reboot.

use std::collections::BTreeMap;

use super::Agent;
use crate::gate::{self, Outcome};
use crate::node;

impl Agent<'_> {
    /// Before the drain, with the lock held.
    pub(super) fn record_release_gate(&self) {
        if self.config.release_gate_timeout.is_zero() {
            return;
        }
        match gate::record(self.client, self.node_id()) {
            Ok(b) => log::info!("release gate: {} PodDisruptionBudget(s) cover this node's pods", b.len()),
            Err(e) => log::warn!("release gate: cannot record the PodDisruptionBudgets ({e}); after the reboot only readiness is awaited"),
        }
    }

    /// After the reboot, before the lock is released: wait until the node is
    /// Ready and its budgets recovered, at most --release-gate-timeout.
    pub(super) fn release_gate(&self, annotations: &BTreeMap<String, String>) {
        let timeout = self.config.release_gate_timeout;
        if timeout.is_zero() {
            return;
        }
        let budgets = gate::recorded(annotations);
        match gate::wait(self.client, self.node_id(), &budgets, timeout, self.clock, &|| false) {
            Outcome::Open { waited } => log::info!("release gate open after {:.1}s", waited.as_secs_f64()),
            Outcome::TimedOut(why) => {
                let message = format!("release gate still shut after {timeout:?}: {why}; releasing the lock anyway");
                log::warn!("{message}");
                self.event("ReleaseGateTimedOut", &message);
            }
            Outcome::Stopped => {}
        }
    }

    /// The record is only for the reboot it was made for.
    pub(super) fn forget_release_gate(&self, annotations: &BTreeMap<String, String>) {
        if annotations.contains_key(gate::ANNOTATION) {
            if let Err(e) = node::remove_annotations(self.client, self.node_id(), &[gate::ANNOTATION]) {
                log::warn!("cannot remove the annotation {}: {e}", gate::ANNOTATION);
            }
        }
    }
}
