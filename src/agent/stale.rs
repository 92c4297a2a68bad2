//! Breaking lock entries of deleted nodes (see `lock::stale` for the rules):
//! when the lock is full, and each period when this node does not need it,
//! each kured-written entry's Node is looked up (the entries come from a read
//! the check makes anyway, so this costs one Node GET per holder); one that is
//! missing on two looks a gap apart is removed, with a log line and a Warning
//! Event on kured's DaemonSet saying whose entry and why.

use super::Agent;
use crate::lock::stale::{self, NodeSeen};
use crate::lock::{DaemonSetLock, LockEntry};
use crate::metrics::Series;

impl Agent<'_> {
    /// True if an entry was removed (the lock may have a free slot now).
    /// Whether the lock holders' Nodes may be looked up now: once per period,
    /// as before waking on the lock's release brought checks sooner (a look
    /// per holder per waiter per release, at 200 nodes most of the requests).
    pub(super) fn stale_look_due(&self) -> bool {
        let now = self.clock.now();
        let due = self.state.stale_looked.get().is_none_or(|t| now - t >= self.config.period);
        if due {
            self.state.stale_looked.set(Some(now));
        }
        due
    }

    pub(super) fn break_stale_locks(&self, lock: &DaemonSetLock<'_>, entries: &[LockEntry]) -> bool {
        let now = self.clock.now();
        let gap = stale::gap(self.config.period);
        let mut sightings = self.state.sightings.borrow_mut();
        sightings.retain(&entries.iter().map(stale::key).collect::<Vec<_>>());
        let mut broke = false;
        for entry in entries.iter().filter(|e| e.node_id != self.node_id() && !e.expired(now) && stale::breakable(e)) {
            let seen = match self.client.get_node(&entry.node_id) {
                Ok(_) => NodeSeen::Present,
                Err(e) if e.is_not_found() => NodeSeen::Absent,
                Err(e) => {
                    log::debug!("cannot tell whether lock holder {} exists: {e}", entry.node_id);
                    NodeSeen::Unknown
                }
            };
            if !sightings.observe(entry, seen, now, gap) {
                if seen == NodeSeen::Absent {
                    log::info!(
                        "lock holder {} has no Node object: its entry is removed if that is still so in {}s",
                        entry.node_id,
                        gap.as_secs()
                    );
                }
                continue;
            }
            match lock.break_entry(&stale::key(entry)) {
                Ok(true) => {
                    let why = format!(
                        "removed the reboot lock entry of {} (taken {}): its Node no longer exists (missing on two checks {}s apart)",
                        entry.node_id,
                        super::effects::rfc3339(entry.created),
                        gap.as_secs()
                    );
                    log::warn!("{why}");
                    self.daemonset_warning("StaleLockBroken", &format!("kured on {}: {why}", self.node_id()));
                    self.metrics.inc(Series::StaleLocksBroken, self.node_id());
                    broke = true;
                }
                Ok(false) => log::info!("the lock entry of {} changed meanwhile: left alone", entry.node_id),
                Err(e) => log::warn!("cannot remove the stale lock entry of {}: {e}", entry.node_id),
            }
        }
        broke
    }
}
