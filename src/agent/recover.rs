//! Finishing a reboot, the executor's side: when this node holds the lock at
//! start-up (the reboot happened, or a previous pod died on the way), or after
//! its boot ID changed, the machine (`Recovering`, `ReleaseGate`, `Releasing`,
//! `Released`) puts the node back as the lock recorded it and releases the
//! lock; the boot ID recorded in the lock tells a reboot from a restart of the
//! pod, and only a reboot is announced. Here: the look at the lock, the
//! put-back steps, and the quiet put-back of a lock or cordon left over from
//! a failed give-up (each period when no reboot is pending).

use super::machine::{rules, Done, Observation};
use super::Agent;
use crate::lock::LockMeta;
use crate::node;

impl Agent<'_> {
    /// The lock as a recovery sees it (and, when not ours, an entry of a
    /// deleted node is still removed when nobody needs the lock, rather than
    /// held forever: chaos seed 10480434965161869427).
    pub(super) fn look_at_lock(&mut self) -> Observation {
        match self.read_lock() {
            Ok((mine, pause)) => Observation::Held { mine, pause },
            Err(e) => Observation::Failed(e.to_string()),
        }
    }

    /// This node's entry and the pause.
    fn read_lock(&mut self) -> crate::Result<(Option<LockMeta>, Option<String>)> {
        let lock = self.lock();
        let (value, pause) = lock.look()?;
        let mine = crate::lock::holding(value.as_ref(), self.node_id());
        let others = value.filter(|v| v.entries().iter().any(|e| e.node_id != self.node_id()));
        if let (None, Some(v)) = (&mine, others) {
            if self.stale_look_due() {
                self.break_stale_locks(&lock, v.entries());
            }
        }
        Ok((mine, pause))
    }

    /// A recovery's put-back steps still to do (each done once, even over
    /// retries): uncordon, announce (Event, notification), post-reboot labels.
    pub(super) fn put_back(&mut self, uncordon: bool, announce: bool, labels: bool, mut done: Done) -> Observation {
        if uncordon {
            if let Err(e) = node::uncordon(self.client, self.node_id()) {
                return Observation::Recovered { done, failed: Some(e.to_string()) };
            }
            done.uncordoned = true;
            log::info!("uncordoned {}", self.node_id());
        }
        if announce {
            done.announced = true;
            self.event("Uncordoned", "kured uncordoned the node after its reboot");
            self.notify(&self.config.message_template_uncordon);
        }
        if labels {
            if let Err(e) = node::set_labels(self.client, self.node_id(), &self.config.post_reboot_node_labels) {
                return Observation::Recovered { done, failed: Some(e.to_string()) };
            }
            done.labelled = true;
        }
        Observation::Recovered { done, failed: None }
    }

    /// A lock still held while no reboot is pending (a release or uncordon that
    /// failed earlier): put it back quietly now rather than block the fleet;
    /// and kured's cordon from a lost lock whose uncordon failed (`our_cordon`).
    /// Costs one DaemonSet read per period.
    pub(super) fn tidy(&mut self, our_cordon: bool) -> Observation {
        // (the pause counts as seen once the look succeeded, whatever follows)
        let looked = self.read_lock();
        let done = looked.as_ref().map_err(|e| e.to_string()).and_then(|(mine, _)| match mine {
            Some(meta) => self.release_leftover(meta.clone()).map_err(|e| e.to_string()),
            None => Ok(()),
        });
        if let Err(e) = done {
            log::error!("cannot release a leftover lock, will retry: {e}");
        }
        let pause = looked.ok().map(|(_, pause)| pause);
        let cordon_cleared = our_cordon
            && match node::uncordon(self.client, self.node_id()) {
                Ok(()) => true,
                Err(e) if e.is_not_found() => true,
                Err(e) => {
                    log::error!(
                        "cannot uncordon {} (kured's cordon from a lost lock), will retry: {e}",
                        self.node_id()
                    );
                    false
                }
            };
        Observation::Tidied { pause, cordon_cleared }
    }

    /// The leftover lock (this node's entry, `meta`), put back as the lock
    /// recorded the node: no reboot is claimed (the same boot).
    fn release_leftover(&mut self, meta: LockMeta) -> crate::Result<()> {
        log::info!("{} still holds the reboot lock: putting the node back", self.node_id());
        self.io.node = Some(self.client.get_node(self.node_id())?);
        let steps =
            rules::recovery(meta.unschedulable, !self.config.post_reboot_node_labels.is_empty(), rules::Boot::SameBoot);
        if steps.uncordon {
            node::uncordon(self.client, self.node_id())?;
            log::info!("uncordoned {}", self.node_id());
        } else {
            log::info!("{} was cordoned before kured took it: leaving it cordoned", self.node_id());
        }
        if steps.post_labels {
            node::set_labels(self.client, self.node_id(), &self.config.post_reboot_node_labels)?;
        }
        self.unhold(false);
        if !self.config.lock_release_delay.is_zero() && !self.clock.stopped() {
            log::info!("releasing the lock in {:?}", self.config.lock_release_delay);
            self.clock.sleep(self.config.lock_release_delay);
        }
        self.lock().release()?;
        self.io.holding = None;
        Ok(())
    }
}
