//! The harmless host every test that runs kured code names: a `sleep` child of
//! the test standing in for the host's init, so `--host-pid` is never pid 1 (nor
//! the test itself). Killed and reaped on drop, even when the test panics.
//! Included with `#[path = "support/host.rs"] mod host;`.

#![allow(dead_code)]

use std::process::{Child, Command};

pub struct HostStandIn(Child);

impl HostStandIn {
    pub fn new() -> HostStandIn {
        HostStandIn(Command::new("sleep").arg("120").spawn().expect("start the host stand-in (sleep)"))
    }
    /// Any other child the test starts as a host (a shell with a trap, a process
    /// in a mount namespace of its own), with the same clean-up.
    pub fn wrap(child: Child) -> HostStandIn {
        HostStandIn(child)
    }
    pub fn child(&mut self) -> &mut Child {
        &mut self.0
    }
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }
    /// `--host-pid=<the stand-in>`.
    pub fn flag(&self) -> String {
        format!("--host-pid={}", self.pid())
    }
}

impl Drop for HostStandIn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
