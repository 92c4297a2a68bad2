//! A stand-in node of one OS family: a `sleep` in a private mount namespace
//! (the test's child, never pid 1) where `/etc/os-release` is a fixture from
//! `tests/fixtures/os-release/`, `/run` is a tmpfs of its own, and fake
//! `needs-restarting`, `zypper`, `rpm-ostree` and `update_engine_client` sit in
//! `/usr/local/sbin` (on PATH), answering as the real tools document from a
//! flag file the test sets. Nothing of it is visible outside that namespace;
//! it is killed and reaped on drop. Needs root (a mount namespace), as CI has.
//! Included with `#[path = "support/os_host.rs"] mod os_host;` beside
//! `host.rs`, `poll.rs` and `tempdir.rs`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::host::HostStandIn;
use super::poll;
use super::tempdir::TempDir;

/// Where the fake tools look (inside the namespace) for what to answer.
const STATE: &str = "/run/kured-test";

/// Each fake checks its arguments as the preset passes them, then answers
/// from `$STATE`: `hang` sleeps (past any sentinel timeout), `code` exits
/// with that code, `needed` gives the tool's "reboot needed" answer.
const TOOLS: &[(&str, &str)] = &[
    (
        "needs-restarting",
        r#"[ "$*" = "-r" ] || { echo "needs-restarting: unexpected arguments: $*" >&2; exit 2; }
if [ -e $STATE/needed ]; then
  echo "Core libraries or services have been updated since boot-up:"
  echo "  * kernel"
  echo
  echo "Reboot is required to fully utilize these updates."
  echo "More information: https://access.redhat.com/solutions/27943"
  exit 1
fi
echo "No core libraries or services have been updated since boot-up."
echo "Reboot should not be necessary."
exit 0"#,
    ),
    (
        "zypper",
        r#"[ "$*" = "needs-rebooting" ] || { echo "zypper: unexpected arguments: $*" >&2; exit 2; }
if [ -e $STATE/needed ]; then
  echo "Core libraries or services have been updated."
  echo "Reboot is required to ensure that your system benefits from these updates."
  exit 102
fi
echo "No core libraries or services have been updated since boot-up."
echo "Reboot is probably not necessary."
exit 0"#,
    ),
    (
        "rpm-ostree",
        r#"[ "$*" = "status --pending-exit-77" ] || { echo "rpm-ostree: unexpected arguments: $*" >&2; exit 2; }
echo "State: idle"
echo "Deployments:"
if [ -e $STATE/needed ]; then
  echo "  fedora:fedora/x86_64/coreos/stable"
  echo "                  Version: 41.20241122.3.0 (2024-12-02T21:17:59Z)"
  echo "                     Diff: 12 upgraded"
  echo
  echo "* fedora:fedora/x86_64/coreos/stable"
  echo "                  Version: 41.20241109.3.0 (2024-11-25T16:55:01Z)"
  exit 77
fi
echo "* fedora:fedora/x86_64/coreos/stable"
echo "                  Version: 41.20241109.3.0 (2024-11-25T16:55:01Z)"
exit 0"#,
    ),
    (
        "update_engine_client",
        r#"[ "$*" = "-status" ] || { echo "update_engine_client: unexpected arguments: $*" >&2; exit 2; }
if [ -e $STATE/garbage ]; then echo "I1203 10:00:00.000000 update_engine_client.cc:245] Querying Update Engine status..."; exit 0; fi
op=UPDATE_STATUS_IDLE
[ -e $STATE/needed ] && op=UPDATE_STATUS_UPDATED_NEED_REBOOT
echo "LAST_CHECKED_TIME=1733220000"
echo "PROGRESS=0.000000"
echo "CURRENT_OP=$op"
echo "NEW_VERSION=0.0.0"
echo "NEW_SIZE=0"
exit 0"#,
    ),
];

/// The fixture's path.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/os-release").join(name)
}

pub struct OsHost {
    host: HostStandIn,
    dir: TempDir,
}

