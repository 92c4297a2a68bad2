//! Polling with a deadline, for waits outside a simulated cluster (the
//! cluster's own waits are `sim::Cluster::poll_until`/`wait_for`). The limit
//! comes from a `sim::Budget` (cycles of kured's period) or from the caller's
//! own measure; a timeout says what was waited for and how long.
//! Included with `#[path = "support/poll.rs"] mod poll;`.

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// Poll `done` every 20 ms until it holds; panic after `limit`, naming `what`.
#[track_caller]
pub fn poll(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        let waited = started.elapsed();
        assert!(waited < limit, "timed out waiting for {what}: {waited:?} (limit {limit:?})");
        std::thread::sleep(Duration::from_millis(20));
    }
}
