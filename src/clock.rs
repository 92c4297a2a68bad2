//! The clock as a system boundary: wall time and sleeping. Code that waits
//! (lock retries, drain polling) takes a `&dyn Clock`, so tests can control it
//! and pure logic can receive `now` as an argument instead. The daemon's clock
//! ([`DaemonClock`]) sleeps by waiting on the stop flag, so SIGTERM cuts any
//! wait short, and beats the loop's heartbeat while it waits.
//!
//! Test-only: `KURED_RS_TEST_CLOCK_OFFSET_MS` shifts this daemon's wall clock
//! ([`wall_now`]) by that many milliseconds, so the chaos campaign can give
//! each node's daemon a skewed clock (the binary is static: no libfaketime).
//! Sleeps, timeouts and log timestamps keep the host's clocks.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

use crate::error::{Error, Result};

/// The test-only wall-clock offset's environment variable (see the module comment).
pub const TEST_OFFSET_VAR: &str = "KURED_RS_TEST_CLOCK_OFFSET_MS";
/// A skew larger than a day is no skew a test means.
const MAX_TEST_OFFSET_MS: i64 = 86_400_000;
static TEST_OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// The daemon's wall-clock time, UTC: the host's, shifted by the test-only
/// offset when one was set.
pub fn wall_now() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::milliseconds(TEST_OFFSET_MS.load(Ordering::Relaxed))
}

/// Read [`TEST_OFFSET_VAR`] once at start-up (after logging is set up: a set
/// offset is logged as a warning, so it cannot pass unnoticed on a real node).
pub fn apply_test_offset(env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let Some(text) = env(TEST_OFFSET_VAR) else { return Ok(()) };
    let ms = parse_test_offset(&text)
        .map_err(|why| Error::Usage(format!("invalid value {text:?} for {TEST_OFFSET_VAR}: {why}")))?;
    TEST_OFFSET_MS.store(ms, Ordering::Relaxed);
    if ms != 0 {
        log::warn!("{TEST_OFFSET_VAR}={ms}: this daemon's wall clock is shifted by {ms} ms (a test hook, never for real nodes)");
    }
    Ok(())
}

fn parse_test_offset(text: &str) -> std::result::Result<i64, String> {
    let ms: i64 = text.trim().parse().map_err(|_| "expected whole milliseconds, e.g. -2500".to_string())?;
    if ms.abs() > MAX_TEST_OFFSET_MS {
        return Err(format!("more than a day ({MAX_TEST_OFFSET_MS} ms)"));
    }
    Ok(ms)
}

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
        wall_now()
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
    fn test_offsets_parse_within_a_day() {
        assert_eq!(parse_test_offset("0"), Ok(0));
        assert_eq!(parse_test_offset("-2500"), Ok(-2500));
        assert_eq!(parse_test_offset(" 4000 "), Ok(4000));
        assert_eq!(parse_test_offset("86400000"), Ok(86_400_000));
        assert!(parse_test_offset("86400001").unwrap_err().contains("more than a day"));
        assert!(parse_test_offset("1.5").unwrap_err().contains("whole milliseconds"));
        assert!(parse_test_offset("").is_err());
        let err = apply_test_offset(&|_| Some("soon".into())).unwrap_err();
        assert_eq!((err.exit_code(), err.to_string().contains(TEST_OFFSET_VAR)), (2, true));
    }

    #[test]
    fn jitter_stays_below_max() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_millis(10)) < Duration::from_millis(10));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
