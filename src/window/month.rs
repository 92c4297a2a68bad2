//! Which local dates a `--maintenance-window` opens on: weekdays, or the
//! n-th (1st to 4th) or last weekday of the month moved by a few days
//! ("the Wednesday after Patch Tuesday" is `2nd tue+1`). Pure calendar
//! arithmetic on day numbers (days since 1970-01-01, as [`crate::tz`] counts
//! them); the zone has already turned an instant into a local date.

use crate::tz::{civil_from_days, days_in_month, weekday_from_days};

/// Which occurrence of a weekday in its month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nth {
    /// 1st to 4th: every month has them (a 5th exists in only some months,
    /// so it is refused rather than silently skipping months).
    Ordinal(u8),
    Last,
}

/// One item of a window's day list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRule {
    /// Bit n = weekday n (0 = Sunday).
    Weekly(u8),
    /// The `nth` `weekday` of each month, then `offset` days later (or
    /// earlier, -6 to +6; the result may fall in the next or previous month).
    Monthly { nth: Nth, weekday: u8, offset: i8 },
}

impl DayRule {
    /// Does the window open on local day `day`?
    pub fn matches(self, day: i64) -> bool {
        match self {
            DayRule::Weekly(set) => set & (1 << weekday_from_days(day)) != 0,
            DayRule::Monthly { nth, weekday, offset } => {
                // the anchor date this day would be offset from
                let anchor = day - i64::from(offset);
                weekday_from_days(anchor) == weekday && is_nth(anchor, nth)
            }
        }
    }
}

/// Is `day` the `nth` of its weekday in its month?
fn is_nth(day: i64, nth: Nth) -> bool {
    let (year, month, dom) = civil_from_days(day);
    match nth {
        Nth::Ordinal(n) => (dom - 1) / 7 + 1 == u32::from(n),
        Nth::Last => dom + 7 > days_in_month(year, month),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tz::days_from_civil;

    /// The day number of the `nth` `weekday` (0 = Sunday) of a month: the
    /// direct computation that [`DayRule::matches`] is held to.
    fn nth_weekday(year: i64, month: u32, nth: Nth, weekday: u8) -> i64 {
        match nth {
            Nth::Ordinal(n) => {
                let first = days_from_civil(year, month, 1);
                let ahead = (i64::from(weekday) - i64::from(weekday_from_days(first))).rem_euclid(7);
                first + ahead + 7 * (i64::from(n) - 1)
            }
            Nth::Last => {
                let last = days_from_civil(year, month, days_in_month(year, month));
                last - (i64::from(weekday_from_days(last)) - i64::from(weekday)).rem_euclid(7)
            }
        }
    }

    #[track_caller]
    fn nth(year: i64, month: u32, n: Nth, weekday: u8, want_dom: u32) {
        let day = nth_weekday(year, month, n, weekday);
        assert_eq!(civil_from_days(day), (year, month, want_dom), "{n:?} weekday {weekday} of {year}-{month}");
        assert!(DayRule::Monthly { nth: n, weekday, offset: 0 }.matches(day));
    }

    #[test]
    fn nth_and_last_weekdays() {
        // Patch Tuesdays of 2026: Jan 13, Feb 10, Mar 10, Dec 8
        nth(2026, 1, Nth::Ordinal(2), 2, 13);
        nth(2026, 2, Nth::Ordinal(2), 2, 10);
        nth(2026, 3, Nth::Ordinal(2), 2, 10);
        nth(2026, 12, Nth::Ordinal(2), 2, 8);
        // a month starting on the weekday: 2026-06-01 is a Monday
        nth(2026, 6, Nth::Ordinal(1), 1, 1);
        nth(2026, 6, Nth::Ordinal(4), 1, 22);
        // last weekdays of 31-, 30-, 28- and 29-day months
        nth(2026, 5, Nth::Last, 0, 31); // Sunday May 31
        nth(2026, 4, Nth::Last, 4, 30); // Thursday April 30
        nth(2026, 4, Nth::Last, 5, 24); // Friday April 24
        nth(2026, 2, Nth::Last, 6, 28); // Saturday Feb 28
        nth(2028, 2, Nth::Last, 2, 29); // Tuesday Feb 29, a leap year
        nth(2027, 2, Nth::Last, 0, 28); // Sunday Feb 28
    }

    #[test]
    fn offsets_cross_month_ends() {
        let day = |y, m, d| days_from_civil(y, m, d);
        // the Wednesday after Patch Tuesday, December 2026
        let wed = DayRule::Monthly { nth: Nth::Ordinal(2), weekday: 2, offset: 1 };
        assert!(wed.matches(day(2026, 12, 9)));
        assert!(!wed.matches(day(2026, 12, 8)) && !wed.matches(day(2026, 12, 16)));
        // the Monday after the last Saturday of May 2026 (May 30) is June 1
        let mon = DayRule::Monthly { nth: Nth::Last, weekday: 6, offset: 2 };
        assert!(mon.matches(day(2026, 6, 1)));
        // and June's last Saturday is the 27th, so its Monday after is the 29th
        assert!(mon.matches(day(2026, 6, 29)) && !mon.matches(day(2026, 6, 22)));
        // the day before the first Monday of June 2026 (June 1) is May 31
        let sun = DayRule::Monthly { nth: Nth::Ordinal(1), weekday: 1, offset: -1 };
        assert!(sun.matches(day(2026, 5, 31)));
        // and May's first Monday is the 4th, so its day before is the 3rd
        assert!(sun.matches(day(2026, 5, 3)) && !sun.matches(day(2026, 5, 10)));
    }

    #[test]
    fn every_month_has_exactly_one_match() {
        let rules = [
            DayRule::Monthly { nth: Nth::Ordinal(1), weekday: 1, offset: 0 },
            DayRule::Monthly { nth: Nth::Ordinal(4), weekday: 6, offset: 6 },
            DayRule::Monthly { nth: Nth::Last, weekday: 0, offset: -6 },
            DayRule::Monthly { nth: Nth::Ordinal(2), weekday: 2, offset: 1 },
        ];
        for rule in rules {
            let DayRule::Monthly { nth, weekday, offset } = rule else { unreachable!() };
            for (year, month) in (2024..2032).flat_map(|y| (1..=12).map(move |m| (y, m))) {
                let want = nth_weekday(year, month, nth, weekday) + i64::from(offset);
                for d in want - 40..want + 40 {
                    let same_anchor_month = civil_from_days(d - i64::from(offset)).1 == month;
                    if same_anchor_month {
                        assert_eq!(rule.matches(d), d == want, "{rule:?} {year}-{month} day {:?}", civil_from_days(d));
                    }
                }
            }
        }
    }
}
