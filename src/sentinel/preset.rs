//! One "reboot needed?" check per OS family (`--reboot-sentinel-preset`), and
//! the choice of a family from the host's os-release (`auto`). Pure: the checks
//! are data ([`probe`]) and the reading of a command's answer is a function
//! ([`read_answer`]); `sentinel.rs` runs them in the host's mount namespace.
//!
//! Unlike upstream's sentinel command (exit 0 = needed, anything else = no),
//! a preset knows what its tool answers: an exit code or output outside the
//! documented ones is "cannot tell" (an error, logged, asked again next
//! period), never a silent "no" nor a reboot.

use crate::config::OsFamily;

use super::osrelease::OsRelease;

/// How a family's check is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The file exists in the host's file system.
    HostFile(&'static str),
    /// A command in the host's mount namespace (looked up in PATH there).
    Command { argv: &'static [&'static str], reading: Reading },
}

/// How a command's answer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// These exit codes mean needed / not needed.
    ExitCode { needed: i32, not_needed: i32 },
    /// Exit 0 and a `CURRENT_OP=` line: needed when it is
    /// `UPDATE_STATUS_UPDATED_NEED_REBOOT`.
    UpdateEngineStatus,
}

pub fn probe(family: OsFamily) -> Probe {
    use Reading::ExitCode;
    match family {
        // Debian/Ubuntu/Raspberry Pi OS: packages whose update needs a reboot
        // (kernel, libc, ...) create /var/run/reboot-required from their
        // maintainer scripts (update-notifier-common's
        // /usr/share/update-notifier/notify-reboot-required; Debian Policy
        // 4.5.1 index "reboot-required"): upstream kured's default sentinel.
        OsFamily::Debian => Probe::HostFile("/var/run/reboot-required"),
        // RHEL/Rocky/Alma/CentOS/Fedora/Amazon Linux: needs-restarting(1)
        // (yum-utils; dnf-utils / dnf-plugins-core on dnf systems):
        // "-r, --reboothint: Only report whether a full reboot is required
        // (exit code 1) or not (exit code 0)".
        OsFamily::Rhel => {
            Probe::Command { argv: &["needs-restarting", "-r"], reading: ExitCode { needed: 1, not_needed: 0 } }
        }
        // openSUSE Leap/Tumbleweed, SLES: zypper(8) "needs-rebooting: Checks if
        // the reboot-needed flag was set by a previous update or install of a
        // core library or service"; exit codes: "102 -
        // ZYPPER_EXIT_INF_REBOOT_NEEDED", "0 - ZYPPER_EXIT_OK".
        OsFamily::Suse => {
            Probe::Command { argv: &["zypper", "needs-rebooting"], reading: ExitCode { needed: 102, not_needed: 0 } }
        }
        // openSUSE MicroOS, SLE Micro / SL Micro (read-only root): an update is
        // a new btrfs snapshot made the default, active "only after reboot"
        // (transactional-update(8)); the pending reboot is flagged in
        // /run/reboot-needed, the flag libzypp's zypp-boot-plugin(8) writes
        // ("creates the file /run/reboot-needed which indicates for other
        // applications, that a reboot is needed") and rebootmgr and
        // `zypper needs-rebooting` read. /run is a tmpfs: the flag goes with
        // the reboot.
        OsFamily::Transactional => Probe::HostFile("/run/reboot-needed"),
        // Fedora CoreOS/IoT/Silverblue, RHCOS: rpm-ostree(1) status
        // "--pending-exit-77: If pending deployment available, exit 77" (a
        // staged or pending deployment becomes the booted one at the next
        // boot); 0 otherwise.
        OsFamily::RpmOstree => Probe::Command {
            argv: &["rpm-ostree", "status", "--pending-exit-77"],
            reading: ExitCode { needed: 77, not_needed: 0 },
        },
        // Flatcar Container Linux: `update_engine_client -status` prints
        // KEY=value lines; CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT once an
        // update is written to the passive partition and "a reboot is the last
        // step of the update" (Flatcar docs, "Update and reboot strategies";
        // the status names are update_engine's update_attempter.h, as
        // locksmith's updateengine.UpdateStatusUpdatedNeedReboot).
        OsFamily::Flatcar => {
            Probe::Command { argv: &["update_engine_client", "-status"], reading: Reading::UpdateEngineStatus }
        }
    }
}

/// A short description of a family's check, for logs and the README table.
pub fn describe(family: OsFamily) -> String {
    match probe(family) {
        Probe::HostFile(path) => format!("the host file {path} exists"),
        Probe::Command { argv, reading: Reading::ExitCode { needed, .. } } => {
            format!("`{}` exits {needed}", argv.join(" "))
        }
        Probe::Command { argv, reading: Reading::UpdateEngineStatus } => {
            format!("`{}` says CURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT", argv.join(" "))
        }
    }
}

