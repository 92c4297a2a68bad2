//! The host as the agent loop sees it: "is a reboot required?" and "reboot
//! now". A trait because the host is a system boundary: the loop is tested with
//! a fake, and runs with [`RealHost`].

use crate::error::Result;
use crate::reboot::Rebooter;
use crate::sentinel::Sentinel;

pub trait Host {
    /// Err when the check could not be made (not the same as "no").
    fn reboot_required(&self) -> Result<bool>;
    /// Start the reboot; Ok means it was requested, not that it happened.
    fn reboot(&self) -> Result<()>;
}

/// The real host: the configured sentinel and reboot method.
#[derive(Debug, Clone)]
pub struct RealHost {
    pub sentinel: Sentinel,
    pub rebooter: Rebooter,
}

impl Host for RealHost {
    fn reboot_required(&self) -> Result<bool> {
        self.sentinel.reboot_required()
    }

    fn reboot(&self) -> Result<()> {
        self.rebooter.reboot()
    }
}
