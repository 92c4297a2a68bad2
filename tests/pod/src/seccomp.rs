//! `seccompProfile: RuntimeDefault` as containerd applies it: the fixture
//! `fixtures/seccomp-runtime-default.json` (containerd's default profile in
//! this project's layout) resolved for one container's bounding capabilities
//! and the host's architecture into the OCI `linux.seccomp` section.
//! `Unconfined` (or a privileged container, which containerd gives no profile)
//! means no section at all.

use serde_json::{json, Value};

pub const FIXTURE: &str = include_str!("../fixtures/seccomp-runtime-default.json");

/// The OCI `linux.seccomp` for RuntimeDefault, given the bounding set
/// (`CAP_...` names).
pub fn runtime_default(bounding: &[String]) -> Result<Value, String> {
    let f: Value = serde_json::from_str(FIXTURE).map_err(|e| format!("seccomp fixture: {e}"))?;
    let arch = std::env::consts::ARCH;
    let arches = f["architectures"][arch].clone();
    if !arches.is_array() {
        return Err(format!("seccomp fixture: no architectures for {arch}"));
    }
    let names = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut allow = names(&f["allow"]);
    allow.extend(names(&f["allowOnArch"][arch]));
    let mut syscalls = vec![json!({"names": allow, "action": "SCMP_ACT_ALLOW"})];
    for rule in names(&f["rules"]) {
        syscalls.push(oci_rule(&rule));
    }
    for (cap, list) in f["allowWithCapability"].as_object().into_iter().flatten() {
        if bounding.iter().any(|b| b == cap) {
            syscalls.push(json!({"names": list, "action": "SCMP_ACT_ALLOW"}));
        }
    }
    for (cap, rules) in f["withoutCapability"].as_object().into_iter().flatten() {
        if !bounding.iter().any(|b| b == cap) {
            syscalls.extend(names(rules).iter().map(oci_rule));
        }
    }
    Ok(json!({
        "defaultAction": f["defaultAction"],
        "defaultErrnoRet": f["defaultErrnoRet"],
        "architectures": arches,
        "syscalls": syscalls,
    }))
}

/// A fixture rule without its commentary.
fn oci_rule(rule: &Value) -> Value {
    let mut r = rule.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("why");
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(profile: &Value, name: &str) -> bool {
        profile["syscalls"].as_array().unwrap().iter().any(|r| {
            r["action"] == "SCMP_ACT_ALLOW"
                && r["args"].is_null()
                && r["names"].as_array().unwrap().iter().any(|n| n == name)
        })
    }

    #[test]
    fn capabilities_open_their_syscalls() {
        let base =
            runtime_default(&["CAP_SYS_ADMIN".into(), "CAP_SYS_CHROOT".into(), "CAP_SYS_PTRACE".into()]).unwrap();
        for s in ["setns", "chroot", "ptrace", "openat", "poll", "kill"] {
            assert!(allowed(&base, s), "{s}");
        }
        assert!(!allowed(&base, "reboot"), "no CAP_SYS_BOOT: no reboot(2)");
        let signal = runtime_default(&["CAP_KILL".into()]).unwrap();
        assert!(!allowed(&signal, "setns") && !allowed(&signal, "chroot"));
        let clone3 = signal["syscalls"].as_array().unwrap().iter().find(|r| r["names"][0] == "clone3").unwrap();
        assert_eq!((clone3["action"].as_str(), clone3["errnoRet"].as_u64()), (Some("SCMP_ACT_ERRNO"), Some(38)));
        assert_eq!(base["defaultErrnoRet"], 1);
    }
}
