//! A year of monthly `--maintenance-window`s in three zones (Berlin, New
//! York, Sydney: both DST changes each, month ends, the last weekday of 30-
//! and 31-day months and of February, windows that cross midnight into the
//! next month), held to instants worked out independently: the dates with
//! the `time` crate's calendar, the wall times turned into instants with the
//! system's zone files (`/usr/share/zoneinfo`), where the schedule uses the
//! embedded database.

use super::*;
use time::{Date, Duration, Month, Weekday};

struct Case {
    spec: &'static str,
    zone: &'static str,
    /// 1-4, or 0 for the last
    nth: u8,
    weekday: Weekday,
    offset: i64,
    start: (i64, i64),
    end: (i64, i64),
}

const CASES: &[Case] = &[
    // the Wednesday after Patch Tuesday
    Case {
        spec: "2nd tue+1 03:00-05:00",
        zone: "Europe/Berlin",
        nth: 2,
        weekday: Weekday::Tuesday,
        offset: 1,
        start: (3, 0),
        end: (5, 0),
    },
    // the last Sundays of March and October are Berlin's DST nights: the
    // window spans the change (two real hours in March, four in October)
    Case {
        spec: "last sun 01:00-04:00",
        zone: "Europe/Berlin",
        nth: 0,
        weekday: Weekday::Sunday,
        offset: 0,
        start: (1, 0),
        end: (4, 0),
    },
    // last Friday, to 02:00 the next day: Jan 30 -> Jan 31, Jul 31 -> Aug 1
    Case {
        spec: "last fri 22:00-02:00",
        zone: "Europe/Berlin",
        nth: 0,
        weekday: Weekday::Friday,
        offset: 0,
        start: (22, 0),
        end: (2, 0),
    },
    // New York's DST nights: the 2nd Sunday of March, the 1st of November
    Case {
        spec: "2nd sun 01:00-04:00",
        zone: "America/New_York",
        nth: 2,
        weekday: Weekday::Sunday,
        offset: 0,
        start: (1, 0),
        end: (4, 0),
    },
    Case {
        spec: "1st sun 00:30-03:30",
        zone: "America/New_York",
        nth: 1,
        weekday: Weekday::Sunday,
        offset: 0,
        start: (0, 30),
        end: (3, 30),
    },
    // the day before the first Monday: May 31 for June 2026, Feb 28 for March
    Case {
        spec: "1st mon-1 12:00-13:00",
        zone: "America/New_York",
        nth: 1,
        weekday: Weekday::Monday,
        offset: -1,
        start: (12, 0),
        end: (13, 0),
    },
    // Sydney's DST nights: the 1st Sundays of April and October
    Case {
        spec: "1st sun 01:00-04:00",
        zone: "Australia/Sydney",
        nth: 1,
        weekday: Weekday::Sunday,
        offset: 0,
        start: (1, 0),
        end: (4, 0),
    },
    // the Wednesday after the last Tuesday: Mar 31 -> Apr 1, Sep 29 -> 30
    Case {
        spec: "last tue+1 23:00-01:00",
        zone: "Australia/Sydney",
        nth: 0,
        weekday: Weekday::Tuesday,
        offset: 1,
        start: (23, 0),
        end: (1, 0),
    },
    // the 4th Thursday, then 6 days on: across month ends
    Case {
        spec: "4th thu+6 00:00-24:00",
        zone: "Australia/Sydney",
        nth: 4,
        weekday: Weekday::Thursday,
        offset: 6,
        start: (0, 0),
        end: (24, 0),
    },
];

/// The date of a case in a month, by counting the month's days.
fn date_of(case: &Case, year: i32, month: Month) -> Date {
    let days: Vec<Date> = (1..=month.length(year))
        .map(|d| Date::from_calendar_date(year, month, d).unwrap())
        .filter(|d| d.weekday() == case.weekday)
        .collect();
    let anchor = match case.nth {
        0 => *days.last().unwrap(),
        n => days[usize::from(n) - 1],
    };
    anchor + Duration::days(case.offset)
}

