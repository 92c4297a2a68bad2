//! What the kernel needs for each host operation, and which of it this
//! process lacks: its effective capabilities (`CapEff` in /proc/self/status),
//! named as a pod spec names them, so an error says what to add to
//! `securityContext.capabilities.add` (or which pod setting is missing)
//! instead of a bare "Operation not permitted".

use std::io;

/// Capability numbers (linux/capability.h) and their pod-spec names.
pub const KILL: (u32, &str) = (5, "KILL");
pub const SYS_CHROOT: (u32, &str) = (18, "SYS_CHROOT");
pub const SYS_PTRACE: (u32, &str) = (19, "SYS_PTRACE");
pub const SYS_ADMIN: (u32, &str) = (21, "SYS_ADMIN");

/// The effective capability set of this process, None if it cannot be read.
pub fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

/// The capabilities of `need` not in `eff` (all of them when unknown).
pub fn missing(eff: Option<u64>, need: &[(u32, &'static str)]) -> Vec<&'static str> {
    need.iter().filter(|(bit, _)| eff.is_none_or(|e| e & (1u64 << bit) == 0)).map(|(_, name)| *name).collect()
}

fn lacks(names: &[&str], why: &str) -> String {
    format!(
        "the container probably lacks {} (securityContext.capabilities.add: [{}]): {why}",
        names.iter().map(|n| format!("CAP_{n}")).collect::<Vec<_>>().join(" and "),
        names.join(", ")
    )
}

/// Why opening (`action` "open") or entering ("enter") the mount namespace
/// of `--host-pid` failed, in pod-spec terms; empty when there is nothing to
/// add to the error itself.
pub fn namespace_hint(action: &str, err: &io::Error, eff: Option<u64>) -> String {
    let code = err.raw_os_error();
    match (action, code) {
        ("open", Some(libc::ENOENT | libc::ESRCH)) => {
            "no such process in kured's PID namespace: the pod needs hostPID: true (and --host-pid the host's init, 1 by default)".to_string()
        }
        ("open", Some(libc::EACCES | libc::EPERM)) => {
            let why = "opening another process's namespace is a ptrace read access check, and the host's init holds capabilities the container does not";
            if missing(eff, &[SYS_PTRACE]).is_empty() {
                format!("refused although CAP_SYS_PTRACE is effective: an AppArmor or SELinux policy may deny it (appArmorProfile: Unconfined, or overlays/privileged); {why}")
            } else {
                lacks(&["SYS_PTRACE"], why)
            }
        }
        ("enter", Some(libc::EPERM)) => {
            let why = "setns(2) into a mount namespace needs CAP_SYS_ADMIN and CAP_SYS_CHROOT";
            let gone = missing(eff, &[SYS_ADMIN, SYS_CHROOT]);
            if gone.is_empty() {
                "refused although CAP_SYS_ADMIN and CAP_SYS_CHROOT are effective: a seccomp profile (securityContext.seccompProfile) or an LSM policy refuses setns(2)".to_string()
            } else {
                lacks(&gone, why)
            }
        }
        _ => String::new(),
    }
}

/// Why a signal to `--host-pid` failed, in pod-spec terms (empty: nothing to add).
pub fn signal_hint(err: &io::Error, eff: Option<u64>) -> String {
    match err.raw_os_error() {
        Some(libc::ESRCH) => "no such process in kured's PID namespace: the pod needs hostPID: true".to_string(),
        Some(libc::EPERM) if missing(eff, &[KILL]).is_empty() => {
            "refused although CAP_KILL is effective: an AppArmor policy may deny signals to processes outside the container (appArmorProfile: Unconfined)".to_string()
        }
        Some(libc::EPERM) => lacks(&["KILL"], "signalling a process of another user needs CAP_KILL"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = (1 << 18) | (1 << 19) | (1 << 21);

    #[track_caller]
    fn hint(action: &str, errno: i32, eff: u64, want: &str) {
        let h = namespace_hint(action, &io::Error::from_raw_os_error(errno), Some(eff));
        assert!(h.contains(want), "{action} errno {errno} eff {eff:#x}: {h:?} lacks {want:?}");
    }

    #[test]
    fn names_what_is_missing() {
        hint(
            "open",
            libc::EACCES,
            BASE & !(1 << 19),
            "lacks CAP_SYS_PTRACE (securityContext.capabilities.add: [SYS_PTRACE])",
        );
        hint("open", libc::EACCES, BASE, "AppArmor or SELinux");
        hint("open", libc::ENOENT, BASE, "hostPID: true");
        hint(
            "enter",
            libc::EPERM,
            BASE & !(1 << 18),
            "lacks CAP_SYS_CHROOT (securityContext.capabilities.add: [SYS_CHROOT])",
        );
        hint(
            "enter",
            libc::EPERM,
            BASE & !(1 << 21),
            "lacks CAP_SYS_ADMIN (securityContext.capabilities.add: [SYS_ADMIN])",
        );
        hint(
            "enter",
            libc::EPERM,
            1 << 19,
            "lacks CAP_SYS_ADMIN and CAP_SYS_CHROOT (securityContext.capabilities.add: [SYS_ADMIN, SYS_CHROOT])",
        );
        hint("enter", libc::EPERM, BASE, "seccomp profile");
        assert_eq!(namespace_hint("enter", &io::Error::from_raw_os_error(libc::EINVAL), Some(BASE)), "");
        assert!(signal_hint(&io::Error::from_raw_os_error(libc::EPERM), Some(0))
            .contains("CAP_KILL (securityContext.capabilities.add: [KILL])"));
        assert_eq!(parse_cap_eff("Name:\tx\nCapEff:\t00000000a80425fb\n"), Some(0xa80425fb));
        assert_eq!(missing(None, &[SYS_ADMIN]), ["SYS_ADMIN"]);
    }
}
