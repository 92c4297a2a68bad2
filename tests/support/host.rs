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

/// A `sleep` duration no other process on the machine has on its command line.
pub fn unique_sleep() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(1);
    format!("1000.{}{:04}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// Pids of live processes (not zombies) whose command line holds `token`.
pub fn live_with(token: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(token) {
            out.push(pid);
        }
    }
    out
}
