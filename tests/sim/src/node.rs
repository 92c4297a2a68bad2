//! One simulated machine: a directory standing in for its disk (the sentinel file,
//! the reboot marker, kured's log), a "host" helper process whose pid kured gets
//! as `--host-pid` (so it never touches PID 1), and the node's kured process.
//! "Rebooting" kills kured (and its children) as the machine would.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to start kured on any node: everything but the node's own paths and port.
#[derive(Debug, Clone)]
pub struct Launch {
    pub kured_bin: PathBuf,
    /// Runs `kured_bin` when not empty (see `ClusterSpec::kured_runner`).
    pub runner: Vec<String>,
    pub api_port: u16,
    pub service_account_dir: PathBuf,
    /// Flags shared by every node (period, concurrency, ...), already formatted.
    pub common_args: Vec<String>,
}

pub struct SimNode {
    pub name: String,
    pub dir: PathBuf,
    pub metrics_port: u16,
    helper: Child,
    kured: Option<Child>,
    pub reboots: u32,
    /// Set while the machine is down: when it comes back.
    pub down_until: Option<Instant>,
    /// Set once kured ended on its own (a bug the summary reports).
    pub crashed: Option<String>,
    /// The running kured's start and where its log began, until its first check.
    unchecked: Option<(Instant, u64)>,
    /// The slowest first check of any kured on this node (see [`crate::budget`]).
    pub slowest_first_check: Option<Duration>,
    /// Extra environment of this node's kured (see `ClusterSpec::kured_env`).
    pub env: Vec<(String, String)>,
}

impl SimNode {
    /// Make the node's directory with the sentinel (every node needs a reboot)
    /// and start its host helper.
    pub fn new(name: &str, root: &Path, metrics_port: u16, needs_reboot: bool) -> io::Result<SimNode> {
        let dir = root.join(name);
        fs::create_dir_all(&dir)?;
        if needs_reboot {
            File::create(dir.join("reboot-required"))?;
        }
        // The helper stands in for the host's PID 1: kured enters its mount
        // namespace (ours) to run the reboot command, and would signal it.
        let mut helper = Command::new("sleep");
        helper.arg("3600").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
        die_with_parent(&mut helper);
        let helper = helper.spawn()?;
        if helper.id() <= 1 {
            return Err(io::Error::other("host helper got pid <= 1; refusing to go on"));
        }
        Ok(SimNode {
            name: name.into(),
            dir,
            metrics_port,
            helper,
            kured: None,
            reboots: 0,
            down_until: None,
            crashed: None,
            unchecked: None,
            slowest_first_check: None,
            env: Vec::new(),
        })
    }

    pub fn sentinel(&self) -> PathBuf {
        self.dir.join("reboot-required")
    }
    pub fn marker(&self) -> PathBuf {
        self.dir.join("reboot-marker")
    }
    /// Sourced by the reboot command before it "reboots" (see [`SimNode::args`]).
    pub fn reboot_fault(&self) -> PathBuf {
        self.dir.join("reboot-fault")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("kured.log")
    }
    pub fn host_pid(&self) -> u32 {
        self.helper.id()
    }
    pub fn kured_pid(&self) -> Option<u32> {
        self.kured.as_ref().map(Child::id)
    }
    /// The running kured's peak resident memory so far (VmHWM), in KiB.
    pub fn kured_peak_kib(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.kured_pid()?)).ok()?;
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.split_whitespace().next()?.parse().ok()
    }

    /// The running kured's resident memory now (VmRSS), in KiB.
    pub fn kured_rss_kib(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.kured_pid()?)).ok()?;
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()
    }

    pub fn kured_running(&self) -> bool {
        self.kured.is_some()
    }

    /// kured's full command line on this node.
    pub fn args(&self, launch: &Launch) -> Vec<String> {
        let mut args = vec![
            format!("--node-id={}", self.name),
            format!("--reboot-sentinel={}", self.sentinel().display()),
            format!("--metrics-port={}", self.metrics_port),
            // Loopback only: an empty --metrics-host listens on every interface.
            "--metrics-host=127.0.0.1".to_string(),
        ];
        args.extend(launch.common_args.iter().cloned());
        // Last, so that no extra argument can override them: the host is our
        // stand-in child and a "reboot" only writes the marker.
        // A `reboot-fault` file in the node's directory, if any, is sourced first:
        // the chaos campaign makes the command fail, hang or do nothing that way.
        args.push(format!(
            "--reboot-command=/bin/sh -c '[ -f {fault} ] && . {fault}; echo rebooted >> {marker}'",
            fault = self.reboot_fault().display(),
            marker = self.marker().display()
        ));
        args.push(format!("--host-pid={}", self.host_pid()));
        args
    }

    /// Start kured; its output is appended to `kured.log`.
    pub fn start_kured(&mut self, launch: &Launch) -> io::Result<()> {
        let mut log = OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let log_start = log.metadata()?.len();
        writeln!(log, "--- kured starts on {} (boot {}) ---", self.name, self.reboots)?;
        let err = log.try_clone()?;
        let mut cmd = match launch.runner.split_first() {
            Some((runner, runner_args)) => {
                let mut cmd = Command::new(runner);
                cmd.args(runner_args).arg(&launch.kured_bin);
                cmd
            }
            None => Command::new(&launch.kured_bin),
        };
        cmd.args(self.args(launch))
            .env_clear()
            .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .env("KUBERNETES_SERVICE_PORT", launch.api_port.to_string())
            .env("KURED_SERVICE_ACCOUNT_DIR", &launch.service_account_dir)
            .env("RUST_LOG", "info")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            // its own group, so that "the machine goes down" also ends the
            // reboot command and anything else kured started
            .process_group(0);
        die_with_parent(&mut cmd);
        let child =
            cmd.spawn().map_err(|e| io::Error::new(e.kind(), format!("start {}: {e}", launch.kured_bin.display())))?;
        self.kured = Some(child);
        self.unchecked = Some((Instant::now(), log_start));
        Ok(())
    }

    /// Note the running kured's first check once its line is in the log
    /// (called on each look until then).
    pub fn note_first_check(&mut self) {
        let Some((started, log_start)) = self.unchecked else { return };
        if self.kured.is_none() {
            self.unchecked = None;
        } else if log_has_a_check(&self.log_path(), log_start) {
            let took = started.elapsed();
            self.unchecked = None;
            self.slowest_first_check = Some(self.slowest_first_check.map_or(took, |d| d.max(took)));
        }
    }

    /// The machine goes down: kured and its children die at once.
    pub fn kill_kured(&mut self) {
        if let Some(mut child) = self.kured.take() {
            kill_group(&mut child);
        }
    }

    /// The reboot command ran since we last looked (the marker is consumed).
    pub fn take_marker(&self) -> bool {
        fs::remove_file(self.marker()).is_ok()
    }

    /// kured ended by itself: how, once.
    pub fn check_exit(&mut self) -> Option<String> {
        let child = self.kured.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.kured = None;
                let s = status.to_string();
                self.crashed = Some(s.clone());
                Some(s)
            }
            _ => None,
        }
    }

    /// The tail of kured's log on this node (for failure reports).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The log, from byte `from`, has the line of a finished check: "reboot required"
