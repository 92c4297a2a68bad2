//! The real kubectl against this server, for fidelity tests: a kubeconfig, a
//! discovery cache and a HOME of its own in a temp dir removed on drop, and
//! every run bounded (killed, with its stderr, past its deadline). kubectl must
//! be on PATH: a missing one fails the test that wanted it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::FakeApiServer;

pub struct Kubectl {
    dir: PathBuf,
}

/// What a run said.
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    /// `tag` names the temp dir (with this process's id).
    pub fn new(api: &FakeApiServer, tag: &str) -> Kubectl {
        let dir = std::env::temp_dir().join(format!("fakeapi-kubectl-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create kubectl's temp dir");
        api.write_kubeconfig(dir.join("kubeconfig")).expect("write the kubeconfig");
        Kubectl { dir }
    }

    /// Run `kubectl ARGS`, killed if it outlives `deadline`.
    #[track_caller]
    pub fn run(&self, args: &[&str], deadline: Duration) -> Out {
        let mut child = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", self.dir.join("kubeconfig").display()))
            .arg(format!("--cache-dir={}", self.dir.join("cache").display()))
            .args(args)
            .env("HOME", &self.dir)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("kubectl must be on PATH for this test (apt or /usr/bin/kubectl): {e}"));
        let started = Instant::now();
        // (a chatty kubectl could fill a pipe while we wait: these runs print little)
        while child.try_wait().expect("wait for kubectl").is_none() {
            if started.elapsed() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("reap kubectl");
                panic!(
                    "kubectl {args:?} still running after {deadline:?}; stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("reap kubectl");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// Run and require success; its stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str], deadline: Duration) -> String {
        let o = self.run(args, deadline);
        assert!(o.ok, "kubectl {args:?} failed:\n{}\n{}", o.stdout, o.stderr);
        o.stdout
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
