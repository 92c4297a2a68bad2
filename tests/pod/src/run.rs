//! One kured pod on one simulated node, start to end, as a kubelet would run
//! it: the host stand-in (its PID namespace is the pod's `hostPID`), the pod's
//! network sandbox, the OCI bundle from the rendered spec, `runc run`; SIGTERM
//! or SIGINT to the runner is passed to the container (`runc kill TERM`, only
//! ours, by id), then SIGKILL after `terminationGracePeriodSeconds`, as the
//! kubelet does. The runner's exit code is the container's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::bundle::{self, Context};
use crate::host::HostStandIn;
use crate::net::Sandbox;
use crate::runc::{self, Runc};
use crate::spec;

#[derive(Debug, Clone)]
pub struct Options {
    /// the rendered manifests (YAML or JSON, one DaemonSet among them)
    pub manifest: String,
    pub node: String,
    /// the simulated host's `/var/run` (the sentinel's directory)
    pub host_run: PathBuf,
    /// the host stand-in's records (`calls`, its `systemctl`)
    pub host_dir: PathBuf,
    /// appended to by a "reboot"
    pub marker: PathBuf,
    /// `image::unpack`'s directory (rootfs, image.json)
    pub image_dir: PathBuf,
    pub service_account_dir: PathBuf,
    pub api: SocketAddr,
    /// the `kubernetes` Service as the pod sees it
    pub service: SocketAddr,
    /// a loopback port of ours carried to the pod's first containerPort
    pub expose: Option<u16>,
    /// the pod and its host end after this long whatever happens
    pub lifetime: Duration,
}

static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

fn state_dir(node: &str) -> Result<PathBuf, String> {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("kured-pod-{node}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(dir.join("bundle")).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Run the pod until its container ends; the container's exit code.
pub fn run(o: &Options) -> Result<i32, String> {
    runc::check()?;
    let spec = spec::from_yaml(&o.manifest)?;
    if let Some(profile) = &spec.security.apparmor {
        eprintln!("kured-pod: appArmorProfile {profile}: not applied (runc loads no AppArmor profile here; see tests/pod/src/bundle.rs)");
    }
    let host = HostStandIn::start(&o.host_dir, &o.host_run, &o.marker, o.lifetime)?;
    let sandbox = Sandbox::new(o.service, o.api)?;
    if let (Some(port), Some(pod_port)) = (o.expose, spec.ports.first()) {
        sandbox.expose(port, *pod_port)?;
    }
    let state = state_dir(&o.node)?;
    // each container its own copy: runc makes its mount points in the root
    // file system, and a pod must not find those of another (a /sentinel
    // it never mounted, say)
    let rootfs = state.join("rootfs");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(o.image_dir.join("rootfs"))
        .arg(&rootfs)
        .status()
        .map_err(|e| format!("cp: {e}"))?;
    if !cp.success() {
        return Err(format!("copy the image's root file system to {}: {cp}", rootfs.display()));
    }
    let ctx = Context {
        node: o.node.clone(),
        pod_name: format!("{}-{}", spec.daemonset, o.node),
        rootfs,
        host_pid_ns: host.pid_ns(),
        net_ns: sandbox.path(),
        host_paths: vec![("/var/run".into(), o.host_run.clone()), ("/run".into(), o.host_run.clone())],
        service_account_dir: Some(o.service_account_dir.clone()),
        service: (o.service.ip().to_string(), o.service.port()),
        // the only argument added to the spec's: the host is our stand-in
        extra_args: vec![format!("--host-pid={}", host.pid_in_pod)],
        image: crate::image::config(&o.image_dir)?,
    };
    let config = bundle::config(&spec, &ctx)?;
    let bundle_dir = state.join("bundle");
    std::fs::write(bundle_dir.join("config.json"), serde_json::to_string_pretty(&config).unwrap_or_default())
        .map_err(|e| format!("write config.json: {e}"))?;
    let r = Runc { root: state.join("runc"), id: format!("kured-pod-{}-{}", o.node, std::process::id()) };
    let _watchdog = r.watchdog(&state)?;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
    let mut child = r.run(&bundle_dir)?;
    let started = Instant::now();
    let grace = Duration::from_secs(spec.grace_seconds);
    let mut term_sent: Option<Instant> = None;
    let mut killed = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if SIGNALLED.load(Ordering::SeqCst) != 0 && term_sent.is_none() {
            eprintln!("kured-pod: stopping the pod: SIGTERM to container {}, SIGKILL after {}s", r.id, grace.as_secs());
            r.kill("TERM");
            term_sent = Some(Instant::now());
        }
        let overdue = term_sent.is_some_and(|t| t.elapsed() > grace) || started.elapsed() > o.lifetime;
        if overdue && !killed {
            eprintln!("kured-pod: container {} still running: SIGKILL", r.id);
            r.kill("KILL");
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    r.delete();
    drop(host);
    use std::os::unix::process::ExitStatusExt;
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}
