//! Finishing a reboot: when this node holds the lock at start-up (the reboot
//! happened, or a previous pod died on the way), or holds it with nothing left
//! to do, put the node back as the lock recorded it was and release the lock.
//! The boot ID recorded in the lock tells a reboot from a restart of the pod:
//! only a reboot is announced (Event, notification). The sentinel, which may be
//! a slow command, is asked only after the lock is released; its answer clears
//! the reboot-in-progress annotation and feeds the reboot-loop guard.

use std::time::Duration;

use super::plan::{self, Boot};
use super::{Agent, REBOOT_IN_PROGRESS, RECOVERY_RETRY};
use crate::clock::jitter;
use crate::error::Result;
use crate::lock::LockMeta;
use crate::metrics::Series;
use crate::node;

/// Why the lock is still ours: at start-up (or once the boot ID changed under
/// us) the boot ID decides; a leftover from a failed give-up is put back quietly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    Start,
    Leftover,
}

/// The steps already done, so a retry redoes only the one that failed (and
/// never sends the notification or the Event twice).
#[derive(Debug, Default)]
struct Done {
    uncordoned: bool,
    announced: bool,
    labelled: bool,
    /// the release gate passed and kured's marks came off
    unheld: bool,
    /// A release was sent: what the recovery found. Should its answer be lost
    /// (a timeout, a reset) after the server applied it, the next try finds the
    /// lock no longer ours and must still finish with this, or the reboot-loop
    /// count riding in the released entry is lost (chaos seed 13090294232347265417).
    release_sent: Option<Finished>,
}

/// What a finished recovery found.
#[derive(Debug, Clone)]
struct Finished {
    boot: Boot,
    meta: LockMeta,
    in_progress_annotation: bool,
}