/// or "reboot not required" (text or JSON logs).
fn log_has_a_check(path: &Path, from: u64) -> bool {
    let mut bytes = Vec::new();
    let read = File::open(path).and_then(|mut f| {
        f.seek(SeekFrom::Start(from))?;
        f.read_to_end(&mut bytes)
    });
    read.is_ok()
        && String::from_utf8_lossy(&bytes).lines().any(|l| {
            let l = l.trim_end();
            l.ends_with(" reboot required")
                || l.ends_with(" reboot not required")
                || l.contains("\"reboot required\"")
                || l.contains("\"reboot not required\"")
        })
}

impl Drop for SimNode {
    fn drop(&mut self) {
        self.kill_kured();
        kill_group(&mut self.helper);
    }
}

/// SIGKILL the child's process group (never pid <= 1), then reap the child.
fn kill_group(child: &mut Child) {
    let pid = child.id() as libc::pid_t;
    if pid > 1 {
        // SAFETY: kill(2) with a negative pid signals the group this child leads
        // (it was spawned with process_group(0)); pid > 1 rules out PID 1 and "all".
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// If the harness itself dies (even by SIGKILL), the kernel kills its children:
/// no kured is left behind talking to a server that is gone.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls prctl(2),
    // which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A loopback port that was free a moment ago (for kured's metrics).
///
/// Taken below the kernel's ephemeral range when it can be: a port the kernel
/// hands out (`:0`) may be handed out again to one of the many client sockets
/// the daemons open before the daemon binds it (seen with 200 nodes).
pub fn free_port() -> io::Result<u16> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let ephemeral_low: u32 = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    const LOW: u32 = 10_000;
    if ephemeral_low > LOW + 1000 {
        let span = ephemeral_low - LOW;
        let start = std::process::id().wrapping_mul(7919) % span;
        for _ in 0..200 {
            let port = LOW + (start + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) % span;
            if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
                return Ok(port as u16);
            }
        }
    }
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first port of the kernel's ephemeral range (`ip_local_port_range`).
    fn ephemeral_low() -> Option<u16> {
        let text = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
        text.split_whitespace().next()?.parse().ok().filter(|p| *p > 11_000)
    }

    /// Also found by the chaos campaign (seed 11677422830498961158: a kured
    /// exited "Address already in use" in a loop).
    #[test]
    fn free_ports_are_below_the_ephemeral_range_and_free() {
        let low = ephemeral_low().unwrap_or(32768);
        let ports: Vec<u16> = (0..20).map(|_| free_port().unwrap()).collect();
        for p in &ports {
            assert!(*p < low, "{p} is in the ephemeral range (from {low})");
            std::net::TcpListener::bind(("127.0.0.1", *p)).unwrap();
        }
        let distinct: std::collections::BTreeSet<&u16> = ports.iter().collect();
        assert!(distinct.len() > 15, "{ports:?}");
    }
}