/// What a command's answer means: `Ok(needed)`, or `Err(why it cannot be read)`.
pub fn read_answer(reading: Reading, code: Option<i32>, stdout: &str, stderr: &str) -> Result<bool, String> {
    match (reading, code) {
        (_, None) => Err("killed by a signal".to_string()),
        // A Python tool that crashes exits 1 with a traceback: for
        // needs-restarting that is the "needed" code, so it must not count.
        (Reading::ExitCode { .. }, Some(1)) if stderr.contains("Traceback (most recent call last)") => {
            Err("exit code 1 with a Python traceback: the tool crashed".to_string())
        }
        (Reading::ExitCode { needed, .. }, Some(c)) if c == needed => Ok(true),
        (Reading::ExitCode { not_needed, .. }, Some(c)) if c == not_needed => Ok(false),
        (Reading::ExitCode { needed, not_needed }, Some(c)) => {
            Err(format!("exit code {c}, neither {needed} (needed) nor {not_needed} (not needed)"))
        }
        (Reading::UpdateEngineStatus, Some(0)) => {
            let op = stdout.lines().find_map(|l| l.trim().strip_prefix("CURRENT_OP="));
            match op.map(str::trim) {
                Some("UPDATE_STATUS_UPDATED_NEED_REBOOT") => Ok(true),
                Some(op) if op.starts_with("UPDATE_STATUS_") => Ok(false),
                Some(op) => Err(format!("unknown CURRENT_OP {op:?}")),
                None => Err("no CURRENT_OP= line in its output".to_string()),
            }
        }
        (Reading::UpdateEngineStatus, Some(c)) => Err(format!("exit code {c}")),
    }
}

/// Which family `auto` picked, and why (for the log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub family: Option<OsFamily>,
    pub reason: String,
}

/// Fedora variants that are rpm-ostree systems (os-release VARIANT_ID).
const OSTREE_VARIANTS: &[&str] = &["coreos", "iot", "silverblue", "kinoite", "sericea", "onyx", "atomic"];

/// The family an os-release ID (or ID_LIKE word) names, if any.
fn family_of(id: &str, variant_id: &str) -> Option<OsFamily> {
    Some(match id {
        "flatcar" | "coreos" => OsFamily::Flatcar,
        "rhcos" | "scos" | "fedora-coreos" => OsFamily::RpmOstree,
        "fedora" if OSTREE_VARIANTS.contains(&variant_id) => OsFamily::RpmOstree,
        "opensuse-microos" | "microos" | "sle-micro" | "sl-micro" | "opensuse-leap-micro" => OsFamily::Transactional,
        "opensuse"
        | "opensuse-leap"
        | "opensuse-tumbleweed"
        | "opensuse-slowroll"
        | "sles"
        | "sled"
        | "sles_sap"
        | "suse" => OsFamily::Suse,
        "rhel" | "centos" | "fedora" | "rocky" | "almalinux" | "ol" | "amzn" | "eurolinux" | "circle" | "navylinux" => {
            OsFamily::Rhel
        }
        "debian" | "ubuntu" | "raspbian" | "linuxmint" | "pop" => OsFamily::Debian,
        _ => return None,
    })
}

