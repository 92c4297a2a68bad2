//! One `--maintenance-window` spec, parsed: `<days> <start>-<end> [<zone>]`.
//!
//! - days: a comma-separated list of `mon` (or `monday`, `mo`, any case),
//!   ranges `mon-fri` (`fri-mon` wraps the weekend), `daily`, and monthly
//!   days `<1st|2nd|3rd|4th|last> <weekday>[+N|-N]`: `2nd tue+1` is the
//!   Wednesday after Patch Tuesday, `last sun`, `1st mon-1` the day before
//!   the first Monday (N is 1 to 6; the day may fall in the next or
//!   previous month). There is no `5th`: most months have no fifth weekday.
//! - start-end: 24-hour `H:MM`, `HH:MM` or `HH:MM:SS`; the end is exclusive
//!   and may be `24:00`; an end before the start crosses midnight (the
//!   window opens on the listed day and closes the next day).
//! - zone: an IANA name, `UTC` or `Local` (default `UTC`), as `--time-zone`.
//!
//! Errors are the reason only; the caller names the flag and the value.

use super::month::{DayRule, Nth};
use crate::tz::{Zone, DAY};

/// A window that recurs on some local dates, from a start to an end wall time.
#[derive(Debug, Clone)]
pub struct Recurring {
    pub(super) days: Vec<DayRule>,
    /// Seconds after local midnight; `end` may be 86400 (`24:00`).
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) zone: Zone,
    /// The spec as given, whitespace normalised and its zone named, for the log.
    text: String,
}

const WEEKDAYS: [[&str; 3]; 7] = [
    ["su", "sun", "sunday"],
    ["mo", "mon", "monday"],
    ["tu", "tue", "tuesday"],
    ["we", "wed", "wednesday"],
    ["th", "thu", "thursday"],
    ["fr", "fri", "friday"],
    ["sa", "sat", "saturday"],
];

fn weekday(word: &str) -> Result<u8, String> {
    let lower = word.to_lowercase();
    WEEKDAYS
        .iter()
        .position(|names| names.contains(&lower.as_str()))
        .map(|n| n as u8)
        .ok_or_else(|| format!("day {word:?}: expected a weekday such as mon, tuesday or sa"))
}

fn nth(word: &str) -> Result<Nth, String> {
    match word.to_lowercase().as_str() {
        "1st" => Ok(Nth::Ordinal(1)),
        "2nd" => Ok(Nth::Ordinal(2)),
        "3rd" => Ok(Nth::Ordinal(3)),
        "4th" => Ok(Nth::Ordinal(4)),
        "last" => Ok(Nth::Last),
        "5th" => {
            Err("day \"5th\": most months have no fifth weekday, so that window would skip months (use last)".into())
        }
        _ => Err(format!("day {word:?}: expected 1st, 2nd, 3rd, 4th or last before a weekday")),
    }
}

/// One comma-separated item of the day list.
fn day_item(item: &str) -> Result<DayRule, String> {
    let words: Vec<&str> = item.split_whitespace().collect();
    match words[..] {
        [] => Err("an empty day in the list".into()),
        [w] if w.eq_ignore_ascii_case("daily") => Ok(DayRule::Weekly(0x7f)),
        [w] => match w.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (weekday(from)?, weekday(to)?);
                let mut set = 0u8;
                let mut d = from;
                loop {
                    set |= 1 << d;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
                Ok(DayRule::Weekly(set))
            }
            None if w.starts_with(|c: char| c.is_ascii_digit()) || w.eq_ignore_ascii_case("last") => {
                Err(format!("day {w:?}: a monthly day needs its weekday, e.g. \"{w} tue\""))
            }
            None => Ok(DayRule::Weekly(1 << weekday(w)?)),
        },
        [n, wd] => {
            let nth = nth(n)?;
            let (name, offset) = match wd.find(['+', '-']) {
                Some(i) => {
                    let shift = &wd[i..];
                    let offset = shift.parse::<i8>().ok().filter(|o| (-6..=6).contains(o) && *o != 0 && shift.len() == 2).ok_or_else(|| {
                        format!("day \"{item}\": the shift {shift:?} must be +1 to +6 or -1 to -6 days")
                    })?;
                    (&wd[..i], offset)
                }
                None => (wd, 0),
            };
            Ok(DayRule::Monthly { nth, weekday: weekday(name)?, offset })
        }
        _ => Err(format!("day \"{item}\": expected a weekday, a range such as mon-fri, or e.g. \"2nd tue+1\" (separate days with commas)")),
    }
}

