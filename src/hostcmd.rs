//! Commands on the host: running an argv inside the mount namespace of `--host-pid`
//! ([`run_in_host_with_timeout`]), entered with `setns` in the child before exec because a
//! scratch image has no `nsenter`.
//!
//! The program is looked up in `PATH` *inside* the host's namespace: std's
//! `Command` cannot use `posix_spawn` once a `pre_exec` hook is set, so it forks,
//! runs the hook (our `setns`), then calls `execvp`, which searches our `PATH`
//! variable in the file system we just entered — what `nsenter -m` does too.
//!
//! Each command runs in a process group of its own, and dies with the daemon
//! (`PR_SET_PDEATHSIG`): past its timeout the whole group is killed and the
//! command reaped, so a hung `sh -c 'sleep 1000'` leaves nothing behind, and
//! [`kill_running`] lets a stopping daemon end whatever is still running.

pub mod caps;
mod capture;
mod group;
mod ns;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};

pub use capture::OUTPUT_LIMIT;
pub use group::kill_running;

/// How long the reboot command may run before its process group is killed
/// (the sentinel command has its own, shorter bound: see `sentinel`). Upstream
/// waits forever; a hung command would then silently stop the daemon.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// What a finished command said.
#[derive(Debug)]
pub struct Output {
    /// exit code, or None when killed by a signal
    pub code: Option<i32>,
    /// the signal that killed it, if any
    pub signal: Option<i32>,
    /// it ran past its timeout and we killed it
    pub timed_out: bool,
    /// at most [`OUTPUT_LIMIT`] bytes, lossily decoded
    pub stdout: String,
    /// at most [`OUTPUT_LIMIT`] bytes, lossily decoded
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// "exit code 2", "killed by signal 9", "timed out and killed", for messages.
    pub fn status_text(&self) -> String {
        match (self.timed_out, self.code, self.signal) {
            (true, _, _) => "timed out and killed".to_string(),
            (false, Some(code), _) => format!("exit code {code}"),
            (false, None, Some(signal)) => format!("killed by signal {signal}"),
            (false, None, None) => "unknown status".to_string(),
        }
    }
}

/// Whether host commands can enter the mount namespace of `host_pid`, tried
/// in a throwaway child (see `ns::probe_enter`); Ok(false): it is ours already.
pub fn probe_host_namespace(host_pid: i32) -> Result<bool> {
    ns::probe_enter(host_pid)
}

/// Run `argv` in the mount namespace of `host_pid`; past `timeout` its whole
/// process group is killed (SIGKILL), the command reaped and reported with
/// `timed_out`. stdin is /dev/null.
pub fn run_in_host_with_timeout(argv: &[String], host_pid: i32, timeout: Option<Duration>) -> Result<Output> {
    let command = crate::argv::display_argv(argv);
    let Some((program, args)) = argv.split_first() else {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command");
        return Err(Error::Spawn { command, source });
    };
    let ns = ns::foreign_mount_ns(host_pid)?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    group::own_group_dying_with_us(&mut cmd);
    let mut child = ns::spawn_in(&mut cmd, ns.as_ref(), host_pid, &command)?;
    drop(ns);
    let _running = group::Running::register(&child);
    let finished = capture::wait_capturing(&mut child, timeout).map_err(|source| Error::Io {
        what: "cannot wait for command".to_string(),
        path: command,
        source,
    })?;
    Ok(Output {
        code: finished.status.code(),
        signal: finished.status.signal(),
        timed_out: finished.timed_out,
        stdout: finished.stdout,
        stderr: finished.stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[track_caller]
    fn status(code: Option<i32>, signal: Option<i32>, timed_out: bool, want: &str, success: bool) {
        let out = Output { code, signal, timed_out, stdout: String::new(), stderr: String::new() };
        assert_eq!(out.status_text(), want);
        assert_eq!(out.success(), success, "{want}");
    }

    #[test]
    fn describes_status() {
        status(Some(0), None, false, "exit code 0", true);
        status(Some(2), None, false, "exit code 2", false);
        status(None, Some(9), false, "killed by signal 9", false);
        status(None, Some(9), true, "timed out and killed", false);
    }
}
