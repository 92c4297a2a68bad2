//! POSIX TZ rules, as found in the footer of TZif files (RFC 8536 section
//! 3.3): `PST8PDT,M3.2.0,M11.1.0`. A zone follows its rule after its last
//! explicit transition, so every future year comes from here.
//!
//! Supported: `<...>` quoted names, `[+-]hh[:mm[:ss]]` offsets (west of UTC
//! is positive, as POSIX has it), dates `Jn` (1-365, February 29 never
//! counted), `n` (0-365) and `Mm.w.d`, each with an optional `/time` that may
//! be negative or over 24 hours (up to 167, the RFC 8536 extension). A DST
//! name without dates gets the US rules `,M3.2.0,M11.1.0`, as Go and tzcode do.

use super::{civil_from_days, days_from_civil, days_in_month, is_leap, Offset, Period, DAY};

/// When, in a year, a change happens: the date and the local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateRule {
    /// `Jn`: day 1-365 of the year, February 29 skipped
    Julian1(u16),
    /// `n`: day 0-365 of the year, February 29 counted
    Julian0(u16),
    /// `Mm.w.d`: weekday d (0 = Sunday) of week w (5 = last) of month m
    MonthWeekDay { month: u8, week: u8, weekday: u8 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    date: DateRule,
    /// seconds after local midnight (may be negative or past 24 h)
    time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixTz {
    text: String,
    std: i32,
    /// the DST offset and the changes into and out of it
    dst: Option<(i32, Change, Change)>,
}

impl PosixTz {
    pub fn parse(text: &str) -> Result<PosixTz, String> {
        let bad = |what: &str| format!("bad tz rule {text:?}: {what}");
        let mut s = text;
        name(&mut s).ok_or_else(|| bad("standard time name"))?;
        let std = -offset(&mut s, 24).ok_or_else(|| bad("standard offset"))?;
        if s.is_empty() {
            return Ok(PosixTz { text: text.to_string(), std, dst: None });
        }
        name(&mut s).ok_or_else(|| bad("daylight saving time name"))?;
        let mut dst = std + 3600;
        if !s.is_empty() && !s.starts_with(',') {
            dst = -offset(&mut s, 24).ok_or_else(|| bad("daylight saving offset"))?;
        }
        if s.is_empty() {
            s = ",M3.2.0,M11.1.0";
        }
        let start = change(&mut s).ok_or_else(|| bad("start of daylight saving time"))?;
        let end = change(&mut s).ok_or_else(|| bad("end of daylight saving time"))?;
        if !s.is_empty() {
            return Err(bad("trailing text"));
        }
        Ok(PosixTz { text: text.to_string(), std, dst: Some((dst, start, end)) })
    }

    /// The rule as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The offset in force at Unix second `t`, with the span between the
    /// changes around it.
    pub fn lookup(&self, t: i64) -> Period {
        let std = Offset { utc_offset: self.std, is_dst: false };
        if self.dst.is_none() {
            return Period { offset: std, start: i64::MIN, end: i64::MAX };
        }
        let (year, _, _) = civil_from_days(t.div_euclid(DAY));
        let mut changes = Vec::with_capacity(6);
        for y in year - 1..=year + 1 {
            changes.extend(self.changes_in(y));
        }
        // a change cancelled at the same instant, or one that does not change
        // the offset (back-to-back rules, as in all-year DST), is no boundary
        let mut merged: Vec<(i64, Offset)> = Vec::with_capacity(6);
        for c in changes {
            while merged.last().is_some_and(|l| l.0 == c.0) {
                merged.pop();
            }
            if merged.last().map(|l| l.1) != Some(c.1) {
                merged.push(c);
            }
        }
        let next = merged.partition_point(|&(at, _)| at <= t);
        let end = merged.get(next).map_or(i64::MAX, |c| c.0);
        match next.checked_sub(1) {
            Some(i) => Period { offset: merged[i].1, start: merged[i].0, end },
            // before the first change of last year: the state it left
            None => {
                let before = if merged[0].1 == std { self.dst_offset() } else { std };
                Period { offset: before, start: i64::MIN, end }
            }
        }
    }

    fn dst_offset(&self) -> Offset {
        let dst = self.dst.map_or(self.std, |d| d.0);
        Offset { utc_offset: dst, is_dst: true }
    }

    /// The two changes of `year` (Unix seconds, new offset), in time order.
    pub fn changes_in(&self, year: i64) -> Vec<(i64, Offset)> {
        let Some((dst, start, end)) = self.dst else { return Vec::new() };
        let std_off = Offset { utc_offset: self.std, is_dst: false };
        let dst_off = Offset { utc_offset: dst, is_dst: true };
        // a change's local time is read in the offset in force before it
        let on = start.instant(year, self.std);
        let off = end.instant(year, dst);
        let mut v = vec![(on, dst_off), (off, std_off)];
        v.sort_by_key(|c| c.0);
        v
    }
}

impl Change {
    fn instant(&self, year: i64, utc_offset: i32) -> i64 {
        self.date.day(year) * DAY + self.time - i64::from(utc_offset)
    }
}

impl DateRule {
    /// Days since 1970-01-01 of the rule's date in `year`.
    fn day(&self, year: i64) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        match *self {
            DateRule::Julian1(n) => {
                let n = i64::from(n);
                jan1 + n - 1 + i64::from(is_leap(year) && n >= 60)
            }
            DateRule::Julian0(n) => jan1 + i64::from(n),
            DateRule::MonthWeekDay { month, week, weekday } => {
                let month = u32::from(month);
                let first = days_from_civil(year, month, 1);
                let first_wd = (first + 4).rem_euclid(7);
                let mut day = first + (i64::from(weekday) - first_wd).rem_euclid(7) + 7 * (i64::from(week) - 1);
                while day >= first + i64::from(days_in_month(year, month)) {
                    day -= 7;
                }
                day
            }
        }
    }
}

