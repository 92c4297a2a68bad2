//! Rebooting the host: a command run in the host's mount namespace
//! (`--reboot-method=command`), or a signal to the host's init
//! (`--reboot-method=signal`, by default SIGRTMIN+5, which systemd reads as
//! "reboot").

use std::io;
use std::time::Duration;

use crate::argv::display_argv;
use crate::config::RebootMethod;
use crate::error::{Error, Result};
use crate::hostcmd;

#[derive(Debug, Clone)]
enum Method {
    Command(Vec<String>),
    Signal(i32),
}

/// Reboots the host the configured way.
#[derive(Debug, Clone)]
pub struct Rebooter {
    method: Method,
    host_pid: i32,
    timeout: Option<Duration>,
}

impl Rebooter {
    /// `command` is used by the command method, `signal` by the signal method;
    /// `timeout` bounds the command (None = wait forever).
    pub fn new(
        method: &RebootMethod,
        command: &[String],
        signal: i32,
        host_pid: i32,
        timeout: Option<Duration>,
    ) -> Rebooter {
        let method = match method {
            RebootMethod::Command => Method::Command(command.to_vec()),
            RebootMethod::Signal => Method::Signal(signal),
        };
        Rebooter { method, host_pid, timeout }
    }

    pub fn reboot(&self) -> Result<()> {
        match &self.method {
            Method::Command(argv) => self.run_command(argv),
            Method::Signal(signal) => {
                log::info!("rebooting: sending signal {signal} to pid {}", self.host_pid);
                send_signal(self.host_pid, *signal)
            }
        }
    }

    fn run_command(&self, argv: &[String]) -> Result<()> {
        let command = display_argv(argv);
        log::info!("rebooting: running {command:?} in the mount namespace of pid {}", self.host_pid);
        let output = hostcmd::run_in_host_with_timeout(argv, self.host_pid, self.timeout)?;
        if output.timed_out || output.signal.is_some() {
            // systemctl killed by the shutdown it started, or still waiting on it:
            // the machine may well be going down, so this is not a failure to undo.
            return Err(Error::RebootUncertain { command, status: output.status_text() });
        }
        if !output.success() {
            return Err(Error::CommandFailed {
                command,
                status: output.status_text(),
                stdout: output.stdout,
                stderr: output.stderr,
            });
        }
        log::debug!("reboot command output: stdout {:?}; stderr {:?}", output.stdout, output.stderr);
        Ok(())
    }
}

/// How long the reboot command may run: the host-command default, but never
/// longer than `--reboot-timeout`. A hung command would otherwise keep the node
/// cordoned and the lock held past the bound the operator set (found by the chaos
/// campaign, seed 9403657673498569885: `--reboot-timeout=4s`, a command that
/// hangs, the whole fleet waiting 300 s).
pub fn command_timeout(reboot_timeout: Option<Duration>) -> Duration {
    reboot_timeout.map_or(hostcmd::DEFAULT_TIMEOUT, |t| t.min(hostcmd::DEFAULT_TIMEOUT))
}

/// `kill(pid, signal)`, refusing pid <= 0: kill(0) signals our own process
/// group and kill(-1) every process we may signal — never a reboot.
fn send_signal(pid: i32, signal: i32) -> Result<()> {
    let refuse = |why: &str| Error::Signal { pid, signal, source: io::Error::new(io::ErrorKind::InvalidInput, why) };
    if pid <= 0 {
        return Err(refuse("refusing to signal a process group (pid must be > 0)"));
    }
    if signal <= 0 {
        return Err(refuse("signal must be > 0"));
    }
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(Error::Signal { pid, signal, source: io::Error::last_os_error() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{command_timeout, hostcmd, send_signal, Duration};

    #[track_caller]
    fn refused(pid: i32, signal: i32, want: &str) {
        let err = send_signal(pid, signal).expect_err("must refuse").to_string();
        assert!(err.contains(want), "kill({pid}, {signal}): {err:?} lacks {want:?}");
    }

    #[test]
    fn the_command_never_outlives_the_reboot_timeout() {
        let s = Duration::from_secs;
        for (reboot_timeout, want) in
            [(None, hostcmd::DEFAULT_TIMEOUT), (Some(s(4)), s(4)), (Some(s(1800)), hostcmd::DEFAULT_TIMEOUT)]
        {
            assert_eq!(command_timeout(reboot_timeout), want, "{reboot_timeout:?}");
        }
    }

    #[test]
    fn refuses_process_groups_and_bad_signals() {
        // Signal 0 (a mere permission check): should the guard ever break,
        // nothing is delivered to the process group or to every process.
        refused(0, 0, "refusing to signal a process group");
        refused(-1, 0, "refusing to signal a process group");
        refused(-1234, 39, "pid must be > 0");
        refused(12345, 0, "signal must be > 0");
        refused(12345, -9, "signal must be > 0");
    }
}
