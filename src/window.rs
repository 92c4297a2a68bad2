//! The maintenance window: days of the week plus a time-of-day range in a time
//! zone. Pure: `contains(now)` takes the instant as an argument.

use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Window {}

impl Window {
    /// `days` as given to --reboot-days (already comma-split; empty items ignored),
    /// `start`/`end` as --start-time/--end-time, `zone` as --time-zone.
    /// Errors are `Error::Usage` naming the flag and the value.
    pub fn parse(_days: &[String], _start: &str, _end: &str, _zone: &str) -> Result<Window> {
        todo!()
    }

    /// Is the instant inside the window?
    pub fn contains(&self, _now: time::OffsetDateTime) -> bool {
        todo!()
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "window")
    }
}