/// A zone abbreviation: `<...>` or three or more letters.
fn name(s: &mut &str) -> Option<()> {
    if let Some(rest) = s.strip_prefix('<') {
        let end = rest.find('>')?;
        if end == 0 {
            return None;
        }
        *s = &rest[end + 1..];
        return Some(());
    }
    let n = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    if n < 3 {
        return None;
    }
    *s = &s[n..];
    Some(())
}

/// `[+-]hh[:mm[:ss]]` in seconds, hours at most `max_hours`.
fn offset(s: &mut &str, max_hours: i64) -> Option<i32> {
    let mut sign = 1;
    if let Some(rest) = s.strip_prefix('-') {
        sign = -1;
        *s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        *s = rest;
    }
    let hours = number(s, max_hours)?;
    let mut secs = hours * 3600;
    for unit in [60, 1] {
        match s.strip_prefix(':') {
            Some(rest) => {
                *s = rest;
                secs += number(s, 59)? * unit;
            }
            None => break,
        }
    }
    i32::try_from(sign * secs).ok()
}

/// Decimal digits, at most `max`.
fn number(s: &mut &str, max: i64) -> Option<i64> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || n > 3 {
        return None;
    }
    let v: i64 = s[..n].parse().ok()?;
    *s = &s[n..];
    (v <= max).then_some(v)
}

