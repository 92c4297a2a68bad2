//! The simulated node's host, as the kured pod sees it through `hostPID`: a
//! process that is PID 1 of a PID namespace of its own (the pod joins that
//! namespace, so the machine's real PID 1 is not even visible to it), in a
//! private mount namespace of its own where `/bin/systemctl` is bind-mounted
//! over by a script that records its arguments and "reboots" the node (writes
//! the harness's reboot marker), and where `/run` is the node's directory (the
//! sentinel's home, as the pod's hostPath `/var/run` is). It traps the
//! real-time signals, so `--reboot-method=signal` (SIGRTMIN+5 to PID 1) is
//! recorded and reboots the node too. It ends after `lifetime`, when dropped,
//! or when its parent dies (`unshare --kill-child`); with it goes every
//! process of the namespace, the pod's included: a node that goes down.
//!
//! Safety: before the pod may use it, [`HostStandIn::start`] checks that the
//! stand-in's PID and mount namespaces are neither ours nor PID 1's.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STAND_IN: &str = r#"set -eu
dir=$1 run=$2 marker=$3 lifetime=$4
mount --make-rprivate /
mount --bind "$dir/systemctl" /bin/systemctl
mount --bind "$run" /run
for s in $(seq 34 64); do
  trap "echo signal $s >> '$dir/calls'; echo rebooted >> '$marker'" "$s"
done
echo "$$" > "$dir/ready"
end=$((SECONDS + lifetime))
while [ "$SECONDS" -lt "$end" ]; do sleep 1 & wait $! || true; done
"#;

pub struct HostStandIn {
    child: Child,
    /// the namespace's init, as our PID namespace numbers it
    pub init_pid: u32,
    /// the same process as the pod numbers it (1)
    pub pid_in_pod: u32,
    pub dir: PathBuf,
}

fn ns_id(pid: &str, ns: &str) -> Result<(u64, u64), String> {
    let m = fs::metadata(format!("/proc/{pid}/ns/{ns}")).map_err(|e| format!("/proc/{pid}/ns/{ns}: {e}"))?;
    Ok((m.dev(), m.ino()))
}

impl HostStandIn {
    /// Start the host in `dir` (created): `run` is its `/run` (the directory
    /// behind the pod's hostPath `/var/run`), `dir/calls` records each
    /// `systemctl` call and signal; a reboot appends to `marker`.
    pub fn start(dir: &Path, run: &Path, marker: &Path, lifetime: Duration) -> Result<HostStandIn, String> {
        fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let systemctl = dir.join("systemctl");
        let script = format!(
            "#!/bin/sh\n# the simulated host's /bin/systemctl: record, then \"reboot\"\necho \"systemctl $*\" >> '{calls}'\necho rebooted >> '{marker}'\n",
            calls = dir.join("calls").display(),
            marker = marker.display()
        );
        fs::write(&systemctl, script).map_err(|e| format!("write {}: {e}", systemctl.display()))?;
        fs::set_permissions(&systemctl, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        let _ = fs::remove_file(dir.join("ready"));
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--pid",
            "--fork",
            "--kill-child",
            "--mount",
            "--propagation",
            "private",
            "bash",
            "-c",
            STAND_IN,
            "stand-in",
        ])
        .arg(dir)
        .arg(run)
        .arg(marker)
        .arg(lifetime.as_secs().max(1).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        // SAFETY: prctl only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("start the host stand-in (unshare, util-linux): {e}"))?;
        let mut host = HostStandIn { init_pid: 0, pid_in_pod: 0, dir: dir.to_path_buf(), child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !dir.join("ready").exists() {
            if let Ok(Some(status)) = host.child.try_wait() {
                return Err(format!("the host stand-in exited during set-up ({status})"));
            }
            if Instant::now() > deadline {
                return Err("the host stand-in was not ready within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let unshare = host.child.id();
        let children = fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
            .map_err(|e| format!("children of {unshare}: {e}"))?;
        host.init_pid = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or("the stand-in's init is not running")?;
        host.pid_in_pod = pid_in_namespace(host.init_pid)?;
        host.check_isolated()?;
        host.check_replaced(&systemctl, run)?;
        Ok(host)
    }

    /// The hard rule: the pod must never reach PID 1's namespaces (nor ours).
    /// The PID namespace must be nested one level below ours (so it is
    /// neither ours nor PID 1's, which is ours or an ancestor); the mount
    /// namespace must differ from ours and, where we may look, from PID 1's.
    fn check_isolated(&self) -> Result<(), String> {
        let me = self.init_pid.to_string();
        if self.init_pid <= 1 || self.pid_in_pod != 1 {
            return Err(format!(
                "host stand-in: init pid {} (pid {} inside): refusing",
                self.init_pid, self.pid_in_pod
            ));
        }
        let depth = |pid: &str| -> Result<usize, String> {
            let status =
                fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
            Ok(status.lines().find_map(|l| l.strip_prefix("NSpid:")).map_or(0, |l| l.split_whitespace().count()))
        };
        if depth(&me)? != depth("self")? + 1 {
            return Err(
                "host stand-in: its PID namespace is not a new one below ours: refusing to give it to a pod".into()
            );
        }
        for ns in ["pid", "mnt"] {
            let theirs = ns_id(&me, ns)?;
            if ns_id("self", ns)? == theirs {
                return Err(format!("host stand-in: its {ns} namespace is ours: refusing to give it to a pod"));
            }
            // PID 1's may be closed to us (ptrace access): then the checks above stand
            if ns_id("1", ns).is_ok_and(|one| one == theirs) {
                return Err(format!("host stand-in: its {ns} namespace is PID 1's: refusing to give it to a pod"));
            }
        }
        Ok(())
    }

    /// Seen from inside the stand-in (its root through /proc): `/bin/systemctl`
    /// is the recorder and `/run` the test's directory (no systemd socket), or
    /// no pod gets it. `set -eu` already stops the script at a failed mount;
    /// this checks what a pod's reboot command would actually find.
    fn check_replaced(&self, systemctl: &Path, run: &Path) -> Result<(), String> {
        let root = format!("/proc/{}/root", self.init_pid);
        let seen = fs::read(format!("{root}/bin/systemctl"))
            .map_err(|e| format!("host stand-in: {root}/bin/systemctl: {e}"))?;
        if seen != fs::read(systemctl).map_err(|e| e.to_string())? {
            return Err(
                "host stand-in: /bin/systemctl inside is not the recording script: refusing to give it to a pod".into(),
            );
        }
        let id = |p: &str| fs::metadata(p).map(|m| (m.dev(), m.ino())).map_err(|e| format!("host stand-in: {p}: {e}"));
        if id(&format!("{root}/run"))? != id(&run.display().to_string())? {
            return Err("host stand-in: /run inside is not the test's directory: refusing to give it to a pod".into());
        }
        Ok(())
    }

    /// `/proc/<init>/ns/pid`: the namespace a hostPID pod joins.
    pub fn pid_ns(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/pid", self.init_pid))
    }

    /// Everything the host recorded: `systemctl ...` lines and `signal N`.
    pub fn calls(&self) -> String {
        fs::read_to_string(self.dir.join("calls")).unwrap_or_default()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// The pid of `pid` in its own (innermost) PID namespace: the last NSpid field.
fn pid_in_namespace(pid: u32) -> Result<u32, String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no NSpid for {pid}"))
}

impl Drop for HostStandIn {
    fn drop(&mut self) {
        // The unshare process, our child (pid > 1); --kill-child takes its
        // init, and the kernel every other process of the namespace.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
