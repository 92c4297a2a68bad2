//! The start-up checks (src/preflight.rs) against processes this test started
//! (never PID 1): a host in our own mount namespace needs nothing entered; a
//! host in a mount namespace of its own is entered for real by the probe; a
//! --host-pid that does not exist and a sentinel directory that is not there
//! are each told in pod-spec terms.

#[path = "support/host.rs"]
mod host;
#[path = "support/poll.rs"]
mod poll;
#[path = "support/tempdir.rs"]
mod tempdir;

use std::process::{Command, Stdio};

use host::HostStandIn;
use kured::config::{self, Config};
use kured::hostcmd::probe_host_namespace;
use kured::preflight;
use tempdir::TempDir;

fn config(args: &[&str]) -> Config {
    let mut all = vec!["--node-id=node-1".to_string(), "--reboot-command=/bin/true".to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    match config::parse(all, |_: &str| None).expect("flags") {
        config::Command::Run(c) => *c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_host_in_our_mount_namespace_needs_no_entering() {
    let host = HostStandIn::new();
    assert!(!probe_host_namespace(host.pid()).unwrap(), "already ours: nothing to enter");
    let dir = TempDir::new("preflight");
    let sentinel = format!("--reboot-sentinel={}", dir.show("reboot-required"));
    let warnings = preflight::check(&config(&[&host.flag(), &sentinel]), &|_| None).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn a_host_in_a_mount_namespace_of_its_own_is_entered_by_the_probe() {
    // needs root, as CI has: fails with the reason where it cannot run
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sleep", "120"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run unshare (util-linux): {e}"));
    let mut other = HostStandIn::wrap(child);
    let ours = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    poll::poll(std::time::Duration::from_secs(20), "the namespace to exist", || {
        assert!(
            other.child().try_wait().unwrap().is_none(),
            "unshare --mount is not permitted here; this test needs root"
        );
        std::fs::read_link(format!("/proc/{}/ns/mnt", other.pid())).is_ok_and(|ns| ns != ours)
    });
    assert!(probe_host_namespace(other.pid()).unwrap(), "entered in a throwaway child");
}

#[test]
fn what_the_pod_spec_lacks_is_named() {
    let gone = {
        let mut c = Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let w = preflight::check(
        &config(&[&format!("--host-pid={gone}"), "--reboot-sentinel=/nonexistent-kured/reboot-required"]),
        &|_| None,
    )
    .unwrap();
    assert!(
        w.iter().any(|w| w.contains(&format!("--host-pid {gone}: no such process")) && w.contains("hostPID: true")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|w| w.contains("the directory /nonexistent-kured of --reboot-sentinel does not exist")
            && w.contains("volumeMounts")),
        "{w:?}"
    );
    // (the token at the standard path: the unit test in src/preflight.rs, and
    // tests/pod's pod without one)
}
