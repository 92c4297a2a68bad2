//! The attempt's two ends: draining the node (pre-reboot labels, drain delay,
//! notification, cordon, evictions, giving way to an earlier lock holder when
//! PodDisruptionBudgets stall the drain, halting when the lock is lost: see
//! `holder`), and giving up (uncordon if the cordon is ours, post-reboot
//! labels, release the lock) after a failed drain, a failed or timed-out
//! reboot, or a stop. The machine decides which; this file does it.

use super::holder::{HolderGuide, Lost};
use super::machine::{DrainOutcome, Take};
use super::Agent;
use crate::drain::{drain_node_guided, DrainOptions, Drained};
use crate::lock::stale::EntryKey;
use crate::node;
use crate::status::Phase;

impl Agent<'_> {
    /// Pre-reboot labels, drain delay, notification, cordon, evictions; the
    /// holder's checks before the cordon and as the drain goes.
    pub(super) fn drain(&mut self) -> DrainOutcome {
        let started = std::time::Instant::now();
        let outcome = self.drain_node();
        self.metrics.status.observe(Phase::Drain, started.elapsed());
        outcome
    }

    fn drain_node(&mut self) -> DrainOutcome {
        if !self.config.pre_reboot_node_labels.is_empty() {
            if let Err(e) = node::set_labels(self.client, self.node_id(), &self.config.pre_reboot_node_labels) {
                return DrainOutcome::Failed(e.to_string());
            }
        }
        if !self.config.drain_delay.is_zero() {
            log::info!("draining in {:?}", self.config.drain_delay);
            self.clock.sleep(self.config.drain_delay);
            if self.clock.stopped() {
                return DrainOutcome::Stopped;
            }
        }
        log::info!("draining node {}", self.node_id());
        self.event("Draining", "kured is draining the node for a reboot");
        self.notify(&self.config.message_template_drain);
        let opts: DrainOptions = crate::wire::drain_options(self.config);
        let (client, clock, node) = (self.client, self.clock, self.config.node_id.clone());
        let mut guide = HolderGuide { agent: self, lost: None, gave_way_to: vec![] };
        let drained = drain_node_guided(client, &node, &opts, clock, &mut guide);
        let (lost, keys) = (guide.lost.take(), std::mem::take(&mut guide.gave_way_to));
        match drained {
            Ok(Drained::GaveWay(to)) => DrainOutcome::GaveWay(to, keys),
            Ok(Drained::Halted(_)) => DrainOutcome::Lost(lost.unwrap_or(Lost::Removed)),
            _ if self.clock.stopped() => DrainOutcome::Stopped,
            Ok(Drained::Done(report)) => {
                log::info!(
                    "drained {}: {} evicted, {} deleted, {} skipped",
                    self.node_id(),
                    report.evicted.len(),
                    report.deleted.len(),
                    report.skipped.len()
                );
                DrainOutcome::Drained
            }
            Err(e) => DrainOutcome::Failed(e.to_string()),
        }
    }

    /// Asked when PodDisruptionBudgets have refused every pod left for
    /// `--drain-stall-timeout`: the nodes that took the lock before us, if any
    /// (names, entries). Each may be waiting, through its budgets, for pods
    /// that cannot start while we hold this node cordoned (all nodes draining
    /// at once, the replacements pending): the earliest holder never gives
    /// way, so one always goes on. The machine remembers them: the lock is not
    /// taken again until one of them has released it.
    pub(super) fn give_way_to(&mut self) -> Option<(Vec<String>, Vec<EntryKey>)> {
        match self.lock().earlier_holders() {
            Ok(earlier) if !earlier.is_empty() => Some((earlier.iter().map(|(n, _)| n.clone()).collect(), earlier)),
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

    /// After giving way: Some(names) while every entry this node gave way to
    /// is still in the lock; None once one is gone (the lock may be taken).
    pub(super) fn still_giving_way(&mut self, gave_way: &[EntryKey]) -> crate::Result<Option<Take>> {
        if gave_way.is_empty() {
            return Ok(None);
        }
        let lock = self.lock();
        let value = lock.read()?;
        let entries = value.as_ref().map_or(&[][..], crate::lock::LockValue::entries);
        let now = self.clock.now();
        let waiting_on: Vec<&str> = entries
            .iter()
            .filter(|e| !e.expired(now) && gave_way.contains(&crate::lock::stale::key(e)))
            .map(|e| e.node_id.as_str())
            .collect();
        if waiting_on.len() < gave_way.len() {
            return Ok(None);
        }
        // One of them may be a node that is gone.
        if self.stale_look_due() {
            self.break_stale_locks(&lock, entries);
        }
        Ok(Some(Take::GivingWay(crate::names::summary(&waiting_on))))
    }

    /// Uncordon the node when we cordoned it, then release the lock. If the
    /// uncordon fails the lock is kept: it records that the cordon is ours, and
    /// the next check (or start-up) finishes the job. Released first, the next
    /// acquisition would take our cordon for an operator's and keep it forever.
    pub(super) fn give_up(&mut self, uncordon: bool) {
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
        match self.lock().release() {
            Ok(()) => self.io.holding = None,
            Err(e) => log::error!("cannot release the lock: {e}"),
        }
    }
}
