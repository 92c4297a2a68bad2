//! The loop's side of the release gate (see [`crate::gate`]): record the
//! budgets before the drain, wait for them (and readiness) after the reboot,
//! before the lock is released. Best effort on the way in: a budget list that
//! cannot be read only narrows the gate to readiness, never stops a reboot.

use std::collections::BTreeMap;

use super::Agent;
use crate::gate::{self, Outcome};
use crate::status::Phase;

impl Agent<'_> {
    /// Before the drain, with the lock held: the record to keep on the node
    /// (None when the gate is off or the budgets cannot be read).
    pub(super) fn release_gate_record(&self) -> Option<String> {
        if self.config.release_gate_timeout.is_zero() {
            return None;
        }
        match gate::covering_budgets(self.client, self.node_id()) {
            Ok(b) => {
                log::info!("release gate: {} PodDisruptionBudget(s) cover this node's pods", b.len());
                serde_json::to_string(&b).ok()
            }
            Err(e) => {
                log::warn!("release gate: cannot record the PodDisruptionBudgets ({e}); after the reboot only readiness is awaited");
                None
            }
        }
    }

    /// After the reboot, before the lock is released: wait until the node is
    /// Ready and its budgets recovered, at most --release-gate-timeout. False
    /// when a stop (SIGTERM) came first: the lock is then kept, and the gate's
    /// record with it, so the next start passes the gate before releasing
    /// (released now, the next node could start while the budgets are short).
    pub(super) fn release_gate(&self, annotations: &BTreeMap<String, String>) -> bool {
        let timeout = self.config.release_gate_timeout;
        if timeout.is_zero() {
            return true;
        }
        self.report("release-gate", "waiting for the node and its PodDisruptionBudgets to recover", None);
        let budgets = gate::recorded(annotations);
        match gate::wait(self.client, self.node_id(), &budgets, timeout, self.clock, &|| self.clock.stopped()) {
            Outcome::Open { waited } => {
                log::info!("release gate open after {:.1}s", waited.as_secs_f64());
                self.metrics.status.observe(Phase::ReleaseGate, waited);
            }
            Outcome::TimedOut(why) => {
                let message = format!("release gate still shut after {timeout:?}: {why}; releasing the lock anyway");
                log::warn!("{message}");
                self.event("ReleaseGateTimedOut", &message);
                self.metrics.status.observe(Phase::ReleaseGate, timeout);
            }
            Outcome::Stopped => {
                log::info!("stopping during the release gate: keeping the lock; the next start of kured passes the gate, then releases it");
                self.state.keep_lock_on_stop.set(true);
                return false;
            }
        }
        true
    }
}
