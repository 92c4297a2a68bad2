//! The clock as a system boundary: wall time and sleeping. Code that waits
//! (lock retries, drain polling) takes a `&dyn Clock`, so tests can control it
//! and pure logic can receive `now` as an argument instead. The daemon's clock
//! ([`DaemonClock`]) sleeps by waiting on the stop flag, so SIGTERM cuts any
//! wait short, and beats the loop's heartbeat while it waits.

use std::time::Duration;

use time::OffsetDateTime;

pub trait Clock {
    /// Wall-clock time, UTC.
    fn now(&self) -> OffsetDateTime;
    /// Block the calling thread for `d`, or less once a stop was asked for.
    fn sleep(&self, d: Duration);
    /// A graceful stop was asked for (SIGTERM): waits return at once, and code
    /// that loops on sleeps must give up.
    fn stopped(&self) -> bool {
        false
    }
    /// The caller made progress without sleeping (a long round of requests):
    /// a heartbeat for /healthz.
    fn beat(&self) {}
}

/// The daemon's clock: wall time, sleeps that a stop interrupts, heartbeats.
#[derive(Debug, Clone)]
pub struct DaemonClock {
    pub stop: crate::stop::Stop,
    pub health: crate::health::Health,
}

/// A long wait beats at least this often, so /healthz sees the loop alive.
const BEAT_EVERY: Duration = Duration::from_secs(10);

impl Clock for DaemonClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
    fn sleep(&self, d: Duration) {
        let deadline = std::time::Instant::now().checked_add(d);
        loop {
            self.health.beat();
            let left = deadline.map_or(BEAT_EVERY, |t| t.saturating_duration_since(std::time::Instant::now()));
            if left.is_zero() || self.stop.wait(left.min(BEAT_EVERY)) {
                self.health.beat();
                return;
            }
        }
    }
    fn stopped(&self) -> bool {
        self.stop.is_set()
    }
    fn beat(&self) {
        self.health.beat();
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// A little jitter without a random-number crate: std's `RandomState` is seeded
/// from the OS per instance. Returns a duration in `[0, max)`.
pub fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let nanos = max.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(nanos);
    Duration::from_nanos(h.finish() % nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_clock_sleeps_until_a_stop() {
        let clock = DaemonClock { stop: crate::stop::Stop::new().unwrap(), health: crate::health::Health::new() };
        let t = std::time::Instant::now();
        clock.sleep(Duration::from_millis(20));
        assert!(t.elapsed() >= Duration::from_millis(20) && !clock.stopped());
        clock.stop.trigger();
        let t = std::time::Instant::now();
        clock.sleep(Duration::from_secs(3600));
        clock.sleep(Duration::MAX);
        assert!(t.elapsed() < Duration::from_secs(10) && clock.stopped());
        assert!(clock.health.since_last_beat() < Duration::from_secs(10));
    }

    #[test]
    fn jitter_stays_below_max() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_millis(10)) < Duration::from_millis(10));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
