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
use super::machine::rules::initial_delay;
use super::machine::{Observation, Wait};
use super::Agent;
use crate::clock::jitter;
use crate::lock::wake::{turn, Wake};

/// Checks woken by the lock are at least this far apart, so a lock that
/// looks free to the watch but not to acquisition cannot make a busy loop.
const MIN_GAP: Duration = Duration::from_millis(500);

impl Agent<'_> {
    /// Wait as the machine asked; Tick when the next look is due, Stop when a
    /// stop came. A wait for the next check lasts the rest of the period since
    /// the check started. The watch sees a stop between events and between
    /// its requests (30 s at most), and beats /healthz there.
    pub(super) fn pace(&mut self, wait: &Wait) -> Observation {
        match wait {
            Wait::FirstCheck => self.clock.sleep(initial_delay(self.config.period, unit_random())),
            Wait::Retry(d) => self.clock.sleep(*d + jitter(*d / 10 + Duration::from_millis(1))),
            Wait::Reboot(d) => self.clock.sleep(*d),
            Wait::Period => self.clock.sleep(self.rest_of_period()),
            Wait::Lock | Wait::GaveWay(_) => self.wait_on_lock(wait),
        }
        match self.clock.stopped() {
            true => Observation::Stop,
            false => Observation::Tick,
        }
    }

    /// What is left of the period since the check started, cut short when a
    /// slot frees itself (a TTL, a broken entry's grace: no watch event says
    /// so) or the window opens before the period ends.
    fn rest_of_period(&mut self) -> Duration {
        let started = self.io.check_started.unwrap_or_else(Instant::now);
        let mut left = self.config.period.saturating_sub(started.elapsed());
        if let Some(at) = self.io.lock_frees_at.take() {
            left = left.min(at.saturating_duration_since(Instant::now()) + Duration::from_millis(100));
        }
        if let Some(at) = self.io.window_opens_at.take() {
            left = left.min(at.saturating_duration_since(Instant::now()) + Duration::from_millis(100));
        }
        left
    }

    /// On the lock's watch: for this node's turn at a free slot, or (after
    /// giving way) for one of the holders given way to to be done.
    fn wait_on_lock(&mut self, wait: &Wait) {
        let started = self.io.check_started.unwrap_or_else(Instant::now);
        let left = self.rest_of_period();
        // Even after a check longer than the period: a free slot this check
        // left to the next in line may be this node's after all.
        // (only then: a full lock is waited on for the rest of the period)
        let left = match self.io.waiting.deferred() {
            true => left.max(turn::MAX_DELAY + MIN_GAP),
            false => left,
        };
        let clock = self.clock;
        let stop = || {
            clock.beat();
            clock.stopped()
        };
        let lock = self.lock();
        let woken = match wait {
            Wait::GaveWay(gave_way) => lock.wait_for_release(gave_way, left, &stop),
            _ => {
                let since = self.metrics.status.lock_wait_since().unwrap_or_else(|| self.clock.now());
                lock.wait_for_turn(&mut self.io.waiting, since, self.config.period, left, &stop)
            }
        };
        self.io.waiting.broken = woken.is_err();
        self.io.waiting.turn_due = matches!(woken, Ok(Wake::Free));
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

    /// Whether this check looks up the lock holders' Nodes for stale entries
    /// (besides once a period at most): waiters near the front of the queue
    /// do, those far behind only now and then (see [`turn::looks_for_stale`]).
    pub(super) fn stale_look_wanted(&self) -> bool {
        let Some(since) = self.metrics.status.lock_wait_since() else { return true };
        // (passed over counts as far as behind: at 1,000 nodes on a slow
        // server most waiters were, and all of them looked every period)
        let offset = self.io.waiting.offset(since, self.config.period);
        turn::looks_for_stale(offset, unit_random())
    }
}