/// `,date[/time]`
fn change(s: &mut &str) -> Option<Change> {
    *s = s.strip_prefix(',')?;
    let date = if let Some(rest) = s.strip_prefix('J') {
        *s = rest;
        DateRule::Julian1(number(s, 365).filter(|&n| n >= 1)? as u16)
    } else if let Some(rest) = s.strip_prefix('M') {
        *s = rest;
        let month = number(s, 12).filter(|&n| n >= 1)? as u8;
        *s = s.strip_prefix('.')?;
        let week = number(s, 5).filter(|&n| n >= 1)? as u8;
        *s = s.strip_prefix('.')?;
        let weekday = number(s, 6)? as u8;
        DateRule::MonthWeekDay { month, week, weekday }
    } else {
        DateRule::Julian0(number(s, 365)? as u16)
    };
    let mut time = 7200;
    if let Some(rest) = s.strip_prefix('/') {
        *s = rest;
        time = i64::from(offset(s, 167)?);
    }
    Some(Change { date, time })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two changes of a year, as UTC "YYYY-MM-DD HH:MM:SS offset".
    #[track_caller]
    fn check(rule: &str, year: i64, want: [&str; 2]) {
        let tz = PosixTz::parse(rule).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<String> = tz
            .changes_in(year)
            .iter()
            .map(|&(t, o)| {
                let (y, m, d) = civil_from_days(t.div_euclid(DAY));
                let s = t.rem_euclid(DAY);
                format!("{y}-{m:02}-{d:02} {:02}:{:02}:{:02} {}", s / 3600, s / 60 % 60, s % 60, o.utc_offset)
            })
            .collect();
        assert_eq!(got, want, "{rule} in {year}");
    }

    #[test]
    fn changes() {
        check("PST8PDT,M3.2.0,M11.1.0", 2026, ["2026-03-08 10:00:00 -25200", "2026-11-01 09:00:00 -28800"]);
        check("CET-1CEST,M3.5.0,M10.5.0/3", 2026, ["2026-03-29 01:00:00 7200", "2026-10-25 01:00:00 3600"]);
        check("AEST-10AEDT,M10.1.0,M4.1.0/3", 2026, ["2026-04-04 16:00:00 36000", "2026-10-03 16:00:00 39600"]);
        check("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 2026, ["2026-03-29 01:00:00 -3600", "2026-10-25 01:00:00 -7200"]);
        check("EET-2EEST,M3.4.4/50,M10.4.4/50", 2026, ["2026-03-28 00:00:00 10800", "2026-10-23 23:00:00 7200"]);
        check("<-04>4<-03>,M9.1.6/24,M4.1.6/24", 2026, ["2026-04-05 03:00:00 -14400", "2026-09-06 04:00:00 -10800"]);
        check("IST-1GMT0,M10.5.0,M3.5.0/1", 2026, ["2026-03-29 01:00:00 3600", "2026-10-25 01:00:00 0"]);
        check(
            "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
            2026,
            ["2026-04-04 14:00:00 45900", "2026-09-26 14:00:00 49500"],
        );
        check("XXX3YYY,J60/0,J365/25", 2024, ["2024-03-01 03:00:00 -7200", "2025-01-01 03:00:00 -10800"]);
        check("XXX3YYY,59/0,365", 2024, ["2024-02-29 03:00:00 -7200", "2024-12-31 04:00:00 -10800"]);
        check("EST5EDT", 2026, ["2026-03-08 07:00:00 -14400", "2026-11-01 06:00:00 -18000"]);
    }

    #[test]
    fn all_year_dst_has_no_boundary() {
        let tz = PosixTz::parse("EST5EDT4,0/0,J365/25").unwrap();
        let p = tz.lookup(days_from_civil(2026, 1, 1) * DAY + 3600);
        assert_eq!(p.offset, Offset { utc_offset: -14400, is_dst: true });
        assert!(p.start < days_from_civil(2026, 1, 1) * DAY && p.end > days_from_civil(2027, 1, 1) * DAY);
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "PS8",
            "PST",
            "PST8PDT,M13.1.0,M11.1.0",
            "PST8PDT,M3.2.0",
            "PST8PDT,M3.2.0,M11.1.0/168",
            "<>1",
            "PST8PDT,J0,J1",
            "UTC0 ",
        ] {
            assert!(PosixTz::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(PosixTz::parse("<+0530>-5:30").unwrap().lookup(0).offset.utc_offset, 19800);
    }
}
