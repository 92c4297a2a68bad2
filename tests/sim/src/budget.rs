//! Time limits for waiting on kured, counted in the daemon's cycles instead of
//! fixed seconds: a [`Limit::Cycles`] becomes seconds only while the wait runs,
//! from the configured `--period` and the slowest first check measured on this
//! machine (kured started to its first "reboot (not) required" line: process
//! start, TLS, start-up recovery, the initial delay). A loaded machine starts
//! kured slower, so its limits grow with it; a failure says what the limit was
//! made of. Pure: the cluster passes in what it measured.

use std::fmt;
use std::time::Duration;

/// Each cycle may take this many times its expected length before a wait gives up.
pub const SLACK: u32 = 4;
/// The real control plane schedules, starts and finalizes pods through its
/// controllers and the simulated kubelet: its scenarios get this many times the cycles.
pub const REAL_SERVER: u32 = 3;

/// How long a wait may take: a number of kured cycles (end-to-end scenarios) or
/// a fixed time (the command-line simulator's `--seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Cycles(u32),
    Fixed(Duration),
}

/// `n` cycles of the daemon.
pub fn cycles(n: u32) -> Limit {
    Limit::Cycles(n)
}

impl From<Duration> for Limit {
    fn from(d: Duration) -> Limit {
        Limit::Fixed(d)
    }
}

/// What one cycle of the daemon is expected to take here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The configured `--period`.
    pub period: Duration,
    /// The slowest first check so far (zero before any).
    pub first_check: Duration,
    /// Against the real control plane (see [`REAL_SERVER`]).
    pub real_server: bool,
}

impl Budget {
    /// Before any first check is measured (or without a cluster to measure it):
    /// cycles of the period alone.
    pub fn of_period(period: Duration) -> Budget {
        Budget { period, first_check: Duration::ZERO, real_server: false }
    }

    /// One cycle: the period, or the slowest first check when that took longer.
    pub fn cycle(&self) -> Duration {
        self.period.max(self.first_check)
    }

    /// The time `limit` allows.
    pub fn allows(&self, limit: Limit) -> Duration {
        match limit {
            Limit::Fixed(d) => d,
            Limit::Cycles(n) => self.cycle() * n * SLACK * if self.real_server { REAL_SERVER } else { 1 },
        }
    }

    /// `limit` in words, for failure messages.
    pub fn explain(&self, limit: Limit) -> String {
        match limit {
            Limit::Fixed(d) => format!("{d:?} (fixed)"),
            Limit::Cycles(n) => {
                let server = if self.real_server { format!(" x{REAL_SERVER} (real server)") } else { String::new() };
                format!("{n} cycles x{SLACK} slack{server} of {:?} = {:?} ({self})", self.cycle(), self.allows(limit))
            }
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a cycle is the longer of --period {:?} and the slowest first check measured, {:?}",
            self.period, self.first_check
        )
    }
}

/// A Go duration as `--period` takes it ("1s", "500ms", "1m30s", "1.5s"); None
/// when it is not one.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * seconds;
        rest = &rest[unit_end..];
    }
    (total > 0.0 || text.trim() == "0s").then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[track_caller]
    fn allows(period: Duration, first_check: Duration, real: bool, limit: Limit, want: Duration) {
        let b = Budget { period, first_check, real_server: real };
        assert_eq!(b.allows(limit), want, "{}", b.explain(limit));
    }

    #[test]
    fn limits_in_cycles() {
        allows(S(1), Duration::ZERO, false, cycles(5), S(20)); // before any measurement: the period
        allows(S(1), MS(800), false, cycles(5), S(20)); // a quick first check: still the period
        allows(S(1), MS(2500), false, cycles(5), S(50)); // a loaded machine: the measured cycle
        allows(S(1), MS(1500), true, cycles(2), S(36)); // the real server
        allows(S(1), S(9), false, Limit::Fixed(S(7)), S(7)); // fixed stays fixed
        allows(S(2), Duration::ZERO, false, cycles(0), S(0));
    }

    #[test]
    fn explains_what_a_limit_is_made_of() {
        let b = Budget { period: S(1), first_check: MS(1500), real_server: true };
        let text = b.explain(cycles(2));
        for want in ["2 cycles", "x4 slack", "x3 (real server)", "1.5s", "= 36s", "--period 1s"] {
            assert!(text.contains(want), "{want:?} not in {text:?}");
        }
    }

    #[track_caller]
    fn go(text: &str, want: Option<Duration>) {
        assert_eq!(parse_go_duration(text), want, "{text:?}");
    }

    #[test]
    fn go_durations() {
        go("1s", Some(S(1)));
        go("500ms", Some(MS(500)));
        go("1m30s", Some(S(90)));
        go("1.5s", Some(MS(1500)));
        go("2h", Some(S(7200)));
        go("0", Some(Duration::ZERO));
        go("0s", Some(Duration::ZERO));
        go("", None);
        go("1", None);
        go("1x", None);
        go("s", None);
    }
}