/// `auto`: the host's own ID first, then ID_LIKE in its order ("closest
/// first", os-release(5)). VARIANT_ID only matters to an ostree-based Fedora.
pub fn choose(os: &OsRelease) -> Choice {
    let shown = if os.pretty_name.is_empty() { os.id.clone() } else { os.pretty_name.clone() };
    if let Some(family) = family_of(&os.id, &os.variant_id) {
        let variant = if os.variant_id.is_empty() { String::new() } else { format!(" VARIANT_ID={}", os.variant_id) };
        let reason = format!("os-release ID={}{variant} ({shown})", os.id);
        return Choice { family: Some(family), reason };
    }
    for like in &os.id_like {
        // an ID_LIKE word says nothing of this host's variant
        if let Some(family) = family_of(like, "") {
            let reason = format!("os-release ID={} is like {like} (ID_LIKE={}; {shown})", os.id, os.id_like.join(" "));
            return Choice { family: Some(family), reason };
        }
    }
    let reason = format!(
        "os-release ID={:?} ID_LIKE={:?} ({shown}) is no OS family kured-rs knows",
        os.id,
        os.id_like.join(" ")
    );
    Choice { family: None, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OsFamily::*;

    #[track_caller]
    fn picks(text: &str, want: Option<OsFamily>) {
        let choice = choose(&OsRelease::parse(text));
        assert_eq!(choice.family, want, "{text}: {}", choice.reason);
    }

    #[test]
    fn chooses_a_family_from_os_release() {
        picks("ID=debian", Some(Debian));
        picks("ID=ubuntu\nID_LIKE=debian", Some(Debian));
        picks("ID=raspbian\nID_LIKE=debian", Some(Debian));
        picks("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"", Some(Rhel));
        picks("ID=\"amzn\"\nID_LIKE=\"fedora\"", Some(Rhel));
        picks("ID=fedora", Some(Rhel));
        picks("ID=fedora\nVARIANT_ID=server", Some(Rhel));
        picks("ID=fedora\nVARIANT_ID=coreos", Some(RpmOstree));
        picks("ID=fedora\nVARIANT_ID=iot", Some(RpmOstree));
        picks("ID=\"rhcos\"\nID_LIKE=\"rhel fedora\"", Some(RpmOstree));
        // a Fedora derivative is not an ostree system because Fedora CoreOS is one
        picks("ID=nobara\nID_LIKE=fedora\nVARIANT_ID=coreos", Some(Rhel));
        picks(
            "ID=\"opensuse-microos\"\nID_LIKE=\"suse opensuse opensuse-tumbleweed microos sl-micro\"",
            Some(Transactional),
        );
        picks("ID=\"sl-micro\"\nID_LIKE=\"suse\"", Some(Transactional));
        picks("ID=\"sle-micro\"\nID_LIKE=\"suse\"", Some(Transactional));
        picks("ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"", Some(Suse));
        picks("ID=\"sles\"\nID_LIKE=\"suse\"", Some(Suse));
        picks("ID=flatcar\nID_LIKE=coreos", Some(Flatcar));
        picks("ID=alpine", None);
        picks("ID=arch", None);
        picks("", None);
        picks("ID=something\nID_LIKE=\"unknown debian\"", Some(Debian));
    }

    #[test]
    fn says_why() {
        let c = choose(&OsRelease::parse("ID=fedora\nVARIANT_ID=coreos\nPRETTY_NAME=\"Fedora CoreOS 41\""));
        assert_eq!(c.reason, "os-release ID=fedora VARIANT_ID=coreos (Fedora CoreOS 41)");
        let c = choose(&OsRelease::parse("ID=neon\nID_LIKE=\"ubuntu debian\""));
        assert_eq!(c.reason, "os-release ID=neon is like ubuntu (ID_LIKE=ubuntu debian; neon)");
        let c = choose(&OsRelease::parse("ID=alpine\nPRETTY_NAME=\"Alpine Linux v3.20\""));
        assert_eq!(
            c.reason,
            "os-release ID=\"alpine\" ID_LIKE=\"\" (Alpine Linux v3.20) is no OS family kured-rs knows"
        );
    }

    const CODES: Reading = Reading::ExitCode { needed: 102, not_needed: 0 };

    #[track_caller]
    fn answer(reading: Reading, code: Option<i32>, stdout: &str, stderr: &str, want: Result<bool, &str>) {
        let got = read_answer(reading, code, stdout, stderr);
        match want {
            Ok(b) => assert_eq!(got, Ok(b), "{code:?} {stdout:?}"),
            Err(part) => assert!(got.as_ref().is_err_and(|e| e.contains(part)), "{code:?} {stdout:?}: {got:?}"),
        }
    }

    #[test]
    fn reads_answers() {
        let ue = Reading::UpdateEngineStatus;
        let rhel = Reading::ExitCode { needed: 1, not_needed: 0 };
        answer(CODES, Some(102), "", "", Ok(true));
        answer(CODES, Some(0), "", "", Ok(false));
        answer(CODES, Some(7), "", "", Err("exit code 7, neither 102"));
        answer(CODES, None, "", "", Err("signal"));
        answer(rhel, Some(1), "Reboot is required", "", Ok(true));
        answer(rhel, Some(1), "", "Traceback (most recent call last):\n  File", Err("traceback"));
        answer(rhel, Some(0), "", "", Ok(false));
        let status = |op: &str| {
            format!("LAST_CHECKED_TIME=1700000000\nPROGRESS=0.000000\nCURRENT_OP={op}\nNEW_VERSION=0.0.0\nNEW_SIZE=0\n")
        };
        answer(ue, Some(0), &status("UPDATE_STATUS_UPDATED_NEED_REBOOT"), "", Ok(true));
        answer(ue, Some(0), &status("UPDATE_STATUS_IDLE"), "", Ok(false));
        answer(ue, Some(0), &status("UPDATE_STATUS_DOWNLOADING"), "", Ok(false));
        answer(ue, Some(0), &status("WHATEVER"), "", Err("unknown CURRENT_OP"));
        answer(ue, Some(0), "garbage", "", Err("no CURRENT_OP"));
        answer(ue, Some(1), "", "cannot connect to D-Bus", Err("exit code 1"));
    }

    #[test]
    fn every_family_has_a_probe_and_a_description() {
        for family in OsFamily::ALL {
            assert!(!describe(family).is_empty());
            assert_eq!(OsFamily::from_name(family.name()), Some(family));
        }
        assert_eq!(describe(Suse), "`zypper needs-rebooting` exits 102");
    }
}
