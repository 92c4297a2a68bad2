//! The attempt's two ends: draining the node (pre-reboot labels, drain delay,
//! notification, cordon, evictions, giving way to an earlier lock holder when
//! PodDisruptionBudgets stall the drain, halting when the lock is lost: see
//! `holder`), and giving up (uncordon if the cordon
//! is ours, post-reboot labels, release the lock) after a failed drain, a
//! failed or timed-out reboot, or a stop.

use super::holder::{HolderGuide, Holding, Lost};
use super::Agent;
use crate::drain::{drain_node_guided, DrainOptions, Drained};
use crate::error::{Error, Result};
use crate::lock::DaemonSetLock;
use crate::node;
use crate::status::Blocked;

/// How the drain step ended, short of a failure.
pub(super) enum DrainStep {
    Drained,
    GaveWay(Vec<String>),
    Lost(Lost),
}

impl Agent<'_> {
    /// Pre-reboot labels, drain delay, notification, cordon, evictions; the
    /// holder's checks before the cordon and as the drain goes.
    pub(super) fn drain(&self, lock: &DaemonSetLock<'_>, holding: &mut Holding) -> Result<DrainStep> {
        if !self.config.pre_reboot_node_labels.is_empty() {
            node::set_labels(self.client, self.node_id(), &self.config.pre_reboot_node_labels)?;
        }
        if !self.config.drain_delay.is_zero() {
            log::info!("draining in {:?}", self.config.drain_delay);
            self.clock.sleep(self.config.drain_delay);
            if self.clock.stopped() {
                return Err(Error::Drain("stopping".into()));
            }
        }
        log::info!("draining node {}", self.node_id());
        self.event("Draining", "kured is draining the node for a reboot");
        self.notify(&self.config.message_template_drain);
        let opts: DrainOptions = crate::wire::drain_options(self.config);
        let mut guide = HolderGuide { agent: self, lock, holding, lost: None };
        let drained = drain_node_guided(self.client, self.node_id(), &opts, self.clock, &mut guide);
        let lost = guide.lost.take();
        let report = match drained {
            Ok(Drained::Done(report)) => report,
            Ok(Drained::GaveWay(to)) => return Ok(DrainStep::GaveWay(to)),
            Ok(Drained::Halted(_)) => return Ok(DrainStep::Lost(lost.unwrap_or(Lost::Removed))),
            Err(e) => return Err(e),
        };
        log::info!(
            "drained {}: {} evicted, {} deleted, {} skipped",
            self.node_id(),
            report.evicted.len(),
            report.deleted.len(),
            report.skipped.len()
        );
        Ok(DrainStep::Drained)
    }

    /// Asked when PodDisruptionBudgets have refused every pod left for
    /// `--drain-stall-timeout`: the nodes that took the lock before us, if any.
    /// Each may be waiting, through its budgets, for pods that cannot start
    /// while we hold this node cordoned (all nodes draining at once, the
    /// replacements pending): the earliest holder never gives way, so one
    /// always goes on. Remembered: the lock is not taken again until one of
    /// them has released it.
    pub(super) fn give_way_to(&self, lock: &DaemonSetLock<'_>) -> Option<Vec<String>> {
        match lock.earlier_holders() {
            Ok(earlier) if !earlier.is_empty() => {
                let names = earlier.iter().map(|(n, _)| n.clone()).collect();
                *self.state.gave_way_to.borrow_mut() = earlier;
                Some(names)
            }
            Ok(_) => {
                log::info!("drain {}: this node took the lock first of its holders: waiting on", self.node_id());
                None
            }
            Err(e) => {
                log::warn!(
                    "drain {}: cannot read the lock to decide whether to give way ({e}): waiting on",
                    self.node_id()
                );
                None
            }
        }
    }

    /// After giving way: true (the wait reported, the taint set) while every
    /// entry this node gave way to is still in the lock; once one is gone they
    /// are forgotten and the lock may be taken again.
    pub(super) fn still_giving_way(&self, lock: &DaemonSetLock<'_>) -> Result<bool> {
        let gave_way = self.state.gave_way_to.borrow().clone();
        if gave_way.is_empty() {
            return Ok(false);
        }
        let value = lock.read()?;
        let entries = value.as_ref().map_or(&[][..], crate::lock::LockValue::entries);
        let now = self.clock.now();
        let waiting_on: Vec<&str> = entries
            .iter()
            .filter(|e| !e.expired(now) && gave_way.contains(&crate::lock::stale::key(e)))
            .map(|e| e.node_id.as_str())
            .collect();
        if waiting_on.len() < gave_way.len() {
            self.state.gave_way_to.borrow_mut().clear();
            return Ok(false);
        }
        // One of them may be a node that is gone.
        if self.stale_look_due() {
            self.break_stale_locks(lock, entries);
        }
        let names = crate::names::summary(&waiting_on);
        log::info!("gave way to {names}: taking the lock again once one of them has released it");
        self.metrics.status.lock_wait_started(now);
        self.report(
            "pending",
            &format!("gave way to {names} (drain stalled on PodDisruptionBudgets)"),
            Some(Blocked::Lock),
        );
        self.set_taint(true);
        Ok(true)
    }

    /// Uncordon the node when we cordoned it, then release the lock. If the
    /// uncordon fails the lock is kept: it records that the cordon is ours, and
    /// the next check (or start-up) finishes the job. Released first, the next
    /// acquisition would take our cordon for an operator's and keep it forever.
    pub(super) fn give_up(&self, lock: &DaemonSetLock<'_>, uncordon: bool) {
        if uncordon {
            match node::uncordon(self.client, self.node_id()) {
                Ok(()) => log::info!("uncordoned {}", self.node_id()),
                Err(e) => {
                    log::error!("cannot uncordon {}, keeping the lock to retry: {e}", self.node_id());
                    return;
                }
            }
            // As upstream's uncordon: the post-reboot labels undo the pre-reboot ones.
            if !self.config.post_reboot_node_labels.is_empty() {
                if let Err(e) = node::set_labels(self.client, self.node_id(), &self.config.post_reboot_node_labels) {
                    log::warn!("cannot set the post-reboot labels on {}: {e}", self.node_id());
                }
            }
        }
        self.unhold_now();
        // The release delay throttles reboots after failures too, as upstream
        // (not when stopping: the pod is going away).
        if !self.config.lock_release_delay.is_zero() && !self.clock.stopped() {
            self.clock.sleep(self.config.lock_release_delay);
        }
        if let Err(e) = lock.release() {
            log::error!("cannot release the lock: {e}");
        }
    }
}
