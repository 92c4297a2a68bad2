//! Taking the lock, as a check does once nothing else holds the reboot back:
//! after giving way, first whether the holders given way to are still there;
//! then the queued take (`lock::wake`), which may find the lock full, leave a
//! free slot to the node whose turn it is, find reboots paused, or hold a
//! control-plane node back (the quorum guard). A full lock's entries of
//! deleted nodes are looked at (`stale.rs`) and, once broken, the take is
//! tried once more. The machine decides what each answer means.

use super::holder::Holding;
use super::machine::{Observation, Take};
use super::Agent;
use crate::lock::stale::EntryKey;
use crate::lock::wake::Queued;
use crate::lock::{LockMeta, Taken};

impl Agent<'_> {
    pub(super) fn take_lock(&mut self, wanted: LockMeta, gave_way_to: &[EntryKey]) -> Observation {
        match self.try_take(wanted, gave_way_to) {
            Ok(take) => Observation::Lock(take),
            Err(e) => Observation::Failed(e.to_string()),
        }
    }

    fn try_take(&mut self, wanted: LockMeta, gave_way_to: &[EntryKey]) -> crate::Result<Take> {
        if let Some(giving_way) = self.still_giving_way(gave_way_to)? {
            return Ok(giving_way);
        }
        let lock = self.lock();
        for attempt in 0..2 {
            let since = self.metrics.status.lock_wait_since();
            let taken = match lock.try_acquire_queued(wanted.clone(), since, &mut self.io.waiting) {
                Ok(taken) => taken,
                // Deleted (a re-install): wait on its watch for it to be back.
                Err(e) if e.is_not_found() => return Ok(Take::Missing),
                Err(e) => return Err(e),
            };
            match taken {
                Queued::Paused(why) => return Ok(Take::Paused(why)),
                Queued::Deferred => return Ok(Take::Deferred),
                Queued::Guarded(wait) => {
                    return Ok(Take::Guarded { reason: wait.reason(), readiness: wait.readiness() });
                }
                Queued::Taken(Taken::Acquired(held)) => {
                    let was_cordoned = held.meta.unschedulable;
                    let uid = self.io.node.as_ref().map(|n| n.metadata.uid.clone()).unwrap_or_default();
                    self.io.holding = Some(Holding::new(held, uid, self.clock.now()));
                    return Ok(Take::Taken { was_cordoned });
                }
                Queued::Taken(Taken::Full { holders, entries }) => {
                    if attempt == 0
                        && self.stale_look_wanted()
                        && self.stale_look_due()
                        && self.break_stale_locks(&lock, &entries)
                    {
                        continue;
                    }
                    if let Some(d) = crate::lock::next_expiry(&entries, self.clock.now()) {
                        self.note_lock_frees_in(d);
                    }
                    // A hand-written lock may name nobody ({} holds it as "").
                    let names: Vec<&str> =
                        holders.iter().map(|h| if h.is_empty() { "\"\"" } else { h.as_str() }).collect();
                    return Ok(Take::Full(crate::names::summary(&names)));
                }
            }
        }
        Ok(Take::Full(String::new()))
    }
}
