//! `--reboot-sentinel-preset` against a stand-in node of each OS family (a
//! private mount namespace with that distribution's published os-release and
//! fake tools answering as documented: `support/os_host.rs`): each preset says
//! "needed" and "not needed" correctly, `auto` picks the family from the
//! os-release alone, an unknown OS falls back to upstream's sentinel, and an
//! answer a preset cannot read is an error, never "no" nor a reboot. Every
//! host pid is a child of this test (never pid 1); nothing reboots.

use std::path::Path;
use std::time::Duration;

use kured::config::{OsFamily, SentinelSpec};
use kured::sentinel::{auto, osrelease, Sentinel};
use kured::Error;

#[path = "support/host.rs"]
mod host;
#[path = "support/os_host.rs"]
mod os_host;
#[path = "support/poll.rs"]
mod poll;
#[path = "support/tempdir.rs"]
mod tempdir;
use os_host::OsHost;
use tempdir::TempDir;

/// Fake tools answer at once; this only bounds a hung one.
const TIMEOUT: Duration = Duration::from_secs(5);

fn preset(host: &OsHost, family: OsFamily) -> Sentinel {
    Sentinel::new(&SentinelSpec::Preset(family), host.pid(), Some(TIMEOUT))
}

/// `auto` whose fallback would say "needed": a wrong fallback shows.
fn auto_sentinel(host: &OsHost) -> Sentinel {
    let fallback = host.scratch("fallback-says-needed");
    std::fs::write(&fallback, "").unwrap();
    Sentinel::new(
        &SentinelSpec::Auto(Box::new(SentinelSpec::File(fallback.display().to_string()))),
        host.pid(),
        Some(TIMEOUT),
    )
}

#[track_caller]
fn answers(sentinel: &Sentinel, want: bool, what: &str) {
    match sentinel.reboot_required() {
        Ok(got) => assert_eq!(got, want, "{what}"),
        Err(e) => panic!("{what}: {e}"),
    }
}

/// For each distribution of a family: the preset and `auto` both follow the
/// host's "reboot needed" state, and `auto` names the family.
fn family_follows_the_host(family: OsFamily, fixtures: &[&str]) {
    for name in fixtures {
        let host = OsHost::new(name);
        let detected = auto::detect(host.pid()).unwrap();
        assert_eq!(detected.family, Some(family), "{name}: {}", detected.reason);
        assert!(detected.reason.contains("os-release ID="), "{name}: {}", detected.reason);
        let (explicit, auto) = (preset(&host, family), auto_sentinel(&host));
        for needed in [false, true, false] {
            host.set_needed(family.name(), needed);
            answers(&explicit, needed, &format!("{name}: {} preset, needed={needed}", family.name()));
            answers(&auto, needed, &format!("{name}: auto, needed={needed}"));
        }
        assert_eq!(auto.auto_family(), Some(family), "{name}");
    }
}

#[test]
fn debian_family() {
    family_follows_the_host(OsFamily::Debian, &["debian-12", "ubuntu-24.04", "raspbian-11"]);
}

#[test]
fn rhel_family() {
    family_follows_the_host(OsFamily::Rhel, &["rhel-9.4", "rocky-9.4", "almalinux-9.4", "amzn-2023", "amzn-2"]);
}

#[test]
fn suse_family() {
    family_follows_the_host(OsFamily::Suse, &["opensuse-leap-15.6", "sles-15-sp6"]);
}

#[test]
fn transactional_family() {
    family_follows_the_host(OsFamily::Transactional, &["opensuse-microos", "sl-micro-6.0"]);
}

#[test]
fn rpm_ostree_family() {
    family_follows_the_host(OsFamily::RpmOstree, &["fedora-coreos-41", "fedora-iot-41"]);
}

#[test]
fn flatcar_family() {
    family_follows_the_host(OsFamily::Flatcar, &["flatcar-3975"]);
}