impl Agent<'_> {
    /// Start-up: if this node holds the lock, a reboot it started is over (or
    /// the previous pod died on the way): put the node back and release. Retried
    /// until done, so a node is never left cordoned because the API was down.
    pub fn recover(&self) {
        let finished = self.recover_until_done();
        if self.clock.stopped() {
            return;
        }
        let required = self.host.reboot_required().map_err(|e| e.to_string());
        if let Some(f) = &finished {
            self.after_release(f, &required);
        }
        // Remove the taint at once after start-up so the node takes pods again.
        if let Ok(false) = required {
            self.set_taint(false);
        }
    }

    /// The lock released after the boot ID changed while this process ran.
    pub(super) fn release_after_reboot(&self) {
        if let Some(f) = self.recover_until_done() {
            let required = self.host.reboot_required().map_err(|e| e.to_string());
            self.after_release(&f, &required);
        }
    }

    fn recover_until_done(&self) -> Option<Finished> {
        let mut done = Done::default();
        loop {
            match self.try_recover(After::Start, &mut done) {
                Ok(finished) => return finished,
                Err(e) => log::error!("finishing the previous reboot failed, will retry: {e}"),
            }
            let wait = RECOVERY_RETRY.min(self.config.period);
            self.clock.sleep(wait + jitter(wait / 10 + Duration::from_millis(1)));
            if self.clock.stopped() {
                return None;
            }
        }
    }

    fn try_recover(&self, after: After, done: &mut Done) -> Result<Option<Finished>> {
        let lock = self.lock();
        let (value, pause) = lock.look()?;
        *self.state.pause_seen.borrow_mut() = pause;
        let Some(meta) = crate::lock::holding(value.as_ref(), self.node_id()) else {
            // Not ours: an entry of a deleted node is still removed when nobody
            // needs the lock, rather than held forever (chaos seed 10480434965161869427).
            if let Some(v) = value.filter(|v| v.entries().iter().any(|e| e.node_id != self.node_id())) {
                if self.stale_look_due() {
                    self.break_stale_locks(&lock, v.entries());
                }
            }
            return Ok(done.release_sent.take());
        };
        let node = self.client.get_node(self.node_id())?;
        let boot = match after {
            After::Start => plan::boot(meta.boot_id.as_deref(), node.boot_id()),
            After::Leftover => Boot::SameBoot,
        };
        match (after, boot) {
            (After::Leftover, _) => log::info!("{} still holds the reboot lock: putting the node back", self.node_id()),
            (_, Boot::SameBoot) => log::info!(
                "{} holds the reboot lock, but the node did not reboot (same boot ID): putting it back without claiming a reboot",
                self.node_id()
            ),
            (_, Boot::Rebooted) => log::info!("{} holds the reboot lock and rebooted (new boot ID): finishing the reboot", self.node_id()),
            (_, Boot::Unknown) => log::info!("{} holds the reboot lock: finishing the reboot", self.node_id()),
        }
        let steps = plan::recovery(meta.unschedulable, !self.config.post_reboot_node_labels.is_empty(), boot);
        if steps.uncordon && !done.uncordoned {
            node::uncordon(self.client, self.node_id())?;
            done.uncordoned = true;
            log::info!("uncordoned {}", self.node_id());
        } else if !steps.uncordon {
            log::info!("{} was cordoned before kured took it: leaving it cordoned", self.node_id());
        }
        // A pod stopped in the release gate announced this reboot already.
        if super::fleet::in_release_gate(&node.metadata.annotations) {
            done.announced = true;
        }
        if steps.announce && after == After::Start && !done.announced {
            done.announced = true;
            self.event("Uncordoned", "kured uncordoned the node after its reboot");
            self.notify(&self.config.message_template_uncordon);
        }
        if steps.post_labels && !done.labelled {
            node::set_labels(self.client, self.node_id(), &self.config.post_reboot_node_labels)?;
            done.labelled = true;
        }
        if !done.unheld {
            if !self.unhold(&node.metadata.annotations, after == After::Start && boot != Boot::SameBoot) {
                return Ok(None);
            }
            done.unheld = true;
        }
        if !self.config.lock_release_delay.is_zero() && !self.clock.stopped() {
            log::info!("releasing the lock in {:?}", self.config.lock_release_delay);
            self.clock.sleep(self.config.lock_release_delay);
        }
        let in_progress_annotation = node.metadata.annotations.contains_key(REBOOT_IN_PROGRESS);
        let finished = Finished { boot, meta, in_progress_annotation };
        done.release_sent = Some(finished.clone());
        lock.release()?;
        Ok(Some(finished))
    }

    /// With the lock released: the reboot-in-progress annotation, and the
    /// reboot-loop guard's count.
    fn after_release(&self, f: &Finished, required: &std::result::Result<bool, String>) {
        if plan::remove_in_progress(self.config.annotate_nodes, f.in_progress_annotation, f.boot, required) {
            if let Err(e) = node::remove_annotations(self.client, self.node_id(), &[REBOOT_IN_PROGRESS]) {
                log::warn!("cannot remove {REBOOT_IN_PROGRESS} from {}: {e}", self.node_id());
            }
        }
        let streak = plan::next_streak(f.meta.reboot_streak, f.boot, required);
        self.state.streak.set(streak);
        if streak > 0 {
            log::warn!("the sentinel still says a reboot is required after {streak} reboot(s) in a row");
        }
        if plan::loop_stopped(streak, self.config.reboot_loop_limit) && !self.state.loop_reported.get() {
            self.state.loop_reported.set(true);
            let why = format!(
                "kured stopped rebooting the node: {streak} reboots in a row left the reboot sentinel set \
                 (--reboot-loop-limit={}); reboots resume once the sentinel is clear, or after a restart of kured",
                self.config.reboot_loop_limit
            );
            log::warn!("{why}");
            self.warning("RebootLoop", &why);
            self.metrics.set(Series::RebootLoopStopped, self.node_id(), 1);
        }
    }

    /// The sentinel is clear: the reboot-loop guard starts over.
    pub(super) fn sentinel_cleared(&self) {
        if self.state.streak.get() > 0 {
            log::info!("the reboot sentinel is clear: the reboot-loop count starts over");
            self.state.streak.set(0);
        }
        if self.state.loop_reported.replace(false) {
            self.metrics.set(Series::RebootLoopStopped, self.node_id(), 0);
        }
    }

    /// A lock still held while no reboot is pending (a release or uncordon that
    /// failed earlier): finish it now rather than block the fleet. Costs one
    /// DaemonSet read per period.
    pub(super) fn release_leftover_lock(&self) {
        if let Err(e) = self.try_recover(After::Leftover, &mut Done::default()) {
            log::error!("cannot release a leftover lock, will retry: {e}");
        }
        // A cordon left by a lost lock whose uncordon failed (see `holder`).
        if self.state.our_cordon.get() {
            match node::uncordon(self.client, self.node_id()) {
                Ok(()) => self.state.our_cordon.set(false),
                Err(e) if e.is_not_found() => self.state.our_cordon.set(false),
                Err(e) => {
                    log::error!("cannot uncordon {} (kured's cordon from a lost lock), will retry: {e}", self.node_id())
                }
            }
        }
    }
}
