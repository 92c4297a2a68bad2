//! The lock holder's own checks: between taking the lock and running the
//! reboot command, a holder goes on only while its lock entry still stands
//! (the same entry, by its `created`: not broken as stale, not expired past
//! renewal, not removed) and its Node is the one it took the lock for (there,
//! with the same UID). It looks right before the cordon, at least every
//! [`HOLDER_CHECK`] while it drains, and right before the reboot command. When either is gone it stops: no reboot; its cordon undone
//! if ours, kured's marks off, a Warning Event saying why, its entry let go if
//! still there; then it waits for the lock again. `lock::stale` is the other
//! end: why a live holder's entry may be broken, and the grace that gives the
//! holder time to see it.
//!
//! A Node opted out of reboots ([`crate::optout`]), seen at one of these
//! looks, stops the holder the same way (before the cordon, or before the
//! reboot command), without the Warning: the operator asked for it.

use std::time::Duration;

use time::OffsetDateTime;

use super::machine::Confirmation;
use super::Agent;
use crate::clock::jitter;
use crate::drain::Guide;
use crate::error::Result;
use crate::lock::stale::HOLDER_CHECK;
use crate::lock::{Held, Standing};
use crate::metrics::Series;
use crate::node;

/// How long the look before the reboot command may keep failing (the API
/// down, timeouts) before the attempt is given up: the reboot never runs on
/// an older look.
const CONFIRM_PATIENCE: Duration = Duration::from_secs(30);

/// What this node holds while it takes the node down.
#[derive(Debug, Clone)]
pub(super) struct Holding {
    pub held: Held,
    /// The Node object's UID when the lock was taken: a Node deleted and
    /// registered again is another object, which kured did not cordon.
    pub node_uid: String,
    /// When the entry was last seen standing (the acquiring write counts),
    /// by the loop's clock.
    pub checked: OffsetDateTime,
}

impl Holding {
    pub fn new(held: Held, node_uid: String, now: OffsetDateTime) -> Holding {
        Holding { held, node_uid, checked: now }
    }
}

/// Why a holder must stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lost {
    /// Broken as stale by that node: this Node looked gone to it.
    Broken(String),
    /// The entry's `--lock-ttl` ran out and the slot could not be renewed.
    Expired,
    /// The entry is not in the lock (removed by hand, or by another pod).
    Removed,
    /// This node's Node object does not exist (404).
    NodeMissing,
    /// This node's Node object was deleted and registered again.
    NodeReplaced,
    /// The Node was opted out of reboots (the status reason).
    OptedOut(String),
}

impl Lost {
    fn describe(&self, node: &str) -> String {
        match self {
            Lost::Broken(by) => format!(
                "the reboot lock entry of {node} was broken as stale by {by} (its Node looked gone on two checks)"
            ),
            Lost::Expired => format!("the reboot lock entry of {node} expired (--lock-ttl) and its slot was taken"),
            Lost::Removed => format!("the reboot lock entry of {node} was removed (by hand, or by another pod)"),
            Lost::NodeMissing => format!("the Node object {node} does not exist any more"),
            Lost::NodeReplaced => format!("the Node object {node} was deleted and registered again"),
            Lost::OptedOut(why) => format!("{node} is {why} ({})", crate::optout::KEY),
        }
    }
}