/// `H:MM`, `HH:MM` or `HH:MM:SS` as seconds after midnight; `24:00` only if
/// `end`.
fn time_of_day(s: &str, end: bool) -> Result<u32, String> {
    let bad = || {
        format!(
            "time {s:?}: expected a 24-hour time such as 03:00, 3:30 or 22:15:30{}",
            if end { " (or 24:00)" } else { "" }
        )
    };
    let parts: Vec<&str> = s.split(':').collect();
    let two = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len())
        || parts[0].is_empty()
        || parts[0].len() > 2
        || !parts[0].bytes().all(|b| b.is_ascii_digit())
        || !parts[1..].iter().all(|p| two(p))
    {
        return Err(bad());
    }
    let n: Vec<u32> = parts.iter().map(|p| p.parse().unwrap_or(u32::MAX)).collect();
    let (h, m, sec) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    let seconds = h * 3600 + m * 60 + sec;
    match (h, m, sec) {
        (24, 0, 0) if end => Ok(seconds),
        (0..=23, 0..=59, 0..=59) => Ok(seconds),
        _ => Err(bad()),
    }
}

fn hms(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match s {
        0 => format!("{h:02}:{m:02}"),
        _ => format!("{h:02}:{m:02}:{s:02}"),
    }
}

impl Recurring {
    pub fn parse(spec: &str) -> Result<Recurring, String> {
        let words: Vec<&str> = spec.split_whitespace().collect();
        let at = words.iter().position(|w| w.contains(':')).ok_or_else(|| {
            "no time range: expected \"<days> <start>-<end> [<zone>]\", e.g. \"mon-fri 03:00-05:00 Europe/Berlin\""
                .to_string()
        })?;
        if at == 0 {
            return Err("no days before the time range: e.g. \"mon-fri 03:00-05:00\", \"daily 03:00-05:00\" or \"2nd tue+1 03:00-05:00\"".into());
        }
        let days = words[..at].join(" ").split(',').map(|item| day_item(item.trim())).collect::<Result<Vec<_>, _>>()?;
        let range = words[at];
        let (start, end) = range
            .split_once('-')
            .ok_or_else(|| format!("time range {range:?}: expected <start>-<end>, e.g. 03:00-05:00"))?;
        let (start, end) = (time_of_day(start, false)?, time_of_day(end, true)?);
        let zone_name = match &words[at + 1..] {
            [] => "UTC",
            [zone] => zone,
            more => return Err(format!("{:?} after the time range: expected one time zone", more.join(" "))),
        };
        let zone = Zone::load(zone_name).ok_or_else(|| {
            format!("time zone {zone_name:?}: unknown (expected an IANA name such as Europe/Berlin, UTC or Local)")
        })?;
        let text = format!("{} {range} {zone_name}", words[..at].join(" "));
        Ok(Recurring { days, start, end, zone, text })
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The occurrence that opens on local day `day` (days since 1970-01-01),
    /// if the window opens that day: `[open, close)` in Unix nanoseconds. Wall
    /// times are resolved as `--start-time` is (Go's `time.Date`, see
    /// [`Zone::local_to_utc`]): a start in a spring-forward gap moves by the
    /// gap, a repeated hour takes the offset Go picks.
    pub fn occurrence(&self, day: i64) -> Option<(i128, i128)> {
        if !self.days.iter().any(|d| d.matches(day)) {
            return None;
        }
        let midnight = day * DAY;
        let close_day = if self.end < self.start { midnight + DAY } else { midnight };
        let open = self.zone.local_to_utc(midnight + i64::from(self.start));
        let close = self.zone.local_to_utc(close_day + i64::from(self.end));
        Some((i128::from(open) * super::NANOS, i128::from(close) * super::NANOS))
    }

    /// Why this window never opens, for a start-up warning.
    pub fn never_opens(&self) -> Option<String> {
        (self.start == self.end)
            .then(|| format!("--maintenance-window \"{self}\" starts and ends at {}: it never opens", hms(self.start)))
    }
}

/// The spec as given (whitespace normalised), its zone always named.
impl std::fmt::Display for Recurring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
