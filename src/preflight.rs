//! Start-up checks of what the pod spec must give kured, said in pod-spec
//! terms before the first reboot needs it (rather than at it, node after node,
//! through `--reboot-timeout`):
//!
//! - the service-account token at the standard path (a pod without it cannot
//!   talk to the API server at all: an error, exit 1);
//! - `--host-pid` visible (`hostPID: true`), its mount namespace opened and
//!   entered for real in a throwaway child when a host command will need it
//!   (the capabilities, a seccomp profile or an LSM policy all answer), and
//!   signalable (signal 0, which delivers nothing) for `--reboot-method=signal`;
//! - the sentinel's directory present (the hostPath volume mounted).
//!
//! Everything but the token is a warning: kured still serves its other
//! checks and metrics, and the reboot's own error says the same again.

use std::path::Path;

use crate::config::{Config, RebootMethod, SentinelSpec};
use crate::error::{Error, Result};
use crate::hostcmd::{self, caps};
use crate::kube::config::DEFAULT_SERVICE_ACCOUNT_DIR;

/// The warnings to log; Err when kured cannot run at all.
pub fn check(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>> {
    token(env, DEFAULT_SERVICE_ACCOUNT_DIR)?;
    let mut warnings = Vec::new();
    let pid = config.host_pid;
    let needs_namespace =
        config.reboot_method == RebootMethod::Command || matches!(config.sentinel, SentinelSpec::Command(_));
    if pid == std::process::id() as i32 {
        warnings.push(format!(
            "--host-pid {pid} is kured itself: the pod has a PID namespace of its own, so the host's init is out of reach; set hostPID: true on the pod"
        ));
    } else if !Path::new(&format!("/proc/{pid}")).exists() {
        warnings
            .push(format!("--host-pid {pid}: no such process in kured's PID namespace: the pod needs hostPID: true"));
    } else {
        if needs_namespace {
            if let Err(e) = hostcmd::probe_host_namespace(pid) {
                warnings.push(format!("host commands (the reboot or sentinel command) will fail: {e}"));
            }
        }
        if config.reboot_method == RebootMethod::Signal {
            // SAFETY: kill(2) with signal 0 only checks permission; pid > 0
            // (validated >= 1) so it never names a process group.
            if pid > 0 && unsafe { libc::kill(pid, 0) } != 0 {
                let err = std::io::Error::last_os_error();
                warnings.push(format!(
                    "--reboot-method=signal will fail: cannot signal pid {pid}: {err}: {}",
                    caps::signal_hint(&err, caps::effective())
                ));
            }
        }
    }
    if let SentinelSpec::File(path) = &config.sentinel {
        if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                warnings.push(format!(
                    "the directory {} of --reboot-sentinel does not exist: the sentinel's hostPath volume is probably not mounted there (volumeMounts: mountPath {}), so no reboot will ever be seen as required",
                    dir.display(),
                    dir.display()
                ));
            }
        }
    }
    Ok(warnings)
}

/// In a pod (KUBERNETES_SERVICE_HOST set) without KURED_SERVICE_ACCOUNT_DIR,
/// the token must be at the standard path (`dir`).
fn token(env: &dyn Fn(&str) -> Option<String>, dir: &str) -> Result<()> {
    if env("KUBERNETES_SERVICE_HOST").is_none() || env("KURED_SERVICE_ACCOUNT_DIR").is_some() {
        return Ok(()); // in_cluster says what is wrong
    }
    let token = format!("{dir}/token");
    if Path::new(&token).exists() {
        return Ok(());
    }
    Err(Error::InCluster(format!(
        "no service-account token at {token}: the pod mounts none (automountServiceAccountToken: false on the pod or on its ServiceAccount?); kured needs the token of its ServiceAccount (serviceAccountName: kured) there"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_without_the_token_is_told_so() {
        let env = |k: &str| (k == "KUBERNETES_SERVICE_HOST").then(|| "10.96.0.1".to_string());
        let err = token(&env, "/nonexistent/serviceaccount").unwrap_err().to_string();
        assert!(
            err.contains("no service-account token at /nonexistent/serviceaccount/token")
                && err.contains("automountServiceAccountToken: false"),
            "{err}"
        );
        assert!(token(&|_| None, "/nonexistent").is_ok(), "outside a pod in_cluster says what is wrong");
    }
}
