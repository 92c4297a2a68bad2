//! The host boundary against real processes: sentinel file and command, running
//! commands in another process's mount namespace, and rebooting by command and
//! by signal. Every host pid here is a child this test started (never pid 1),
//! and every "reboot" only writes a marker file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kured::config::{RebootMethod, SentinelSpec};
use kured::hostcmd::{self, run_in_host_with_timeout, Output};
use kured::reboot::Rebooter;
use kured::sentinel::Sentinel;
use kured::Error;

#[path = "support/host.rs"]
mod host;
#[path = "support/poll.rs"]
mod poll;
#[path = "support/tempdir.rs"]
mod tempdir;
use host::{live_with, unique_sleep, HostStandIn};
use tempdir::TempDir;

/// Our stand-in for the host's init: its mount namespace is ours.
fn host_stand_in() -> HostStandIn {
    HostStandIn::new()
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

/// A host command as the daemon runs one (`run_in_host_with_timeout`),
/// bounded by the daemon's own limit for a reboot command, so that none of
/// these waits forever.
fn run_in_host(argv: &[String], host_pid: i32) -> kured::Result<Output> {
    run_in_host_with_timeout(argv, host_pid, Some(hostcmd::DEFAULT_TIMEOUT))
}

/// Host commands here end within their own timeouts (under a second): this
/// only bounds a wait for processes to start or be reaped. No daemon runs, so
/// there is no period to count in.
const PROCESS_WAIT: Duration = Duration::from_secs(10);

#[track_caller]
fn poll_until(what: &str, done: impl FnMut() -> bool) {
    poll::poll(PROCESS_WAIT, what, done)
}

/// A file sentinel never runs anything on the host, but it still gets a host
/// pid we own: never pid 1.
fn file_sentinel(path: &Path, host: &HostStandIn) -> Sentinel {
    Sentinel::new(&SentinelSpec::File(path.display().to_string()), host.pid(), None)
}

#[test]
fn sentinel_file_present_or_absent() {
    let host = host_stand_in();
    let dir = TempDir::new("file");
    let path = dir.join("reboot-required");
    assert!(!file_sentinel(&path, &host).reboot_required().unwrap());
    std::fs::write(&path, "").unwrap();
    assert!(file_sentinel(&path, &host).reboot_required().unwrap());
    // a path through a plain file cannot exist either
    assert!(!file_sentinel(&path.join("below"), &host).reboot_required().unwrap());
}

#[test]
fn sentinel_file_that_cannot_be_checked_is_an_error() {
    let host = host_stand_in();
    let dir = TempDir::new("loop");
    std::os::unix::fs::symlink(dir.join("b"), dir.join("a")).unwrap();
    std::os::unix::fs::symlink(dir.join("a"), dir.join("b")).unwrap();
    let path = dir.join("a").join("reboot-required");
    let err = file_sentinel(&path, &host).reboot_required().expect_err("a symlink loop is not 'absent'");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
}

#[test]
fn sentinel_file_whose_path_cannot_be_looked_up_is_an_error() {
    // An unreadable directory would do, but root (CI) reads any directory: a
    // name longer than the kernel allows (ENAMETOOLONG) fails for everybody.
    let host = host_stand_in();
    let dir = TempDir::new("long");
    let path = dir.join(&"x".repeat(300)).join("reboot-required");
    let result = file_sentinel(&path, &host).reboot_required();
    assert!(matches!(result, Err(Error::Io { .. })), "a path that cannot be looked up is not 'absent': {result:?}");
}

#[track_caller]
fn command_sentinel(argv: Vec<String>, host: &HostStandIn) -> kured::Result<bool> {
    Sentinel::new(&SentinelSpec::Command(argv), host.pid(), Some(Duration::from_secs(10))).reboot_required()
}

#[test]
fn sentinel_command_exit_codes() {
    let host = host_stand_in();
    assert!(command_sentinel(sh("exit 0"), &host).unwrap());
    assert!(!command_sentinel(sh("exit 1"), &host).unwrap());
    assert!(!command_sentinel(sh("echo odd; exit 2"), &host).unwrap(), "other codes warn and mean no");
    assert!(!command_sentinel(sh("kill -9 $$"), &host).unwrap(), "killed means no");
    let err = command_sentinel(vec!["kured-no-such-command".into()], &host).expect_err("not found is an error");
    assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("kured-no-such-command"), "{err}");
}