#[test]
fn unknown_os_under_auto_uses_upstreams_sentinel() {
    let host = OsHost::new("alpine-3.20");
    let detected = auto::detect(host.pid()).unwrap();
    assert_eq!(detected.family, None);
    assert!(
        detected.reason.contains("ID=\"alpine\"") && detected.reason.contains("no OS family"),
        "{}",
        detected.reason
    );
    let file = host.scratch("reboot-required");
    let sentinel = Sentinel::new(
        &SentinelSpec::Auto(Box::new(SentinelSpec::File(file.display().to_string()))),
        host.pid(),
        Some(TIMEOUT),
    );
    answers(&sentinel, false, "alpine: the fallback file is absent");
    std::fs::write(&file, "").unwrap();
    answers(&sentinel, true, "alpine: the fallback file is there");
    assert_eq!(sentinel.auto_family(), None);
    // the Debian flag on this host is not what upstream's file sentinel reads
    host.set_needed("debian", true);
    std::fs::remove_file(&file).unwrap();
    answers(&sentinel, false, "alpine: only the fallback counts");
}

#[test]
fn answers_a_preset_cannot_read_are_errors() {
    let host = OsHost::new("opensuse-leap-15.6");
    let suse = preset(&host, OsFamily::Suse);
    // zypper's 7 is ZYPPER_EXIT_ZYPP_LOCKED: not an answer
    host.set_exit_code(Some(7));
    let err = suse.reboot_required().expect_err("exit 7 is neither 102 nor 0");
    assert!(matches!(err, Error::CommandFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("exit code 7, neither 102 (needed) nor 0"), "{err}");
    assert!(err.to_string().contains("suse preset cannot tell"), "{err}");
    host.set_exit_code(None);
    answers(&suse, false, "zypper answers again");

    // needs-restarting's "needed" code from a crash does not count
    host.set_exit_code(Some(1));
    answers(&preset(&host, OsFamily::Rhel), true, "exit 1 without a traceback is the documented 'needed'");
    host.set_exit_code(None);

    let flatcar = preset(&host, OsFamily::Flatcar);
    host.set_garbage(true);
    let err = flatcar.reboot_required().expect_err("no CURRENT_OP line");
    assert!(err.to_string().contains("no CURRENT_OP= line"), "{err}");
    host.set_garbage(false);
    answers(&flatcar, false, "update_engine_client answers again");

    host.remove_tool("rpm-ostree");
    let err = preset(&host, OsFamily::RpmOstree).reboot_required().expect_err("no rpm-ostree on this host");
    assert!(matches!(err, Error::Spawn { .. }), "{err:?}");
}

#[test]
fn a_hung_tool_is_killed_and_is_no_answer() {
    let host = OsHost::new("flatcar-3975");
    host.set_hang(true);
    let sentinel =
        Sentinel::new(&SentinelSpec::Preset(OsFamily::Flatcar), host.pid(), Some(Duration::from_millis(300)));
    let err = sentinel.reboot_required().expect_err("a hung tool says nothing");
    assert!(err.to_string().contains("no answer within 300ms"), "{err}");
}

#[test]
fn os_release_symlinks_stay_inside_the_hosts_root() {
    // Some images link /etc/os-release absolutely; through /proc/<pid>/root
    // the kernel would resolve that against our root, not the host's.
    let root = TempDir::new("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::copy(os_host::fixture("flatcar-3975"), root.join("usr/lib/os-release")).unwrap();
    std::os::unix::fs::symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
    let (path, text) = osrelease::read_host(&root.0).unwrap().expect("found through the absolute link");
    assert_eq!(path, root.join("usr/lib/os-release"));
    assert!(text.contains("ID=flatcar"));
    // a relative link that climbs above the root stops at the root
    std::fs::remove_file(root.join("etc/os-release")).unwrap();
    std::os::unix::fs::symlink("../../../../../usr/lib/os-release", root.join("etc/os-release")).unwrap();
    assert_eq!(osrelease::read_host(&root.0).unwrap().unwrap().0, root.join("usr/lib/os-release"));
    // no /etc/os-release: /usr/lib/os-release (os-release(5))
    std::fs::remove_file(root.join("etc/os-release")).unwrap();
    assert_eq!(osrelease::read_host(&root.0).unwrap().unwrap().0, root.join("usr/lib/os-release"));
    // neither: an unknown OS, not an error
    std::fs::remove_file(root.join("usr/lib/os-release")).unwrap();
    assert!(osrelease::read_host(&root.0).unwrap().is_none());
    // a loop is an error (cannot tell), not "absent"
    std::os::unix::fs::symlink("/etc/b", root.join("etc/a")).unwrap();
    std::os::unix::fs::symlink("a", root.join("etc/b")).unwrap();
    std::os::unix::fs::symlink("a", root.join("etc/os-release")).unwrap();
    let err = osrelease::read_host(Path::new(&root.0)).expect_err("a symlink loop");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}
