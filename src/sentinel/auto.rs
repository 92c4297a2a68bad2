//! `--reboot-sentinel-preset=auto`: read the host's os-release through
//! `/proc/<host-pid>/root` (the host's file system as its init sees it, the
//! namespace host commands enter) and pick the family's check, saying which
//! and why. An OS it does not know gets upstream's sentinel, with a warning.

use std::path::PathBuf;

use crate::config::OsFamily;
use crate::error::Result;

use super::osrelease::{self, OsRelease};
use super::preset::{self, Choice};

/// What `auto` found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// None: no family known for this OS (or no os-release at all)
    pub family: Option<OsFamily>,
    pub reason: String,
}

/// Read and decide; an os-release that cannot be read is an error (the next
/// check tries again), one that does not exist is an unknown OS.
pub fn detect(host_pid: i32) -> Result<Detected> {
    let root = PathBuf::from(format!("/proc/{host_pid}/root"));
    match osrelease::read_host(&root)? {
        None => Ok(Detected {
            family: None,
            reason: format!(
                "the host has neither /etc/os-release nor /usr/lib/os-release (looked in {})",
                root.display()
            ),
        }),
        Some((path, text)) => {
            let Choice { family, reason } = preset::choose(&OsRelease::parse(&text));
            Ok(Detected { family, reason: format!("{reason}, read from {}", path.display()) })
        }
    }
}

/// The log line for what was picked (`fallback` names upstream's sentinel).
pub fn log_choice(detected: &Detected, fallback: &str) {
    match detected.family {
        Some(family) => log::info!(
            "reboot sentinel preset auto: using {} (reboot needed when {}): {}",
            family.name(),
            preset::describe(family),
            detected.reason
        ),
        None => log::warn!(
            "reboot sentinel preset auto: {}; using upstream's sentinel, {fallback} (set --reboot-sentinel-preset or --reboot-sentinel-command for this OS)",
            detected.reason
        ),
    }
}
