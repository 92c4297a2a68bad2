//! When the window opens next: the first instant after now at which the
//! schedule is open and was closed just before (a nanosecond earlier). So
//! windows that overlap or touch (Saturday all day, Sunday all day) open
//! once, at the start of the first; while a window is open, the next
//! opening is the one after it closes; a window that never closes (the
//! upstream default, every day all day) has none.
//!
//! Candidates are each window's possible openings on the local days from
//! yesterday to [`HORIZON_DAYS`] ahead; each is checked with `contains`,
//! so the answer agrees with the window the loop applies.

use time::OffsetDateTime;

use super::Schedule;
use crate::tz::DAY;

/// How far ahead to look: a monthly window opens at least every 35 days,
/// but a DST night can swallow one occurrence; past a year it is "never".
pub const HORIZON_DAYS: i64 = 400;

impl Schedule {
    /// The next opening strictly after `now`, if any within [`HORIZON_DAYS`].
    pub fn next_opening(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let at = now.unix_timestamp_nanos();
        let mut candidates = self.candidates(now.unix_timestamp());
        candidates.sort_unstable();
        candidates.dedup();
        let opening =
            candidates.into_iter().filter(|&c| c > at).find(|&c| self.contains_at(c) && !self.contains_at(c - 1))?;
        OffsetDateTime::from_unix_timestamp_nanos(opening).ok()
    }

    fn candidates(&self, now: i64) -> Vec<i128> {
        let days = |zone: &crate::tz::Zone| {
            let today = zone.to_local(now).div_euclid(DAY);
            today - 1..=today + HORIZON_DAYS
        };
        match self {
            Schedule::Upstream(w) => days(w.zone()).flat_map(|d| w.openings(d)).collect(),
            Schedule::Windows(ws) => {
                ws.iter().flat_map(|w| days(w.zone()).filter_map(|d| w.occurrence(d)).map(|(open, _)| open)).collect()
            }
        }
    }
}
