//! Liveness of the loop, for `/healthz`: the loop beats whenever it makes
//! progress or waits in one of its own bounded waits (the period, the drain's
//! polling, the reboot wait), so only a call that blocks past every timeout it
//! should have (a hung host command, a wedged thread) turns it unhealthy. A
//! legitimately long drain beats on every poll and stays healthy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longer than anything the loop may block in without beating: a host command
/// (5 min timeout), or an API request with its Retry-After waits (~90 s).
pub const STUCK_AFTER: Duration = Duration::from_secs(10 * 60);

/// The loop's heartbeat, shared with the metrics listener.
#[derive(Debug, Clone)]
pub struct Health {
    origin: Instant,
    /// milliseconds since `origin` at the last beat
    last: Arc<AtomicU64>,
}

impl Default for Health {
    fn default() -> Health {
        Health::new()
    }
}

impl Health {
    pub fn new() -> Health {
        Health { origin: Instant::now(), last: Arc::new(AtomicU64::new(0)) }
    }

    pub fn beat(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long since the last beat.
    pub fn since_last_beat(&self) -> Duration {
        let now = self.origin.elapsed();
        now.saturating_sub(Duration::from_millis(self.last.load(Ordering::Relaxed)))
    }

    /// A heartbeat last seen `ago` (for tests of the 503).
    #[cfg(test)]
    pub(crate) fn last_beat_ago(ago: Duration) -> Health {
        let origin = Instant::now().checked_sub(ago).expect("the machine has been up that long");
        Health { origin, last: Arc::new(AtomicU64::new(0)) }
    }

    pub fn healthy(&self) -> bool {
        alive(self.since_last_beat(), STUCK_AFTER)
    }
}

/// The rule, apart from the clock: alive while the last beat is within `bound`.
pub fn alive(since_last_beat: Duration, bound: Duration) -> bool {
    since_last_beat <= bound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(since: u64, bound: u64, want: bool) {
        assert_eq!(alive(Duration::from_secs(since), Duration::from_secs(bound)), want);
    }

    #[test]
    fn alive_within_the_bound() {
        case(0, 600, true);
        case(600, 600, true);
        case(601, 600, false);
    }

    #[test]
    fn a_beat_is_recent() {
        let h = Health::new();
        h.beat();
        assert!(h.since_last_beat() < Duration::from_secs(5) && h.healthy());
    }
}