/// Issue 15, case 2: a sentinel command that never answers is killed with its
/// whole process group (the `sleep` grandchild too), reaped, and the answer is
/// "cannot tell" (an error), never "reboot required" or "not required".
#[test]
fn sentinel_command_that_hangs_is_killed_with_its_group() {
    let host = host_stand_in();
    let token = unique_sleep();
    let started = Instant::now();
    let argv = sh(&format!("sleep {token} & sleep {token}; exit 0"));
    let sentinel = Sentinel::new(&SentinelSpec::Command(argv), host.pid(), Some(Duration::from_millis(300)));
    let err = sentinel.reboot_required().expect_err("a hung sentinel cannot tell");
    assert!(err.to_string().contains("no answer within 300ms, killed with its process group"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    poll_until("the whole group to be gone", || live_with(&token).is_empty());
}

#[test]
fn sentinel_command_timeout_is_the_period_up_to_a_minute() {
    assert_eq!(kured::sentinel::command_timeout(Duration::from_secs(3600)), Duration::from_secs(60));
    assert_eq!(kured::sentinel::command_timeout(Duration::from_secs(10)), Duration::from_secs(10));
}

/// Issue 15, case 8: a sentinel path that is a directory still means "reboot
/// required" (upstream only stats it); the warning is the log's job (see the
/// e2e test `directory_sentinel_warns_once`).
#[test]
fn directory_sentinel_counts_as_required() {
    let host = host_stand_in();
    let dir = TempDir::new("sentinel-dir");
    let sentinel = file_sentinel(Path::new(dir.path()), &host);
    assert!(sentinel.reboot_required().unwrap());
    assert!(sentinel.reboot_required().unwrap(), "every time, not only the first");
}

#[test]
fn run_in_host_runs_and_captures() {
    let host = host_stand_in();
    let dir = TempDir::new("run");
    let marker = dir.show("marker");
    let out = run_in_host(&sh(&format!("echo hi; echo oops >&2; echo ran > {marker}; exit 3")), host.pid()).unwrap();
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (Some(3), "hi\n", "oops\n"));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "ran\n");
}

#[test]
fn run_in_host_bounds_output() {
    let host = host_stand_in();
    let out = run_in_host(&sh("head -c 300000 /dev/zero | tr '\\0' x"), host.pid()).unwrap();
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.starts_with(&"x".repeat(hostcmd::OUTPUT_LIMIT)), "kept the first bytes");
    assert!(
        out.stdout.ends_with(&format!("[{} more bytes not shown]", 300000 - hostcmd::OUTPUT_LIMIT)),
        "{}",
        &out.stdout[hostcmd::OUTPUT_LIMIT..]
    );
}

#[test]
fn run_in_host_timeout_kills() {
    let host = host_stand_in();
    let out =
        run_in_host_with_timeout(&["sleep".into(), "20".into()], host.pid(), Some(Duration::from_millis(100))).unwrap();
    assert!(out.timed_out && !out.success(), "{out:?}");
    assert_eq!(out.status_text(), "timed out and killed");
}

#[test]
fn run_in_host_timeout_kills_the_process_group() {
    let host = host_stand_in();
    let token = unique_sleep();
    // the background child keeps the pipes open: without the group kill the
    // wait would linger and the sleeps would live on
    let argv = sh(&format!("sleep {token} & sleep {token} & wait"));
    let out = run_in_host_with_timeout(&argv, host.pid(), Some(Duration::from_millis(200))).unwrap();
    assert!(out.timed_out, "{out:?}");
    poll_until("both sleeps to be gone", || live_with(&token).is_empty());
}

#[test]
fn run_in_host_names_a_bad_pid() {
    for pid in [0, -1, i32::MAX] {
        let err = run_in_host(&sh("true"), pid).expect_err("no such process");
        assert!(matches!(err, Error::Namespace { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("pid {pid}")), "{err}");
    }
    let host = host_stand_in();
    let err = run_in_host(&[], host.pid()).expect_err("empty argv");
    assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
}

#[test]
fn reboot_by_command_runs_it() {
    let host = host_stand_in();
    let dir = TempDir::new("reboot");
    let marker = dir.show("rebooted");
    let rebooter = Rebooter::new(&RebootMethod::Command, &sh(&format!("echo yes > {marker}")), 39, host.pid(), None);
    rebooter.reboot().unwrap();
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "yes\n");
}

