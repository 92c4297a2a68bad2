//! Upstream's maintenance window: days of the week plus a time-of-day range
//! in a time zone, parsed from --reboot-days, --start-time, --end-time and
//! --time-zone. Pure: `contains(now)` takes the instant as an argument.
//!
//! Semantics are upstream kured's `pkg/timewindow`, including its corners:
//! the day tested is the weekday of `now` in the zone; the bounds are that
//! day's wall times resolved like Go's `time.Date` (see
//! [`Zone::local_to_utc`]); the end is inclusive to the end of its second.

use super::NANOS;
use crate::error::{Error, Result};
use crate::tz::{self, Zone, DAY};

#[cfg(test)]
#[path = "upstream_tests.rs"]
mod tests;

/// A set of weekdays, bit n = day n (0 = Sunday), as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekdays(u8);

impl Weekdays {
    /// --reboot-days items: `su`/`sun`/`sunday` ... in any case, or `0`-`6`
    /// (0 = Sunday); empty items are skipped.
    pub fn parse(days: &[String]) -> Result<Weekdays> {
        const NAMES: [[&str; 3]; 7] = [
            ["su", "sun", "sunday"],
            ["mo", "mon", "monday"],
            ["tu", "tue", "tuesday"],
            ["we", "wed", "wednesday"],
            ["th", "thu", "thursday"],
            ["fr", "fri", "friday"],
            ["sa", "sat", "saturday"],
        ];
        let mut set = 0u8;
        for day in days.iter().filter(|d| !d.is_empty()) {
            // Go's strconv.Atoi: an optional sign, then digits
            let n = match day.parse::<i64>() {
                Ok(n) if (0..7).contains(&n) => n as usize,
                Ok(_) => {
                    return Err(Error::Usage(format!(
                        "invalid --reboot-days value {day:?}: day number out of range 0-6"
                    )))
                }
                Err(_) => {
                    let lower = day.to_lowercase();
                    NAMES.iter().position(|names| names.contains(&lower.as_str())).ok_or_else(|| {
                        Error::Usage(format!(
                            "invalid --reboot-days value {day:?}: expected a day such as su, mon, tuesday, or 0-6 with 0 = sunday"
                        ))
                    })?
                }
            };
            set |= 1 << n;
        }
        Ok(Weekdays(set))
    }

    /// Day 0 (Sunday) to 6 (Saturday).
    pub fn contains(self, weekday: u8) -> bool {
        weekday < 7 && self.0 & (1 << weekday) != 0
    }
}

/// Upstream's form: "Sun---Tue------------" (three letters or dashes per day).
impl std::fmt::Display for Weekdays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const ABBR: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        for (i, abbr) in ABBR.iter().enumerate() {
            f.write_str(if self.contains(i as u8) { abbr } else { "---" })?;
        }
        Ok(())
    }
}

/// A wall-clock time of day. Field order gives the comparison upstream uses
/// to decide whether the window wraps midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub nanosecond: u32,
}

/// One element of a Go time layout, as far as the accepted formats need.
#[derive(Clone, Copy)]
enum Layout {
    /// `15`: 24-hour clock, one or two digits
    Hour,
    /// `03`: 12-hour clock, two digits
    ZeroHour12,
    /// `3`: 12-hour clock, one or two digits
    Hour12,
    /// `04`: minute, two digits
    ZeroMinute,
    /// `05`: second, two digits, then optionally a fraction
    ZeroSecond,
    /// `pm`: lowercase `am` or `pm` only (Go's `PM` layout is the uppercase one)
    Pm,
    Colon,
}

use Layout::*;

/// Upstream's formats, tried in this order: 15:04, 15:04:05, 03:04pm, 15, 03pm, 3pm.
const FORMATS: [&[Layout]; 6] = [
    &[Hour, Colon, ZeroMinute],
    &[Hour, Colon, ZeroMinute, Colon, ZeroSecond],
    &[ZeroHour12, Colon, ZeroMinute, Pm],
    &[Hour],
    &[ZeroHour12, Pm],
    &[Hour12, Pm],
];

impl TimeOfDay {
    /// A --start-time/--end-time value; `flag` names the flag in the error.
    pub fn parse(flag: &str, s: &str) -> Result<TimeOfDay> {
        FORMATS.iter().find_map(|layout| parse_layout(layout, s)).ok_or_else(|| {
            Error::Usage(format!(
                "invalid --{flag} {s:?}: expected a time like 15:04, 15:04:05, 03:04pm, 15, 03pm or 3pm"
            ))
        })
    }

    fn seconds(self) -> i64 {
        i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
    }
}

/// Go's `time.Parse` for one layout: every element must match, no text may
/// remain, and each field must be in range.
fn parse_layout(layout: &[Layout], s: &str) -> Option<TimeOfDay> {
    let mut v = s.as_bytes();
    let (mut hour, mut minute, mut second, mut nanosecond) = (0u32, 0u32, 0u32, 0u32);
    let mut pm = None;
    for element in layout {
        match element {
            Hour => hour = digits(&mut v, false).filter(|&h| h < 24)?,
            ZeroHour12 => hour = digits(&mut v, true).filter(|&h| h <= 12)?,
            Hour12 => hour = digits(&mut v, false).filter(|&h| h <= 12)?,
            ZeroMinute => minute = digits(&mut v, true).filter(|&m| m < 60)?,
            ZeroSecond => {
                second = digits(&mut v, true).filter(|&s| s < 60)?;
                nanosecond = fraction(&mut v);
            }
            Pm => {
                pm = Some(match v.get(..2)? {
                    b"am" => false,
                    b"pm" => true,
                    _ => return None,
                });
                v = &v[2..];
            }
            Colon => v = v.strip_prefix(b":")?,
        }
    }
    if !v.is_empty() {
        return None;
    }
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    Some(TimeOfDay { hour: hour as u8, minute: minute as u8, second: second as u8, nanosecond })
}