impl OsHost {
    /// A node whose `/etc/os-release` is `tests/fixtures/os-release/<name>`.
    pub fn new(name: &str) -> OsHost {
        let os_release = fixture(name);
        assert!(os_release.is_file(), "no fixture {}", os_release.display());
        assert!(
            std::fs::metadata("/usr/local/sbin").is_ok_and(|m| m.is_dir()),
            "the fake tools go over /usr/local/sbin, which this machine lacks"
        );
        let path = std::env::var("PATH").unwrap_or_default();
        assert!(
            path.split(':').any(|d| d == "/usr/local/sbin"),
            "/usr/local/sbin must be on PATH for the fake tools: {path}"
        );
        let dir = TempDir::new("os-host");
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).unwrap();
        for (tool, body) in TOOLS {
            let script = format!("#!/bin/sh\nSTATE={STATE}\n[ -e $STATE/hang ] && exec sleep 30\n[ -e $STATE/code ] && exit $(cat $STATE/code)\n{body}\n");
            let file = bin.join(tool);
            std::fs::write(&file, script).unwrap();
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        let setup = format!(
            "set -e; mount -t tmpfs kured-test /run; mkdir -p {STATE}; mount --bind {} /etc/os-release; mount --bind {} /usr/local/sbin; touch {STATE}/ready; exec sleep 120",
            os_release.display(),
            bin.display()
        );
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &setup])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run unshare (util-linux) for a mount namespace: {e}"));
        let mut host = HostStandIn::wrap(child);
        let ready = PathBuf::from(format!("/proc/{}/root{STATE}/ready", host.pid()));
        let mut exited = None;
        poll::poll(Duration::from_secs(10), "the OS host's namespace to be ready", || {
            exited = host.child().try_wait().unwrap();
            exited.is_some() || ready.exists()
        });
        if let Some(status) = exited {
            let mut why = String::new();
            std::io::Read::read_to_string(host.child().stderr.as_mut().unwrap(), &mut why).unwrap();
            panic!(
                "the OS host could not be set up ({status}): {}; this test needs root for a mount namespace",
                why.trim()
            );
        }
        OsHost { host, dir }
    }

    pub fn pid(&self) -> i32 {
        self.host.pid()
    }

    /// A path inside the host's file system, from here.
    pub fn host_path(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{path}", self.pid()))
    }

    fn flag(&self, path: &str, on: bool) {
        let file = self.host_path(path);
        if on {
            std::fs::write(&file, "reboot\n").unwrap();
        } else if let Err(e) = std::fs::remove_file(&file) {
            assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{}: {e}", file.display());
        }
    }

    /// Say "reboot needed" the way `family` does: its flag file, or its tool.
    pub fn set_needed(&self, family: &str, on: bool) {
        match family {
            // /var/run is a symlink to /run on most hosts: the host's /run either way
            "debian" => self.flag("/run/reboot-required", on),
            "transactional" => self.flag("/run/reboot-needed", on),
            _ => self.flag(&format!("{STATE}/needed"), on),
        }
    }

    /// Every fake tool exits with `code` (None: answers normally again).
    pub fn set_exit_code(&self, code: Option<i32>) {
        match code {
            Some(c) => std::fs::write(self.host_path(&format!("{STATE}/code")), c.to_string()).unwrap(),
            None => self.flag(&format!("{STATE}/code"), false),
        }
    }

    /// Every fake tool hangs (past any sentinel timeout).
    pub fn set_hang(&self, on: bool) {
        self.flag(&format!("{STATE}/hang"), on)
    }

    /// update_engine_client prints something without a CURRENT_OP line.
    pub fn set_garbage(&self, on: bool) {
        self.flag(&format!("{STATE}/garbage"), on)
    }

    /// Take a fake tool away, as on a host without it installed.
    pub fn remove_tool(&self, tool: &str) {
        std::fs::remove_file(self.dir.join("bin").join(tool)).unwrap();
    }

    /// A scratch file outside the host (for a fallback sentinel).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}
