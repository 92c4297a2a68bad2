//! What the loop does between two checks. Normally it sleeps out the
//! `--period`; a node that needs a reboot and found the lock full instead
//! waits on a watch of the lock's DaemonSet and checks again (window,
//! sentinel, blockers, lock) within about a second of a release. If the
//! watch cannot be used (RBAC without `watch`, a proxy that breaks streams)
//! it says so and sleeps out the period, as upstream does. A node that gave
//! way to earlier holders waits, the same way, for one of them to be done.

use std::time::{Duration, Instant};

use super::{Agent, Flow};
use crate::clock::jitter;
use crate::lock::wake::Wake;

/// Checks woken by the lock are at least this far apart, so a lock that
/// looks free to the watch but not to acquisition cannot make a busy loop.
const MIN_GAP: Duration = Duration::from_millis(500);
/// Spread the nodes a release wakes, so they do not all ask at the same instant.
const WAKE_SPREAD: Duration = Duration::from_millis(300);

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
        if flow != Flow::LockFull || left.is_zero() {
            self.clock.sleep(left);
            return;
        }
        let stop = || {
            self.clock.beat();
            self.clock.stopped()
        };
        // After giving way, the wait is for one of those holders to be done
        // (the free slot is the one this node just released).
        let gave_way = self.state.gave_way_to.borrow().clone();
        let woken = match gave_way.is_empty() {
            true => self.lock().wait_for_free_slot(left, &stop),
            false => self.lock().wait_for_release(&gave_way, left, &stop),
        };
        match woken {
            Ok(Wake::Free) => {
                log::info!("the reboot lock has a free slot: checking again");
                let gap = MIN_GAP.saturating_sub(started.elapsed());
                self.clock.sleep(gap + jitter(WAKE_SPREAD));
            }
            Ok(Wake::TimedOut | Wake::Stopped) => {}
            Err(e) => {
                let mut left = self.config.period.saturating_sub(started.elapsed());
        // A slot that frees itself (a TTL, a broken entry's grace) sends no
        // watch event: look again then.
        if let Some(at) = self.state.lock_frees_at.take() {
            left = left.min(at.saturating_duration_since(Instant::now()) + Duration::from_millis(100));
        }
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
