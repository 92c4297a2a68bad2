//! The loop's side of the release gate (see [`crate::gate`]): record the
//! budgets before the drain, wait for them (and readiness) after the reboot,
//! before the lock is released. Best effort on the way in: a budget list that
//! cannot be read only narrows the gate to readiness, never stops a reboot.

use super::machine::GateOutcome;
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
    /// Ready and its budgets recovered, at most --release-gate-timeout. A stop
    /// (SIGTERM) first: the machine keeps the lock, and the gate's record with
    /// it, so the next start passes the gate before releasing (released now,
    /// the next node could start while the budgets are short).
    pub(super) fn release_gate(&mut self) -> GateOutcome {
        let timeout = self.config.release_gate_timeout;
        let annotations = self.io.node.as_ref().map(|n| n.metadata.annotations.clone()).unwrap_or_default();
        let budgets = gate::recorded(&annotations);
        let clock = self.clock;
        match gate::wait(self.client, self.node_id(), &budgets, timeout, clock, &|| clock.stopped()) {
            Outcome::Open { waited } => {
                log::info!("release gate open after {:.1}s", waited.as_secs_f64());
                self.metrics.status.observe(Phase::ReleaseGate, waited);
                GateOutcome::Open
            }
            Outcome::TimedOut(why) => {
                let message = format!("release gate still shut after {timeout:?}: {why}; releasing the lock anyway");
                log::warn!("{message}");
                self.event("ReleaseGateTimedOut", &message);
                self.metrics.status.observe(Phase::ReleaseGate, timeout);
                GateOutcome::TimedOut
            }
            Outcome::Stopped => GateOutcome::Stopped,
        }
    }
}
