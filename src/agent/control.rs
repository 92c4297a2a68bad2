//! The operator's run-time controls, as the loop meets them: all reboots
//! paused by the lock's DaemonSet ([`crate::lock::pause`]), this node opted out
//! by its label or annotation ([`crate::optout`]). Both only keep the lock from
//! being taken; what this node already holds is put back as usual.

use super::Agent;
use crate::status::Blocked;

impl Agent<'_> {
    /// The lock's read said reboots are paused: wait (on the lock's watch,
    /// whose event removing the pause wakes this node in its turn), saying why.
    /// The PreferNoSchedule taint comes off: no drain is coming soon.
    pub(super) fn paused(&self, why: &str) {
        log::info!(
            "reboot required, but reboots are paused ({} on daemonset {}/{}): {why}",
            crate::lock::pause::ANNOTATION,
            self.config.ds_namespace,
            self.config.ds_name
        );
        self.metrics.status.lock_wait_started(self.clock.now());
        self.report("pending", &crate::status::with_pause(Some(why), ""), Some(Blocked::Paused));
        self.set_taint(false);
        // A cordon of kured's that no entry records (a lost lock whose uncordon
        // failed) waits for the next take, which a pause may put off for days.
        if self.state.our_cordon.get() {
            self.release_leftover_lock();
        }
    }

    /// This node is opted out: it does not take the lock, and leaves the
    /// lock's queue (its watch closed, its place forgotten), so it never holds
    /// up another node's turn; a lock or cordon it still holds is put back.
    pub(super) fn opted_out(&self, why: &str) {
        log::info!("reboot required, but not rebooting: {} is {why} ({})", self.node_id(), crate::optout::KEY);
        self.report("pending", why, Some(Blocked::OptedOut));
        self.metrics.status.lock_wait_left();
        *self.state.waiting.borrow_mut() = Default::default();
        self.state.gave_way_to.borrow_mut().clear();
        self.set_taint(false);
        self.release_leftover_lock();
    }
}
