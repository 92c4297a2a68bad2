//! The real control plane as a child of the harness: `scripts/control-plane
//! build` (cached Go build of tests/control-plane), then its `serve DIR` with
//! `--die-with-parent` in its own process group. Dropping it stops the group.
//! Only one runs at a time per process (they are heavy on a 2-core machine):
//! the slot is held for the control plane's life.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the first start may take on a loaded machine.
const READY_LIMIT: Duration = Duration::from_secs(300);

static SLOT: Mutex<()> = Mutex::new(());

pub struct ControlPlane {
    child: Child,
    pub dir: PathBuf,
    pub server: String,
    pub startup: Duration,
    stopped: bool,
    _slot: MutexGuard<'static, ()>,
}

/// The repository's root (this crate lives in tests/sim).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Build (or reuse) the control-plane binary; its path.
pub fn build() -> Result<PathBuf, String> {
    let script = repo_root().join("scripts/control-plane");
    let out = Command::new(&script).arg("build").output().map_err(|e| format!("run {}: {e}", script.display()))?;
    let said = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        eprint!("{said}"); // "building ... built in N s", when it did
    } else {
        // e.g. no Go: the script says how to install it
        return Err(format!("{} build failed ({}):\n{}", script.display(), out.status, said.trim()));
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(PathBuf::from(path))
}

impl ControlPlane {
    /// Start in `dir` (created; removed by the caller) and wait until ready.
    pub fn start(dir: &Path) -> Result<ControlPlane, String> {
        let slot = SLOT.lock().unwrap_or_else(|p| p.into_inner());
        let bin = build()?;
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let log = std::fs::File::create(dir.join("control-plane.log")).map_err(|e| format!("create log: {e}"))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let t0 = Instant::now();
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .arg(dir)
            .arg("--die-with-parent")
            .arg("--lifetime=2h")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0);
        crate::node::die_with_parent(&mut cmd);
        let child = cmd.spawn().map_err(|e| format!("start {}: {e}", bin.display()))?;
        let mut cp = ControlPlane {
            child,
            dir: dir.to_path_buf(),
            server: String::new(),
            startup: Duration::ZERO,
            stopped: false,
            _slot: slot,
        };
        let kubeconfig = dir.join("kubeconfig");
        while !kubeconfig.exists() {
            if let Ok(Some(status)) = cp.child.try_wait() {
                return Err(format!("the control plane exited during start-up ({status}):\n{}", cp.log_tail(30)));
            }
            if t0.elapsed() > READY_LIMIT {
                return Err(format!("the control plane was not ready within {READY_LIMIT:?}:\n{}", cp.log_tail(30)));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        cp.startup = t0.elapsed();
        let text = std::fs::read_to_string(&kubeconfig).map_err(|e| format!("read kubeconfig: {e}"))?;
        cp.server = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("server: "))
            .ok_or("no server in the kubeconfig")?
            .to_string();
        Ok(cp)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
    pub fn ca_pem(&self) -> Result<Vec<u8>, String> {
        std::fs::read(self.dir.join("pki/ca.crt")).map_err(|e| format!("read CA: {e}"))
    }
    pub fn admin_token(&self) -> Result<String, String> {
        std::fs::read_to_string(self.dir.join("pki/admin.token")).map_err(|e| format!("read admin token: {e}"))
    }
    pub fn audit_log(&self) -> PathBuf {
        self.dir.join("audit.log")
    }
    pub fn port(&self) -> Result<u16, String> {
        self.server.rsplit(':').next().and_then(|p| p.parse().ok()).ok_or_else(|| format!("no port in {}", self.server))
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("control-plane.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

impl ControlPlane {
    /// SIGTERM, up to 15 s to go, then SIGKILL the whole group. Idempotent.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let pid = self.child.id() as libc::pid_t;
        if pid <= 1 {
            return;
        }
        // SAFETY: signals only the group this child leads (process_group(0)); pid > 1.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above; whatever is left of the group goes now.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
