//! Breaking lock entries of deleted nodes (see `lock::stale` for the rules):
//! when the lock is full, and each period when this node does not need it,
//! each kured-written entry's Node is looked up (the entries come from a read
//! the check makes anyway, so this costs one Node GET per holder); one that is
//! missing on looks a gap apart (ten minutes for a control-plane node's
//! entry) is broken (marked, its slot free after a grace), with a log line and a Warning Event on kured's DaemonSet saying
//! whose entry and why. Broken entries whose grace is over are swept.

use super::Agent;
use crate::lock::quorum;
use crate::lock::stale::{self, NodeSeen};
use crate::lock::{DaemonSetLock, LockEntry};
use crate::metrics::Series;

impl Agent<'_> {
    /// Whether the lock holders' Nodes may be looked up now: once per period,
    /// as before waking on the lock's release brought checks sooner (a look
    /// per holder per waiter per release, at 200 nodes most of the requests).
    pub(super) fn stale_look_due(&mut self) -> bool {
        let now = self.clock.now();
        let due = self.io.stale_looked.is_none_or(|t| now - t >= self.config.period);
        if due {
            self.io.stale_looked = Some(now);
        }
        due
    }

    /// True if a slot may be free now (a broken entry's grace was over).
    pub(super) fn break_stale_locks(&mut self, lock: &DaemonSetLock<'_>, entries: &[LockEntry]) -> bool {
        let now = self.clock.now();
        let mut broke = false;
        if entries.iter().any(|e| e.broken_by().is_some() && e.expired(now)) {
            match lock.sweep() {
                Ok(true) => {
                    log::info!("removed broken lock entries whose grace ({}s) is over", stale::GRACE.as_secs());
                    broke = true;
                }
                Ok(false) => {}
                Err(e) => log::warn!("cannot sweep broken lock entries: {e}"),
            }
        }
        let no_guard = quorum::Guard::default();
        let guard = lock.guard.as_ref().unwrap_or(&no_guard);
        let mut sightings = std::mem::take(&mut self.io.sightings);
        sightings.retain(&entries.iter().map(stale::key).collect::<Vec<_>>());
        let me = self.config.node_id.clone();
        for entry in entries.iter().filter(|e| e.node_id != me && !e.expired(now) && stale::breakable(e)) {
            let gap = stale::gap_for(self.config.period, quorum::is_control_plane(entry, guard));
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
                        "broke the reboot lock entry of {} (taken {}): its Node no longer exists (missing on checks {}s apart); \
                         its slot is free in {}s, once a holder that is alive after all has seen the mark and stopped",
                        entry.node_id,
                        super::effects::rfc3339(entry.created),
                        gap.as_secs(),
                        stale::GRACE.as_secs()
                    );
                    log::warn!("{why}");
                    self.daemonset_warning("StaleLockBroken", &format!("kured on {}: {why}", self.node_id()));
                    self.metrics.inc(Series::StaleLocksBroken, self.node_id());
                    self.note_lock_frees_in(stale::GRACE);
                }
                Ok(false) => log::info!("the lock entry of {} changed meanwhile: left alone", entry.node_id),
                Err(e) => log::warn!("cannot remove the stale lock entry of {}: {e}", entry.node_id),
            }
        }
        self.io.sightings = sightings;
        broke
    }
}

impl Agent<'_> {
    /// A slot may free itself in `d` with no write a watch would see (an
    /// entry's TTL, a broken entry's grace): the wait for the lock ends then.
    pub(super) fn note_lock_frees_in(&mut self, d: std::time::Duration) {
        let at = std::time::Instant::now() + d;
        let next = self.io.lock_frees_at.filter(|t| *t > std::time::Instant::now()).map_or(at, |t| t.min(at));
        self.io.lock_frees_at = Some(next);
    }
}
