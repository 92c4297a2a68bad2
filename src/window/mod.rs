//! The maintenance window: when this node may reboot. Either upstream's one
//! window (`--reboot-days`, `--start-time`, `--end-time`, `--time-zone`, with
//! their exact meaning: [`Window`]) or one or more `--maintenance-window`s
//! (weekdays or monthly days, each in its own zone: [`Recurring`], syntax in
//! [`spec`]); the node is in the window while any of them contains now.
//! Pure: instants come in as arguments.
//!
//! [`Schedule::next_opening`] (in [`next`]) says when a closed window opens
//! next, for the status annotation, the metric and the loop's wake-up.

mod month;
mod next;
mod spec;
mod upstream;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod zoneinfo_tests;

use time::OffsetDateTime;

pub use month::{DayRule, Nth};
pub use spec::Recurring;
pub use upstream::{TimeOfDay, Weekdays, Window};

use crate::tz::DAY;

pub(crate) const NANOS: i128 = 1_000_000_000;

/// The windows a node reboots in.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Upstream's flags (their defaults: every day, all day, UTC).
    Upstream(Window),
    /// `--maintenance-window`, one or more (never empty).
    Windows(Vec<Recurring>),
}

impl Recurring {
    /// Is the instant (Unix nanoseconds) inside an occurrence of this window?
    /// Occurrences opening the local day before (crossing midnight) or after
    /// (a zone's midnight moved by DST) count too.
    fn contains_at(&self, at: i128) -> bool {
        let day = self.zone.to_local(at.div_euclid(NANOS) as i64).div_euclid(DAY);
        (day - 1..=day + 1).filter_map(|d| self.occurrence(d)).any(|(open, close)| open <= at && at < close)
    }
}

impl Schedule {
    /// Is the instant inside the window (any of the windows)?
    pub fn contains(&self, now: OffsetDateTime) -> bool {
        self.contains_at(now.unix_timestamp_nanos())
    }

    fn contains_at(&self, at: i128) -> bool {
        match self {
            Schedule::Upstream(w) => OffsetDateTime::from_unix_timestamp_nanos(at).is_ok_and(|t| w.contains(t)),
            Schedule::Windows(ws) => ws.iter().any(|w| w.contains_at(at)),
        }
    }

    /// Why a window (practically) never opens, one start-up warning each:
    /// the node would then never reboot, which a typo should not do silently.
    pub fn never_opens(&self) -> Vec<String> {
        match self {
            Schedule::Upstream(w) => w.never_opens().into_iter().collect(),
            Schedule::Windows(ws) => ws.iter().filter_map(Recurring::never_opens).collect(),
        }
    }
}

/// Upstream's form for its window; `--maintenance-window`s as given, `|` between.
impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Upstream(w) => write!(f, "{w}"),
            Schedule::Windows(ws) => {
                for (i, w) in ws.iter().enumerate() {
                    write!(f, "{}{w}", if i == 0 { "" } else { " | " })?;
                }
                Ok(())
            }
        }
    }
}
