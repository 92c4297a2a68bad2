//! Whose turn it is when a slot frees: a pure rule every waiting node applies
//! to what the lock's watch event shows, so that the release of one slot
//! costs the API server the requests of about one node, not of every waiter.
//!
//! Each kured-rs holder records in its lock entry when it started waiting
//! (`metadata.waitingSince`, beside `bootID`; upstream keeps other holders'
//! metadata whole). The latest such time among the holders seen is how far
//! the queue has been served. A waiter that started waiting `d` after that
//! waits `STEP x log2(1 + d / g)` before it checks, where `g` is the gap
//! between two nodes' arrivals when the fleet (`status.desiredNumberScheduled`
//! of the DaemonSet) arrives over one `--period`: the next node in line acts
//! after about one STEP, the ones behind it later, and anyone who sees the slot
//! taken meanwhile stays quiet. The logarithm keeps the wait short for a
//! node far back in a sparse queue (a partial rollout) while keeping the
//! nodes at the front apart. Nodes that waited longer than the last one
//! served (passed over, or with a clock behind) go first, in a random order
//! within one STEP. Entries
//! without `waitingSince` (upstream, or a holder that never waited) count
//! from their `created` only until a holder that waited is seen; with no
//! holder seen at all, the order is random.

use std::time::Duration;

use time::OffsetDateTime;

use crate::lock::LockEntry;

/// The wait of the next node in line, and the unit of the spread.
pub const STEP: Duration = Duration::from_millis(250);
/// Ties (nodes that started waiting at the same instant) are broken by this much at most.
const TIE: Duration = Duration::from_millis(50);
/// No wait is longer than this (a node far back whose turn it is after all).
pub const MAX_DELAY: Duration = Duration::from_secs(5);
/// Without the DaemonSet's status, assume a fleet this large.
pub const DEFAULT_FLEET: u32 = 100;
/// Waiters this close to the front (in expected arrivals) look for stale
/// holders at each periodic check; those behind them only now and then.
pub const FRONT: f64 = 4.0;
/// The key in a holder's metadata.
pub const WAITING_SINCE: &str = "waitingSince";

/// When `entry`'s node started waiting, if it recorded that (`waitingSince`).
pub fn waiting_since(entry: &LockEntry) -> Option<OffsetDateTime> {
    let recorded = entry.metadata.get(WAITING_SINCE).and_then(|v| v.as_str())?;
    OffsetDateTime::parse(recorded, &time::format_description::well_known::Rfc3339).ok()
}

/// How many arrivals ahead of `mine` the queue has been served to (0 = next),
/// or None when nothing tells (no holder seen).
pub fn distance(mine: OffsetDateTime, served: Option<OffsetDateTime>, fleet: u32, period: Duration) -> Option<f64> {
    let served = served?;
    let gap = period.as_secs_f64() / f64::from(fleet.max(1));
    let d = (mine - served).as_seconds_f64().max(0.0);
    Some(d / gap.max(1e-3))
}

/// How long a waiter waits after seeing a free slot before it checks.
/// `unit` is a random number in [0, 1).
pub fn delay(
    mine: OffsetDateTime,
    served: Option<OffsetDateTime>,
    fleet: u32,
    period: Duration,
    unit: f64,
) -> Duration {
    let unit = if (0.0..1.0).contains(&unit) { unit } else { 0.5 };
    let overtaken = served.is_some_and(|s| mine < s);
    let secs = match distance(mine, served, fleet, period) {
        // Nodes passed over (by a node that took a slot out of turn, or one
        // whose clock is behind) go before the rest, in a random order over
        // one STEP, so that a few of them do not all ask at once.
        Some(_) if overtaken => STEP.as_secs_f64() * unit,
        Some(m) => STEP.as_secs_f64() * (1.0 + m).log2() + TIE.as_secs_f64() * unit,
        // random order, spread as widely as the fleet's front would be
        None => STEP.as_secs_f64() * (1.0 + f64::from(fleet.max(1))).log2() * unit,
    };
    Duration::from_secs_f64(secs).min(MAX_DELAY)
}

/// Whether this waiter looks up the holders' Nodes (stale entries) at this
/// periodic check: always near the front of the queue, else with a chance
/// that falls with the distance, so a fleet of waiters does not ask for every
/// holder every period, and a stale entry is still found when only waiters far
/// back remain.
pub fn looks_for_stale(distance: Option<f64>, unit: f64) -> bool {
    match distance {
        Some(m) if m > FRONT => unit < FRONT / m,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-03-01 03:00:00 UTC);
    const P: Duration = Duration::from_secs(60);

    #[track_caller]
    fn case(after_served_s: f64, fleet: u32, want_ms: (u64, u64)) {
        let mine = T0 + time::Duration::seconds_f64(after_served_s);
        let got = delay(mine, Some(T0), fleet, P, 0.0).as_millis() as u64;
        assert!(
            (want_ms.0..=want_ms.1).contains(&got),
            "{after_served_s}s after, fleet {fleet}: {got} ms, want {want_ms:?}"
        );
    }

    #[test]
    fn the_next_in_line_goes_first_and_soon() {
        // 1000 nodes over 60 s: one arrival every 60 ms
        case(0.0, 1000, (0, 0)); // the last served itself
        case(-30.0, 1000, (0, 0)); // passed over: first (random within a STEP)
        assert!(delay(T0 - time::Duration::seconds(30), Some(T0), 1000, P, 0.99) < STEP);
        case(0.06, 1000, (250, 250)); // the next: one STEP
        case(0.12, 1000, (390, 400)); // the one after: later
        case(6.0, 1000, (1660, 1670)); // 100 back
        case(600.0, 1000, (3320, 3330)); // far back in a sparse queue: still bounded
        case(1e6, 1000, (5000, 5000));
        // a small fleet arrives sparser: 10 nodes over 60 s
        case(6.0, 10, (250, 250));
    }

    #[test]
    fn the_order_follows_the_queue() {
        let mut last = Duration::ZERO;
        for i in 1..50 {
            let mine = T0 + time::Duration::milliseconds(60 * i);
            let d = delay(mine, Some(T0), 1000, P, 0.0);
            assert!(d > last, "{i}");
            last = d;
        }
    }

    #[test]
    fn nothing_seen_is_a_random_order_within_the_front() {
        assert_eq!(delay(T0, None, 1000, P, 0.0), Duration::ZERO);
        let d = delay(T0, None, 1000, P, 0.999);
        assert!(d > Duration::from_millis(2400) && d <= Duration::from_millis(2500), "{d:?}");
        assert!(delay(T0, None, 1000, P, 7.0) < MAX_DELAY); // out of range: the middle
    }

    #[test]
    fn entries_count_from_when_they_started_waiting() {
        let mut e = LockEntry::new("n1", crate::lock::LockMeta::default(), T0, None);
        assert_eq!(waiting_since(&e), None);
        e.metadata[WAITING_SINCE] = "2024-03-01T02:59:00.5Z".into();
        assert_eq!(waiting_since(&e), Some(datetime!(2024-03-01 02:59:00.5 UTC)));
        e.metadata[WAITING_SINCE] = "yesterday".into();
        assert_eq!(waiting_since(&e), None);
    }

    #[test]
    fn stale_looks_thin_out_behind_the_front() {
        assert!(looks_for_stale(None, 0.99));
        assert!(looks_for_stale(Some(2.0), 0.99));
        assert!(!looks_for_stale(Some(400.0), 0.5));
        assert!(looks_for_stale(Some(400.0), 0.005));
    }
}
