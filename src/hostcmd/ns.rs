//! Entering the mount namespace of `--host-pid` in a spawned child. A scratch
//! image has no `nsenter`, so the child calls `setns(2)` itself between fork and
//! exec. Everything the child does there must be async-signal-safe (the parent
//! may have other threads holding locks), so all preparation — opening the
//! namespace file, creating the report pipe — happens in the parent.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use crate::error::{Error, Result};

fn ns_error(pid: i32, action: &'static str, source: io::Error) -> Error {
    let hint = super::caps::namespace_hint(action, &source, super::caps::effective());
    Error::Namespace { pid, action, source, hint }
}

/// Open the mount namespace of `pid`; `None` when it is already ours (the
/// usual case in tests, and it spares us the need for CAP_SYS_ADMIN).
pub(super) fn foreign_mount_ns(pid: i32) -> Result<Option<File>> {
    if pid <= 0 {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "not a process id");
        return Err(ns_error(pid, "open", source));
    }
    // std opens with O_CLOEXEC, so the fd leaks into no exec'd program.
    let target = File::open(format!("/proc/{pid}/ns/mnt")).map_err(|e| ns_error(pid, "open", e))?;
    let theirs = target.metadata().map_err(|e| ns_error(pid, "inspect", e))?;
    let ours = std::fs::metadata("/proc/self/ns/mnt").map_err(|e| ns_error(pid, "compare", e))?;
    if (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()) {
        return Ok(None);
    }
    Ok(Some(target))
}

/// Spawn `cmd`, first entering `ns` (the mount namespace of `pid`) in the child
/// when given. A failed `setns` is told apart from a failed exec through a
/// one-byte report pipe, so the error says which of the two went wrong.
pub(super) fn spawn_in(cmd: &mut Command, ns: Option<&File>, pid: i32, command: &str) -> Result<Child> {
    let spawn_error = |source| Error::Spawn { command: command.to_string(), source };
    let Some(ns) = ns else {
        return cmd.spawn().map_err(spawn_error);
    };
    let mut fds = [0; 2];
    // Non-blocking: a sibling thread's fork may briefly hold the write end, and
    // reading an empty pipe must then not wait for it.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(ns_error(pid, "prepare to enter", io::Error::last_os_error()));
    }
    // SAFETY: pipe2 just returned these two fds and nothing else owns them.
    let (report_rd, report_wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let ns_fd = ns.as_raw_fd();
    let wr_fd = report_wr.as_raw_fd();
    // SAFETY: the closure only calls async-signal-safe functions (setns, write,
    // chdir, errno) on fds the parent keeps open until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(ns_fd, libc::CLONE_NEWNS) != 0 {
                let err = io::Error::last_os_error();
                libc::write(wr_fd, b"n".as_ptr().cast(), 1);
                return Err(err);
            }
            // setns already moves root and cwd to the namespace's root; chdir makes
            // that explicit instead of relying on a kernel detail.
            if libc::chdir(c"/".as_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    drop(report_wr);
    spawned.map_err(|source| {
        let mut byte = [0u8; 1];
        match File::from(report_rd).read(&mut byte) {
            Ok(1) => ns_error(pid, "enter", source),
            _ => spawn_error(source),
        }
    })
}

/// Whether the mount namespace of `pid` can be entered, tried for real in a
/// forked child that calls `setns(2)` and exits at once (capabilities,
/// seccomp and LSM policies all answer, as they would for the reboot
/// command). Ok(false): it is already ours, nothing to enter.
pub(super) fn probe_enter(pid: i32) -> Result<bool> {
    let Some(ns) = foreign_mount_ns(pid)? else { return Ok(false) };
    let fd = ns.as_raw_fd();
    // SAFETY: the child only calls setns and _exit (async-signal-safe) on an
    // fd the parent holds open; the parent only waits for it.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(ns_error(pid, "prepare to enter", io::Error::last_os_error()));
    }
    if child == 0 {
        let code = if unsafe { libc::setns(fd, libc::CLONE_NEWNS) } == 0 {
            0
        } else {
            io::Error::last_os_error().raw_os_error().unwrap_or(255).min(255)
        };
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waitpid on the child we just forked.
    while unsafe { libc::waitpid(child, &mut status, 0) } < 0 {
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(ns_error(pid, "prepare to enter", io::Error::last_os_error()));
        }
    }
    match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
        Some(0) => Ok(true),
        Some(errno) => Err(ns_error(pid, "enter", io::Error::from_raw_os_error(errno))),
        None => Err(ns_error(pid, "enter", io::Error::other("the probe was killed"))),
    }
}
