//! runc, driven as containerd's shim would for one container: `run` in the
//! foreground (stdio passed through), `kill` to forward a signal, `delete`
//! afterwards. State lives under a `--root` of our own, never runc's default.
//! `KURED_POD_RUNC` names another runc binary (default: `runc` on PATH).
//! A cleanup process in a session of its own waits for the runner to go (a
//! pipe closing) and then deletes the container and its state, so a runner
//! killed with SIGKILL (the simulated node going down) leaves nothing behind.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

pub const INSTALL_HINT: &str =
    "runc is needed to run the kured pod: apt-get install runc (scripts/setup.sh installs it)";

/// `KURED_POD_RUNC` (a runc binary), else `runc` on PATH.
fn runc_bin() -> String {
    std::env::var("KURED_POD_RUNC").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "runc".into())
}

pub fn check() -> Result<(), String> {
    match Command::new(runc_bin()).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("{INSTALL_HINT} (runc --version: {})", o.status)),
        Err(e) => Err(format!("{INSTALL_HINT} ({e})")),
    }
}

pub struct Runc {
    pub root: PathBuf,
    pub id: String,
}

impl Runc {
    fn cmd(&self) -> Command {
        let mut c = Command::new(runc_bin());
        c.arg("--root").arg(&self.root);
        c
    }

    /// `runc run` in the foreground: the container's output is ours.
    pub fn run(&self, bundle: &Path) -> Result<Child, String> {
        let mut c = self.cmd();
        c.arg("run").arg("--bundle").arg(bundle).arg(&self.id).stdin(Stdio::null());
        c.spawn().map_err(|e| format!("{INSTALL_HINT} ({e})"))
    }

    /// Send `signal` (e.g. "TERM") to the container's init: only ours, by id.
    pub fn kill(&self, signal: &str) -> bool {
        self.cmd().args(["kill", &self.id, signal]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    }

    pub fn delete(&self) {
        let _ = self.cmd().args(["delete", "--force", &self.id]).stderr(Stdio::null()).status();
    }

    /// Start the cleanup process; keep the returned pipe open while the
    /// container may run. `state` (the bundle and runc's root) goes with it.
    pub fn watchdog(&self, state: &Path) -> Result<ChildStdin, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut c = Command::new(me);
        c.arg("cleanup").arg(&self.root).arg(&self.id).arg(state).stdin(Stdio::piped()).stdout(Stdio::null());
        // SAFETY: setsid only, between fork and exec: out of the runner's
        // process group, so a kill of that group spares the cleanup.
        unsafe {
            c.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let mut child = c.spawn().map_err(|e| format!("start the cleanup process: {e}"))?;
        child.stdin.take().ok_or_else(|| "no pipe to the cleanup process".to_string())
    }
}

/// The cleanup process: wait for EOF on stdin, then remove the container.
pub fn cleanup(root: &Path, id: &str, state: &Path) {
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    let r = Runc { root: root.to_path_buf(), id: id.to_string() };
    r.kill("KILL");
    r.delete();
    let _ = std::fs::remove_dir_all(state);
}