#[test]
fn failing_reboot_command_reports_its_output() {
    let host = host_stand_in();
    let rebooter = Rebooter::new(&RebootMethod::Command, &sh("echo out; echo bad >&2; exit 3"), 39, host.pid(), None);
    let err = rebooter.reboot().expect_err("exit 3 is a failure");
    match &err {
        Error::CommandFailed { status, stdout, stderr, .. } => {
            assert_eq!((status.as_str(), stdout.as_str(), stderr.as_str()), ("exit code 3", "out\n", "bad\n"));
        }
        other => panic!("want CommandFailed, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("exit code 3") && text.contains("out") && text.contains("bad"), "{text}");
}

#[test]
fn reboot_by_signal_reaches_the_host_pid() {
    let dir = TempDir::new("signal");
    let (ready, marker) = (dir.show("ready"), dir.show("got"));
    let script = format!("trap 'echo got > {marker}; exit 0' USR1; touch {ready}; while :; do sleep 0.05; done");
    let mut init = HostStandIn::wrap(Command::new("sh").args(["-c", &script]).spawn().unwrap());
    // the trap must be set before the signal, or USR1 would simply kill the shell
    poll_until("the trap", || Path::new(&ready).exists());
    let rebooter = Rebooter::new(&RebootMethod::Signal, &[], libc::SIGUSR1, init.pid(), None);
    rebooter.reboot().unwrap();
    let mut status = None;
    poll_until("the child to exit", || {
        status = init.child().try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.unwrap().code(), Some(0), "the trap ran and exited cleanly");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "got\n");
}

#[test]
fn reboot_by_signal_reports_a_missing_pid() {
    let rebooter = Rebooter::new(&RebootMethod::Signal, &[], libc::SIGUSR1, i32::MAX, None);
    let err = rebooter.reboot().expect_err("no such process");
    assert!(matches!(err, Error::Signal { pid: i32::MAX, .. }), "{err:?}");
    // Signal 0 (a permission check only): harmless even if the guard broke.
    let err = Rebooter::new(&RebootMethod::Signal, &[], 0, -1, None).reboot().expect_err("pid -1");
    assert!(err.to_string().contains("refusing"), "{err}");
}

/// An existing, empty directory on our PATH: in a private mount namespace we can
/// mount over it to plant a program that only that namespace can find.
fn empty_path_dir() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| {
        let real = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
        real && std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
    })
}

#[test]
fn run_in_host_enters_another_mount_namespace() {
    let dir = TempDir::new("ns");
    let d = dir.0.display().to_string();
    let probe = format!("kured-ns-probe-{}", std::process::id());
    // Only inside the child's private namespace: a tmpfs over our scratch dir
    // holding `secret`, and (if PATH has an empty dir) a program named `probe`.
    let plant = match empty_path_dir() {
        Some(bin) => {
            let b = bin.display();
            format!("mount -t tmpfs kured-test {b} && printf '#!/bin/sh\\necho found\\n' > {b}/{probe} && chmod +x {b}/{probe} && ")
        }
        None => String::new(),
    };
    let script = format!("mount -t tmpfs kured-test {d} && {plant}echo inside > {d}/secret && exec sleep 30");
    let spawned = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stderr(Stdio::piped())
        .spawn();
    // This test needs a mount namespace of its own (root, as on CI): where it
    // cannot have one it fails with the reason rather than pass untested.
    let child = spawned.unwrap_or_else(|e| panic!("cannot run unshare (util-linux) for a mount namespace: {e}"));
    let mut other = HostStandIn::wrap(child);
    let seen_there = PathBuf::from(format!("/proc/{}/root{d}/secret", other.pid()));
    let mut exited = None;
    poll_until("the namespace to be ready", || {
        exited = other.child().try_wait().unwrap();
        exited.is_some() || seen_there.exists()
    });
    if let Some(status) = exited {
        let mut why = String::new();
        std::io::Read::read_to_string(other.child().stderr.as_mut().unwrap(), &mut why).unwrap();
        panic!("unshare --mount is not permitted here ({status}): {}; this test needs root", why.trim());
    }
    assert!(!dir.join("secret").exists(), "the tmpfs must not leak into our namespace");

    let out = run_in_host(&["cat".into(), format!("{d}/secret")], other.pid()).unwrap();
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "inside\n"), "{out:?}");
    let spec = SentinelSpec::Command(vec!["test".into(), "-e".into(), format!("{d}/secret")]);
    assert!(Sentinel::new(&spec, other.pid(), None).reboot_required().unwrap());

    if plant.is_empty() {
        eprintln!("PATH lookup not checked: no empty directory on PATH");
        return;
    }
    // execvp runs after setns, so PATH is searched in the host's file system
    let out = run_in_host(std::slice::from_ref(&probe), other.pid()).unwrap();
    assert_eq!(out.stdout, "found\n", "{out:?}");
    // a stand-in started from here shares our namespace
    let ours = host_stand_in();
    assert!(run_in_host(&[probe], ours.pid()).is_err(), "only the other namespace has it");
}