impl Agent<'_> {
    /// A fresh look: None = still ours. An error = cannot tell now.
    fn look(&mut self) -> Result<Option<Lost>> {
        let lock = self.lock();
        let Some(h) = self.io.holding.as_mut() else { return Ok(Some(Lost::Removed)) };
        let lost = match lock.confirm(&mut h.held)? {
            Standing::Held => None,
            Standing::Broken(by) => Some(Lost::Broken(by)),
            Standing::Expired => Some(Lost::Expired),
            Standing::Gone => Some(Lost::Removed),
        };
        if lost.is_some() {
            return Ok(lost);
        }
        let uid = h.node_uid.clone();
        let lost = match self.client.get_node(self.node_id()) {
            Ok(n) if !uid.is_empty() && !n.metadata.uid.is_empty() && n.metadata.uid != uid => Some(Lost::NodeReplaced),
            Ok(n) => crate::optout::opted_out(&n.metadata.labels, &n.metadata.annotations).map(Lost::OptedOut),
            Err(e) if e.is_not_found() => Some(Lost::NodeMissing),
            Err(e) => return Err(e),
        };
        if lost.is_none() {
            if let Some(h) = self.io.holding.as_mut() {
                h.checked = self.clock.now();
            }
        }
        Ok(lost)
    }

    /// While draining: a look when the last one is older than `max_age`
    /// ([`HOLDER_CHECK`]; zero right before the cordon). A look that fails
    /// goes on on the last one (the next round looks again; the reboot
    /// command waits for a good one).
    pub(super) fn still_holding(&mut self, max_age: Duration) -> Option<Lost> {
        let checked = self.io.holding.as_ref().map(|h| h.checked)?;
        if self.clock.now() - checked < max_age {
            return None;
        }
        match self.look() {
            Ok(lost) => lost,
            Err(e) => {
                log::warn!(
                    "cannot confirm that {} still holds the reboot lock ({e}); draining on, looking again soon",
                    self.node_id()
                );
                None
            }
        }
    }

    /// Right before the reboot command: Held = a look just now found the
    /// entry and the Node ours. Unsure = no look succeeded within
    /// [`CONFIRM_PATIENCE`] (or a stop came): do not reboot now.
    pub(super) fn confirm_before_reboot(&mut self) -> Confirmation {
        let started = self.clock.now();
        let mut wait = Duration::from_millis(500);
        loop {
            match self.look() {
                Ok(None) => return Confirmation::Held,
                Ok(Some(lost)) => return Confirmation::Lost(lost),
                Err(e) if self.clock.now() - started + wait < CONFIRM_PATIENCE && !self.clock.stopped() => {
                    log::warn!(
                        "cannot confirm that {} still holds the reboot lock before rebooting ({e}); retrying",
                        self.node_id()
                    );
                    self.clock.sleep(wait + jitter(wait));
                    wait = (wait * 2).min(Duration::from_secs(8));
                }
                Err(e) => {
                    log::error!(
                        "cannot confirm that {} still holds the reboot lock ({e}): not rebooting on an old look",
                        self.node_id()
                    );
                    return Confirmation::Unsure;
                }
            }
        }
    }

    /// Stop an attempt whose lock is lost: put the node back, say so, let the
    /// entry go if it is still there. Never reboots. False when kured's
    /// cordon may be left with no entry recording it.
    pub(super) fn lock_lost(&mut self, lost: &Lost, was_cordoned: bool) -> bool {
        let why = lost.describe(self.node_id());
        if let Lost::OptedOut(_) = lost {
            log::info!("{why}: not rebooting; putting the node back and letting the lock go");
        } else {
            log::warn!("{why}: not rebooting; putting the node back and waiting for the lock again");
            self.metrics.inc(Series::LockLost, self.node_id());
        }
        // A Node registered again is a new object: its cordon, if any, is not
        // ours. A Node that answered 404 may still be there (a stray 404): try.
        let put_back = was_cordoned || *lost == Lost::NodeReplaced || self.uncordon_patiently();
        match lost {
            Lost::NodeMissing => self.daemonset_warning(
                "LockLost",
                &format!("kured on {}: {why}; the node was not rebooted", self.node_id()),
            ),
            Lost::OptedOut(_) => self.unhold_now(),
            _ => {
                self.unhold_now();
                self.warning("LockLost", &format!("kured: {why}; the node was not rebooted, and is put back"));
            }
        }
        if let Some(h) = self.io.holding.take() {
            if !matches!(lost, Lost::Removed) {
                match self.lock().release_entry(&h.held.key) {
                    Ok(true) => log::info!("let go of {}'s lock entry", self.node_id()),
                    Ok(false) => {}
                    Err(e) => {
                        log::warn!("cannot remove {}'s lock entry (it expires or is swept): {e}", self.node_id())
                    }
                }
            }
        }
        put_back
    }

    /// Uncordon, a few tries: once the entry is gone nothing in the lock
    /// records that the cordon is ours. True when done.
    fn uncordon_patiently(&self) -> bool {
        let mut wait = Duration::from_secs(1);
        for attempt in 1..=4 {
            match node::uncordon(self.client, self.node_id()) {
                Ok(()) => {
                    if !self.config.post_reboot_node_labels.is_empty() {
                        if let Err(e) =
                            node::set_labels(self.client, self.node_id(), &self.config.post_reboot_node_labels)
                        {
                            log::warn!("cannot set the post-reboot labels on {}: {e}", self.node_id());
                        }
                    }
                    return true;
                }
                // Gone, or a stray 404 (chaos, a flapping proxy): not known
                // to be undone, so the next take records the cordon as ours.
                Err(e) if e.is_not_found() => return false,
                Err(e) if attempt < 4 && !self.clock.stopped() => {
                    log::warn!("cannot uncordon {} yet: {e}", self.node_id());
                    self.clock.sleep(wait);
                    wait *= 2;
                }
                Err(e) => log::error!(
                    "cannot uncordon {}: {e}; the next attempt (or kubectl uncordon) undoes it",
                    self.node_id()
                ),
            }
        }
        false
    }
}

/// The drain's questions, answered by the holder: halt when the lock is lost,
/// give way when an earlier holder may be waiting on us.
pub(super) struct HolderGuide<'g, 'a> {
    pub agent: &'g mut Agent<'a>,
    /// Why the drain was halted, for the caller.
    pub lost: Option<Lost>,
    /// The entries given way to, for the caller.
    pub gave_way_to: Vec<crate::lock::stale::EntryKey>,
}

impl HolderGuide<'_, '_> {
    fn halt_if_older(&mut self, max_age: Duration) -> Option<String> {
        let lost = self.agent.still_holding(max_age)?;
        let why = lost.describe(self.agent.node_id());
        self.lost = Some(lost);
        Some(why)
    }
}

impl Guide for HolderGuide<'_, '_> {
    fn check_every(&self) -> Option<Duration> {
        Some(HOLDER_CHECK)
    }

    fn halt(&mut self) -> Option<String> {
        self.halt_if_older(HOLDER_CHECK)
    }

    /// A Node deleted and registered since the lock was taken must not be
    /// cordoned: that cordon would pass for the new object's own.
    fn halt_before_cordon(&mut self) -> Option<String> {
        self.halt_if_older(Duration::ZERO)
    }

    fn give_way(&mut self) -> Option<Vec<String>> {
        let (names, keys) = self.agent.give_way_to()?;
        self.gave_way_to = keys;
        Some(names)
    }
}
