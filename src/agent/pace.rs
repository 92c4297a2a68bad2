//! What the loop does between two checks. Normally it sleeps out the
//! `--period`; a node that needs a reboot and found the lock full instead
//! waits on a watch of the lock's DaemonSet and checks again (window,
//! sentinel, blockers, lock) within about a second of a release. If the
//! watch cannot be used (RBAC without `watch`, a proxy that breaks streams)
//! it says so and sleeps out the period, as upstream does. A node that gave
//! way to earlier holders waits, the same way, for one of them to be done.
//!
//! The watch stays open from one wait to the next, and a free slot wakes
//! only the node whose turn it is ([`crate::lock::wake::turn`]): the cost of a
//! release does not grow with the number of waiting nodes.

use std::time::{Duration, Instant};

use super::effects::unit_random;
use super::{Agent, Flow};
use crate::lock::wake::{turn, Wake};

/// Checks woken by the lock are at least this far apart, so a lock that
/// looks free to the watch but not to acquisition cannot make a busy loop.
const MIN_GAP: Duration = Duration::from_millis(500);

impl Agent<'_> {
    /// Wait after a check that started at `started`, until the next is due.
    /// The watch sees a stop between events and between its requests (30 s
    /// at most), and beats /healthz there.
    pub(super) fn pace(&self, flow: Flow, started: Instant) {
        let mut left = self.config.period.saturating_sub(started.elapsed());
        // A slot that frees itself (a TTL, a broken entry's grace) sends no
        // watch event: look again then.
        if let Some(at) = self.state.lock_frees_at.take() {
            left = left.min(at.saturating_duration_since(Instant::now()) + Duration::from_millis(100));
        }
        // The window opens before the period ends: check then.
        if let Some(at) = self.state.window_opens_at.take() {
            left = left.min(at.saturating_duration_since(Instant::now()) + Duration::from_millis(100));
        }
        if flow != Flow::LockFull {
            self.clock.sleep(left);
            return;
        }
        // Even after a check longer than the period: a free slot this check
        // left to the next in line may be this node's after all.
        // (only then: a full lock is waited on for the rest of the period)
        let left = match self.state.waiting.borrow().deferred() {
            true => left.max(turn::MAX_DELAY + MIN_GAP),
            false => left,
        };
        let stop = || {
            self.clock.beat();
            self.clock.stopped()
        };
        // After giving way, the wait is for one of those holders to be done
        // (the free slot is the one this node just released).
        let gave_way = self.state.gave_way_to.borrow().clone();
        let woken = match gave_way.is_empty() {
            true => {
                let since = self.metrics.status.lock_wait_since().unwrap_or_else(|| self.clock.now());
                let mut waiting = self.state.waiting.borrow_mut();
                self.lock().wait_for_turn(&mut waiting, since, self.config.period, left, &stop)
            }
            false => self.lock().wait_for_release(&gave_way, left, &stop),
        };
        let mut waiting = self.state.waiting.borrow_mut();
        waiting.broken = woken.is_err();
        waiting.turn_due = matches!(woken, Ok(Wake::Free));
        drop(waiting);
        match woken {
            Ok(Wake::Free) => self.clock.sleep(MIN_GAP.saturating_sub(started.elapsed())),
            Ok(Wake::TimedOut | Wake::Stopped) => {}
            Err(e) => {
                let left = self.config.period.saturating_sub(started.elapsed());
                // 403: the RBAC lacks list/watch on the DaemonSet (upstream's chart): once is enough.
                let level = match e.api_kind() {
                    Some(crate::error::ApiErrorKind::Forbidden) => crate::logging::warn_once("watch the reboot lock"),
                    _ => log::Level::Warn,
                };
                log::log!(level, "cannot watch the reboot lock ({e}): checking again in {left:?} (--period)");
                self.clock.sleep(left);
            }
        }
    }
}

impl Agent<'_> {
    /// Whether this check looks up the lock holders' Nodes for stale entries
    /// (besides once a period at most): waiters near the front of the queue
    /// do, those far behind only now and then (see [`turn::looks_for_stale`]).
    pub(super) fn stale_look_wanted(&self) -> bool {
        let Some(since) = self.metrics.status.lock_wait_since() else { return true };
        // (passed over counts as far as behind: at 1,000 nodes on a slow
        // server most waiters were, and all of them looked every period)
        let offset = self.state.waiting.borrow().offset(since, self.config.period);
        turn::looks_for_stale(offset, unit_random())
    }
}
