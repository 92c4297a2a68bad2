//! Host commands as process groups that cannot outlive the daemon: each runs
//! in a group of its own (so a timeout kills `sh` and its `sleep` alike), gets
//! SIGKILL from the kernel when the daemon dies (`PR_SET_PDEATHSIG`, even on
//! SIGKILL or an abort), and is listed while it runs so that a stopping daemon
//! can kill every group at once from a signal handler ([`kill_running`]).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicI32, Ordering};

/// Groups running now (0 = free slot). Commands run one or two at a time (the
/// loop and the metrics refresh), so a few slots are plenty; a command that
/// finds none free still runs, only not listed.
static RUNNING: [AtomicI32; 8] = [const { AtomicI32::new(0) }; 8];

/// Put the command in a new process group and have the kernel kill it when
/// the thread that spawns it (a daemon thread that lives as long as the
/// process) goes.
pub(super) fn own_group_dying_with_us(cmd: &mut Command) {
    cmd.process_group(0);
    // SAFETY: getpid before fork; the closure only calls prctl and getppid,
    // which are async-signal-safe.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The daemon died between fork and prctl: the signal will not come.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("the daemon is gone"));
            }
            Ok(())
        });
    }
}

/// SIGKILL the process group `child` leads (never pid <= 1: kill(-1) would
/// signal every process, and no group of ours is PID 1's).
pub(super) fn kill_group(child: &mut Child) {
    let pid = child.id() as libc::pid_t;
    if pid > 1 {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
}

/// Listed while alive; unlisted on drop, just after the leader is reaped (a
/// group id stays taken while any member lives, so the window in which a
/// recycled id could be signalled is that of one function return).
pub(super) struct Running(Option<usize>);

impl Running {
    pub(super) fn register(child: &Child) -> Running {
        let pgid = child.id() as i32;
        let slot = RUNNING.iter().position(|s| s.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst).is_ok());
        Running(slot)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            RUNNING[i].store(0, Ordering::SeqCst);
        }
    }
}

/// SIGKILL every host command's process group still running. Async-signal-safe
/// (atomic loads and kill(2) only), for a signal handler or the exit path.
pub fn kill_running() {
    for slot in &RUNNING {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 1 {
            // SAFETY: kill(2) has no memory-safety preconditions; pgid > 1.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}
