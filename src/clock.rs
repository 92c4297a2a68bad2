//! The clock as a system boundary: wall time and sleeping. Code that waits
//! (lock retries, drain polling) takes a `&dyn Clock`, so tests can control it
//! and pure logic can receive `now` as an argument instead.

use std::time::Duration;

use time::OffsetDateTime;

pub trait Clock {
    /// Wall-clock time, UTC.
    fn now(&self) -> OffsetDateTime;
    /// Block the calling thread for `d`.
    fn sleep(&self, d: Duration);
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
    fn jitter_stays_below_max() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_millis(10)) < Duration::from_millis(10));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
