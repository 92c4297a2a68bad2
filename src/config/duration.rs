//! Go `time.Duration` text: parsing as `time.ParseDuration` does (so manifests
//! written for upstream kured keep working: `90s`, `1h30m`, `1.5h`, `0`,
//! `300ms`, `1us`, `1µs`) and formatting as `Duration.String()` does (`1h0m0s`),
//! so logs and `--help` read like upstream's.

use std::time::Duration;

/// Largest magnitude Go accepts: a negative duration may reach 1<<63 ns.
const LIMIT: u64 = 1 << 63;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        // Go accepts both the micro sign (U+00B5) and the Greek mu (U+03BC).
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parse like Go's `time.ParseDuration`; returns (negative, nanoseconds).
fn parse_signed(text: &str) -> Result<(bool, u64), String> {
    let invalid = || format!("invalid duration {text:?} (expected e.g. 90s, 1h30m, 1.5h)");
    let mut s = text;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    // Go's one unit-less special case.
    if s == "0" {
        return Ok((negative, 0));
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let (int, int_digits, rest) = leading_int(s).ok_or_else(|| format!("duration {text:?} is too large"))?;
        s = rest;
        let (mut frac, mut scale, mut frac_digits) = (0u64, 1f64, 0usize);
        if let Some(rest) = s.strip_prefix('.') {
            (frac, scale, frac_digits, s) = leading_fraction(rest);
        }
        if int_digits == 0 && frac_digits == 0 {
            return Err(invalid());
        }
        let unit_len = s.bytes().position(|c| c == b'.' || c.is_ascii_digit()).unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("missing unit in duration {text:?} (units: ns, us, ms, s, m, h)"));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let per = unit_nanos(unit)
            .ok_or_else(|| format!("unknown unit {unit:?} in duration {text:?} (units: ns, us, ms, s, m, h)"))?;
        let too_large = || format!("duration {text:?} is too large");
        if int > LIMIT / per {
            return Err(too_large());
        }
        let mut v = int * per;
        if frac > 0 {
            v += (frac as f64 * (per as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(too_large());
            }
        }
        total = total.checked_add(v).filter(|t| *t <= LIMIT).ok_or_else(too_large)?;
    }
    if !negative && total > LIMIT - 1 {
        return Err(format!("duration {text:?} is too large"));
    }
    Ok((negative, total))
}

/// Leading decimal digits: (value, digit count, rest); None on overflow.
fn leading_int(s: &str) -> Option<(u64, usize, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut x: u64 = 0;
    for c in s[..n].bytes() {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(c - b'0');
        if x > LIMIT {
            return None;
        }
    }
    Some((x, n, &s[n..]))
}

/// Digits after the point: (value, scale, digit count, rest); digits past what
/// fits are dropped, as Go does.
fn leading_fraction(s: &str) -> (u64, f64, usize, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    let (mut x, mut scale, mut overflow) = (0u64, 1f64, false);
    for c in s[..n].bytes() {
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, n, &s[n..])
}

/// A Go duration that must not be negative (none of kured's durations can be:
/// Go would take `-1s` and then behave as if it were zero or misbehave).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match parse_signed(text)? {
        (true, n) if n > 0 => Err(format!("negative duration {text:?} is not allowed")),
        (_, n) => Ok(Duration::from_nanos(n)),
    }
}

/// `v / 10^digits` with trailing zeros trimmed: (123_500, 3) -> "123.5".
fn with_fraction(v: u128, digits: u32) -> String {
    let pow = 10u128.pow(digits);
    let (int, frac) = (v / pow, v % pow);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// Format as Go's `Duration.String()`: `0s`, `300ms`, `1.5µs`, `1m30s`, `1h0m0s`.
pub fn format_duration(d: Duration) -> String {
    let n = d.as_nanos();
    match n {
        0 => "0s".into(),
        1..=999 => format!("{n}ns"),
        1_000..=999_999 => format!("{}µs", with_fraction(n, 3)),
        1_000_000..=999_999_999 => format!("{}ms", with_fraction(n, 6)),
        _ => {
            let minute = 60_000_000_000u128;
            let secs = format!("{}s", with_fraction(n % minute, 9));
            let (hours, mins) = (n / minute / 60, n / minute % 60);
            if hours > 0 {
                format!("{hours}h{mins}m{secs}")
            } else if mins > 0 {
                format!("{mins}m{secs}")
            } else {
                secs
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(text: &str, nanos: u64) {
        assert_eq!(parse_duration(text), Ok(Duration::from_nanos(nanos)), "{text:?}");
    }

    #[track_caller]
    fn bad(text: &str, why: &str) {
        let err = parse_duration(text).expect_err(text);
        assert!(err.contains(why), "{text:?}: {err}");
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn go_durations() {
        ok("0", 0);
        ok("-0", 0);
        ok("+0", 0);
        ok("0s", 0);
        ok("-0s", 0);
        ok("90s", 90 * S);
        ok("1h30m", 5400 * S);
        ok("1.5h", 5400 * S);
        ok("300ms", 300_000_000);
        ok("2h45m30.5s", (2 * 3600 + 45 * 60 + 30) * S + S / 2);
        ok("1us", 1_000);
        ok("1µs", 1_000);
        ok("1μs", 1_000);
        ok("1ns", 1);
        ok(".5s", S / 2);
        ok("5.s", 5 * S);
        ok("1h1h", 7200 * S);
        ok("+5m", 300 * S);
        ok("9223372036854775807ns", (1 << 63) - 1);
        ok("0.000000001s", 1);
        ok("1.0000000001s", S);
    }

    #[test]
    fn bad_durations() {
        bad("", "invalid duration");
        bad("1", "missing unit");
        bad("h", "invalid duration");
        bad("1x", "unknown unit \"x\"");
        bad("-1s", "negative");
        bad("-", "invalid duration");
        bad(".", "invalid duration");
        bad(".s", "invalid duration");
        bad("1h 30m", "unknown unit");
        bad(" 1s", "invalid duration");
        bad("1S", "unknown unit");
        bad("9223372036854775808ns", "too large");
        bad("3000000h", "too large");
        bad("99999999999999999999s", "too large");
        bad("µs", "invalid duration");
    }

    #[track_caller]
    fn fmt(nanos: u64, want: &str) {
        assert_eq!(format_duration(Duration::from_nanos(nanos)), want);
    }

    #[test]
    fn go_formatting() {
        fmt(0, "0s");
        fmt(1, "1ns");
        fmt(1_500, "1.5µs");
        fmt(300_000_000, "300ms");
        fmt(S, "1s");
        fmt(90 * S, "1m30s");
        fmt(3600 * S, "1h0m0s");
        fmt((2 * 3600 + 45 * 60 + 30) * S + S / 2, "2h45m30.5s");
        fmt(24 * 3600 * S, "24h0m0s");
    }
}