/// Go's `getnum`: two digits, or one if the next byte is not a digit and
/// `fixed` is false.
fn digits(v: &mut &[u8], fixed: bool) -> Option<u32> {
    let d = |i: usize| v.get(i).filter(|b| b.is_ascii_digit()).map(|b| u32::from(b - b'0'));
    let first = d(0)?;
    match d(1) {
        Some(second) => {
            *v = &v[2..];
            Some(first * 10 + second)
        }
        None if fixed => None,
        None => {
            *v = &v[1..];
            Some(first)
        }
    }
}

/// Go accepts a fractional second (`.5` or `,5`) after seconds even when the
/// layout has none; digits past the ninth are consumed and ignored.
fn fraction(v: &mut &[u8]) -> u32 {
    if v.len() < 2 || !matches!(v[0], b'.' | b',') || !v[1].is_ascii_digit() {
        return 0;
    }
    let n = 1 + v[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut nanos = 0;
    for i in 1..10 {
        nanos = nanos * 10 + v.get(i).filter(|_| i < n).map_or(0, |b| u32::from(b - b'0'));
    }
    *v = &v[n..];
    nanos
}

#[derive(Debug, Clone)]
pub struct Window {
    days: Weekdays,
    start: TimeOfDay,
    end: TimeOfDay,
    zone: Zone,
}

impl Window {
    /// `days` as given to --reboot-days (already comma-split; empty items ignored),
    /// `start`/`end` as --start-time/--end-time, `zone` as --time-zone.
    /// Errors are `Error::Usage` naming the flag and the value.
    pub fn parse(days: &[String], start: &str, end: &str, zone: &str) -> Result<Window> {
        // upstream's order of checks: days, zone, start, end
        let days = Weekdays::parse(days)?;
        let zone = Zone::load(zone).ok_or_else(|| {
            Error::Usage(format!(
                "invalid --time-zone {zone:?}: unknown time zone (expected an IANA name such as America/Los_Angeles, UTC or Local)"
            ))
        })?;
        let start = TimeOfDay::parse("start-time", start)?;
        let end = TimeOfDay::parse("end-time", end)?;
        Ok(Window { days, start, end, zone })
    }

    /// A window in an already loaded zone.
    pub fn new(days: Weekdays, start: TimeOfDay, end: TimeOfDay, zone: Zone) -> Window {
        Window { days, start, end, zone }
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// Why this window (practically) never opens, for a start-up warning:
    /// upstream accepts such a window silently, and the node then never reboots.
    pub fn never_opens(&self) -> Option<String> {
        if self.days.0 == 0 {
            return Some("--reboot-days is empty: the maintenance window never opens and no node will reboot".into());
        }
        if self.start == self.end {
            return Some(format!(
                "--start-time equals --end-time ({:02}:{:02}:{:02}): the maintenance window is open one second a day, so a check will almost never fall inside it",
                self.start.hour, self.start.minute, self.start.second
            ));
        }
        None
    }

    /// Is the instant inside the window?
    ///
    /// As upstream: only the weekday of `now` (in the zone) counts. When the
    /// start is after the end the window wraps midnight, but still on that
    /// same day: with 22:00-02:00 on Mondays, Monday 00:00-02:00 and Monday
    /// 22:00-24:00 are inside, Tuesday 01:00 is not. (Upstream moves today's
    /// start back 24 hours if `now` is before today's end, else today's end
    /// forward 24 hours; either way that is "after start or before end".)
    pub fn contains(&self, now: time::OffsetDateTime) -> bool {
        let t = now.unix_timestamp();
        let day = self.zone.to_local(t).div_euclid(DAY);
        if !self.days.contains(tz::weekday_from_days(day)) {
            return false;
        }
        let midnight = day * DAY;
        let mut start = i128::from(self.zone.local_to_utc(midnight + self.start.seconds())) * NANOS;
        let mut end = i128::from(self.zone.local_to_utc(midnight + self.end.seconds())) * NANOS + NANOS - 1;
        let now = now.unix_timestamp_nanos();
        if self.start > self.end {
            if now < end {
                start -= i128::from(DAY) * NANOS;
            } else {
                end += i128::from(DAY) * NANOS;
            }
        }
        start <= now && now <= end
    }

    /// Instants (Unix nanoseconds) at which the window may open on local day
    /// `day`: its start, and its midnight when it wraps (Monday 00:00 is
    /// inside 22:00-02:00 on Mondays). [`super::Schedule::next_opening`]
    /// keeps those where the window is open and was closed just before.
    pub fn openings(&self, day: i64) -> Vec<i128> {
        if !self.days.contains(tz::weekday_from_days(day)) {
            return Vec::new();
        }
        let midnight = day * DAY;
        let mut at = vec![i128::from(self.zone.local_to_utc(midnight + self.start.seconds())) * NANOS];
        if self.start > self.end {
            at.push(i128::from(self.zone.local_to_utc(midnight)) * NANOS);
        }
        at
    }
}

/// Upstream's form: "---MonTueWedThuFri--- between 09:00 and 17:00 America/Los_Angeles".
impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (s, e) = (self.start, self.end);
        write!(
            f,
            "{} between {:02}:{:02} and {:02}:{:02} {}",
            self.days,
            s.hour,
            s.minute,
            e.hour,
            e.minute,
            self.zone.name()
        )
    }
}
