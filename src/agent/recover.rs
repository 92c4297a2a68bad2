//! Finishing a reboot: when this node holds the lock at start-up (the reboot
//! happened, or a previous pod died on the way), or holds it with nothing left
//! to do, put the node back as the lock recorded it was and release the lock.

use std::time::Duration;

use super::{plan, Agent, RECOVERY_RETRY, REBOOT_IN_PROGRESS};
use crate::clock::jitter;
use crate::error::Result;
use crate::node;

/// Why the lock is still ours: only after a reboot is there a reboot to
/// announce; a leftover from a failed drain or release is put back quietly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    Reboot,
    Leftover,
}

impl Agent<'_> {
    /// Start-up: if this node holds the lock, a reboot it started is over (or
    /// the previous pod died on the way): put the node back and release. Retried
    /// until done, so a node is never left cordoned because the API was down.
    pub fn recover(&self) {
        loop {
            match self.try_recover(After::Reboot) {
                Ok(()) => break,
                Err(e) => log::error!("finishing the previous reboot failed, will retry: {e}"),
            }
            let wait = RECOVERY_RETRY.min(self.config.period);
            self.clock.sleep(wait + jitter(wait / 10 + Duration::from_millis(1)));
        }
        // Remove the taint at once after start-up so the node takes pods again.
        if let Ok(false) = self.host.reboot_required() {
            self.set_taint(false);
        }
    }

    fn try_recover(&self, after: After) -> Result<()> {
        let lock = self.lock();
        let Some(meta) = lock.holding()? else {
            return Ok(());
        };
        log::info!("{} holds the reboot lock: finishing the reboot", self.node_id());
        let node = self.client.get_node(self.node_id())?;
        let still_required = match self.host.reboot_required() {
            Ok(r) => r,
            Err(e) => {
                log::warn!("cannot check the sentinel after the reboot: {e}");
                true
            }
        };
        let steps = plan::recovery(
            meta.unschedulable,
            !self.config.post_reboot_node_labels.is_empty(),
            self.config.annotate_nodes,
            still_required,
            node.metadata.annotations.contains_key(REBOOT_IN_PROGRESS),
        );
        if steps.uncordon {
            node::uncordon(self.client, self.node_id())?;
            log::info!("uncordoned {}", self.node_id());
            if after == After::Reboot {
                self.event("Uncordoned", "kured uncordoned the node after its reboot");
                self.notify(&self.config.message_template_uncordon);
            }
        } else {
            log::info!("{} was cordoned before kured took it: leaving it cordoned", self.node_id());
        }
        if steps.post_labels {
            node::set_labels(self.client, self.node_id(), &self.config.post_reboot_node_labels)?;
        }
        if steps.remove_in_progress {
            node::remove_annotations(self.client, self.node_id(), &[REBOOT_IN_PROGRESS])?;
        }
        self.unhold(&node.metadata.annotations, after == After::Reboot);
        if !self.config.lock_release_delay.is_zero() {
            log::info!("releasing the lock in {:?}", self.config.lock_release_delay);
            self.clock.sleep(self.config.lock_release_delay);
        }
        lock.release()
    }

    /// A lock still held while no reboot is pending (a release or uncordon that
    /// failed earlier): finish it now rather than block the fleet. Costs one
    /// DaemonSet read per period.
    pub(super) fn release_leftover_lock(&self) {
        if let Err(e) = self.try_recover(After::Leftover) {
            log::error!("cannot release a leftover lock, will retry: {e}");
        }
    }
}