/// The one instant at which the system's zone shows this wall time.
fn instant(system: &crate::tz::Zone, date: Date, (h, m): (i64, i64)) -> i64 {
    let wall =
        (date - Date::from_calendar_date(1970, Month::January, 1).unwrap()).whole_days() * DAY + h * 3600 + m * 60;
    let offsets = [-20, 0, 20].map(|hours| system.lookup(wall + hours * 3600).offset.utc_offset);
    let mut found: Vec<i64> =
        offsets.iter().map(|&o| wall - i64::from(o)).filter(|&t| system.to_local(t) == wall).collect();
    found.dedup();
    assert_eq!(found.len(), 1, "{} {date} {h}:{m:02}: the cases use wall times that happen once", system.name());
    found[0]
}

fn system_zone(name: &str) -> crate::tz::Zone {
    let path = format!("/usr/share/zoneinfo/{name}");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e} (this test compares with the system's zone files: apt-get install tzdata)")
    });
    crate::tz::Zone::from_tzif(name, &bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap()
}

#[test]
fn monthly_windows_open_and_close_on_time_for_a_year_in_three_zones() {
    let mut checked = 0;
    for case in CASES {
        let spec = format!("{} {}", case.spec, case.zone);
        let schedule = Schedule::Windows(vec![Recurring::parse(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"))]);
        let system = system_zone(case.zone);
        let mut from = at(crate::tz::days_from_civil(2026, 1, 1) * DAY);
        for month in (0..13).map(|i| (2026 + i / 12, Month::January.nth_next(i as u8 % 12))) {
            let date = date_of(case, month.0, month.1);
            let open = instant(&system, date, case.start);
            let close_date = if case.end <= case.start { date + Duration::days(1) } else { date };
            let close = match case.end {
                (24, 0) => instant(&system, date + Duration::days(1), (0, 0)),
                end => instant(&system, close_date, end),
            };
            let what = format!("{spec} on {date}");
            assert_eq!(
                schedule.next_opening(from).map(|t| t.unix_timestamp()),
                Some(open),
                "{what}: next opening after {from}"
            );
            for (t, inside) in
                [(open - 1, false), (open, true), ((open + close) / 2, true), (close - 1, true), (close, false)]
            {
                assert_eq!(
                    schedule.contains(at(t)),
                    inside,
                    "{what}: at {} (opens {}, closes {})",
                    at(t),
                    at(open),
                    at(close)
                );
            }
            // the end is exclusive to the nanosecond
            let last = OffsetDateTime::from_unix_timestamp_nanos(i128::from(close) * NANOS - 1).unwrap();
            assert!(schedule.contains(last), "{what}: the last nanosecond before {}", at(close));
            from = at(open);
            checked += 1;
        }
    }
    assert_eq!(checked, CASES.len() * 13);
}

#[test]
fn dst_nights_make_windows_shorter_and_longer() {
    // real lengths of "01:00-04:00" on the DST nights, in hours
    let hours = |spec: &str, y, m, d| {
        let w = Recurring::parse(spec).unwrap();
        let (open, close) = w.occurrence(crate::tz::days_from_civil(y, m, d)).unwrap();
        (close - open) / NANOS / 3600
    };
    assert_eq!(hours("last sun 01:00-04:00 Europe/Berlin", 2026, 3, 29), 2);
    assert_eq!(hours("last sun 01:00-04:00 Europe/Berlin", 2026, 10, 25), 4);
    assert_eq!(hours("2nd sun 01:00-04:00 America/New_York", 2026, 3, 8), 2);
    assert_eq!(hours("1st sun 00:30-03:30 America/New_York", 2026, 11, 1), 4);
    assert_eq!(hours("1st sun 01:00-04:00 Australia/Sydney", 2026, 4, 5), 4);
    assert_eq!(hours("1st sun 01:00-04:00 Australia/Sydney", 2026, 10, 4), 2);
}
