//! Time zones without a zone database on disk: the binary runs in a FROM
//! scratch image and the `time` crate knows only fixed offsets. Named zones
//! come from a compact database compiled in ([`db`], generated from tzdata by
//! `scripts/gen-tzdata.py`); `Local` reads /etc/localtime ([`tzif`]); future
//! years follow the zone's POSIX TZ rule ([`posix`]).
//!
//! The embedded data starts at 2020-01-01: the maintenance window only asks
//! about now and later, so older history is not worth the bytes. An instant
//! before 2020 gets the offset in force on 2020-01-01.

mod db;
mod posix;
mod tzif;

#[cfg(test)]
mod tests;

pub use posix::PosixTz;

/// Seconds per day.
pub const DAY: i64 = 86_400;

/// An offset from UTC (seconds east) and whether it is daylight saving time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    pub utc_offset: i32,
    pub is_dst: bool,
}

/// The offset in force at an instant, with the span `[start, end)` (Unix
/// seconds) it is known to hold for; `i64::MIN`/`i64::MAX` when unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub offset: Offset,
    pub start: i64,
    pub end: i64,
}

/// A time zone: an offset before the first transition, explicit transitions
/// (Unix seconds, ascending), and the rule that applies from the last one on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    name: String,
    initial: Offset,
    transitions: Vec<(i64, Offset)>,
    rule: Option<PosixTz>,
}

impl Zone {
    pub fn utc() -> Zone {
        Zone::fixed("UTC", 0)
    }

    /// A zone with one offset forever.
    pub fn fixed(name: &str, utc_offset: i32) -> Zone {
        let initial = Offset { utc_offset, is_dst: false };
        Zone { name: name.to_string(), initial, transitions: Vec::new(), rule: None }
    }

    /// Resolve a `--time-zone` value the way Go's `time.LoadLocation` does:
    /// "" and "UTC" are UTC, "Local" is the host's zone, anything else an IANA
    /// name (or alias) from the embedded database. `None` if unknown.
    pub fn load(name: &str) -> Option<Zone> {
        match name {
            "" | "UTC" => Some(Zone::utc()),
            "Local" => Some(Zone::local()),
            _ => db::lookup(name),
        }
    }

    /// The host's zone, as Go initialises `time.Local`: the TZ variable if
    /// set (empty = UTC, a leading ':' ignored, an absolute path is a TZif
    /// file, else a zone name), else /etc/localtime, else UTC. Named "Local".
    pub fn local() -> Zone {
        let tz = std::env::var("TZ").ok();
        Zone::local_from(tz.as_deref(), |path| std::fs::read(path).ok())
    }

    /// [`Zone::local`] with the environment and the file system passed in.
    pub fn local_from(tz: Option<&str>, read: impl Fn(&str) -> Option<Vec<u8>>) -> Zone {
        let found = match tz.map(|t| t.strip_prefix(':').unwrap_or(t)) {
            None => read("/etc/localtime").and_then(|b| tzif::parse(&b).ok()),
            Some("") | Some("UTC") => None,
            Some(path) if path.starts_with('/') => read(path).and_then(|b| tzif::parse(&b).ok()),
            Some(name) => db::lookup(name),
        };
        let mut zone = found.unwrap_or_else(Zone::utc);
        zone.name = "Local".to_string();
        zone
    }

    /// A zone from the bytes of a TZif file (RFC 8536, version 2 or later).
    pub fn from_tzif(name: &str, bytes: &[u8]) -> Result<Zone, String> {
        let mut zone = tzif::parse(bytes)?;
        zone.name = name.to_string();
        Ok(zone)
    }

    /// The name it was loaded by (as Go's `Location.String`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset in force at Unix second `t`, with its span.
    pub fn lookup(&self, t: i64) -> Period {
        let tx = &self.transitions;
        // index of the first transition after t
        let next = tx.partition_point(|&(at, _)| at <= t);
        if next == tx.len() {
            if let Some(rule) = &self.rule {
                let mut p = rule.lookup(t);
                if let Some(&(last, _)) = tx.last() {
                    p.start = p.start.max(last);
                }
                return p;
            }
        }
        let end = tx.get(next).map_or(i64::MAX, |&(at, _)| at);
        match next.checked_sub(1) {
            None => Period { offset: self.initial, start: i64::MIN, end },
            Some(i) => Period { offset: tx[i].1, start: tx[i].0, end },
        }
    }

    /// Wall-clock seconds since 1970-01-01T00:00 local time at Unix second `t`.
    pub fn to_local(&self, t: i64) -> i64 {
        t + i64::from(self.lookup(t).offset.utc_offset)
    }

    /// The instant of a local wall-clock time, resolved exactly as Go's
    /// `time.Date` does (kured builds the window's bounds with it): a time in
    /// a spring-forward gap or a fall-back overlap gets the offset found by
    /// looking up the wall time as if it were UTC, corrected once if that
    /// guess lands outside the guessed offset's span; zero offsets are not
    /// corrected. `local` is seconds since 1970-01-01T00:00 wall time.
    pub fn local_to_utc(&self, local: i64) -> i64 {
        let p = self.lookup(local);
        let mut offset = i64::from(p.offset.utc_offset);
        if offset != 0 {
            let utc = local - offset;
            if utc < p.start || utc >= p.end {
                offset = i64::from(self.lookup(utc).offset.utc_offset);
            }
            return local - offset;
        }
        local
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1-12, day 1-31) of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Day of the week, 0 = Sunday, of a count of days since 1970-01-01 (a Thursday).
pub fn weekday_from_days(days: i64) -> u8 {
    (days + 4).rem_euclid(7) as u8
}

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    const DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    DAYS[(month as usize - 1) % 12] + u32::from(month == 2 && is_leap(year))
}
