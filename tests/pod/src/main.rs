//! `kured-pod`: run the rendered DaemonSet's kured pod in runc on a simulated
//! node (see the library's docs). Three ways in:
//!
//! ```text
//! kured-pod run --manifest FILE|- --node NAME --host-run DIR --image-dir DIR
//!               --service-account-dir DIR --api HOST:PORT
//!               [--host-dir DIR] [--marker FILE] [--service IP:PORT] [--expose PORT] [--lifetime SECONDS]
//! kured-pod sim --manifest FILE --image-dir DIR -- KURED_BIN HARNESS_ARGS...
//! kured-pod cleanup RUNC_ROOT ID STATE_DIR        (internal: started by `run`)
//! ```
//!
//! `sim` is the tests/sim harness's runner protocol (`ClusterSpec::kured_runner`):
//! of the harness's command line it takes only the node's name (`--node-id`),
//! its directory (that of `--reboot-sentinel`, which holds the sentinel and the
//! reboot marker) and its metrics port (`--metrics-port`, carried to the pod's
//! port); the API server and the token come from the harness's environment.
//! Everything kured runs with comes from the manifest, plus `--host-pid`.
//! `KURED_POD_MANIFEST` in the runner's environment (the harness's per-node
//! `kured_env`) gives one node a manifest of its own; `--service harness`
//! makes the Service's address the harness's API server's own (for the fake
//! server, whose certificate names only loopback).
//! Exit code: the container's; 2 for a usage error, 1 when the pod cannot start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use pod::run::{run, Options};

fn usage(msg: &str) -> ExitCode {
    eprintln!("kured-pod: {msg}\nusage: kured-pod run|sim|cleanup ... (see tests/pod/src/main.rs)");
    ExitCode::from(2)
}

fn read_manifest(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| format!("read stdin: {e}"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))
    }
}

const SERVICE: &str = "10.96.0.1:443";
const LIFETIME: u64 = 7200;

fn addr(s: &str, what: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| format!("{what} {s:?} is not an IP:PORT"))
}

/// `--flag value` pairs into a lookup.
fn pairs(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let name = a.strip_prefix("--").ok_or_else(|| format!("unexpected argument {a:?}"))?;
        let (k, v) = match name.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (name.to_string(), it.next().ok_or_else(|| format!("--{name} needs a value"))?.clone()),
        };
        out.push((k, v));
    }
    Ok(out)
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn need<'a>(p: &'a [(String, String)], k: &str) -> Result<&'a str, String> {
    get(p, k).ok_or_else(|| format!("--{k} is required"))
}

fn options_run(args: &[String]) -> Result<Options, String> {
    let p = pairs(args)?;
    let host_run = PathBuf::from(need(&p, "host-run")?);
    let node = need(&p, "node")?.to_string();
    Ok(Options {
        manifest: read_manifest(need(&p, "manifest")?)?,
        host_dir: get(&p, "host-dir").map(PathBuf::from).unwrap_or_else(|| host_run.join("host")),
        marker: get(&p, "marker").map(PathBuf::from).unwrap_or_else(|| host_run.join("reboot-marker")),
        host_run,
        node,
        image_dir: PathBuf::from(need(&p, "image-dir")?),
        service_account_dir: PathBuf::from(need(&p, "service-account-dir")?),
        api: addr(need(&p, "api")?, "--api")?,
        service: addr(get(&p, "service").unwrap_or(SERVICE), "--service")?,
        expose: get(&p, "expose")
            .map(|v| v.parse().map_err(|_| format!("--expose {v:?} is not a port")))
            .transpose()?,
        lifetime: Duration::from_secs(
            get(&p, "lifetime")
                .map(|v| v.parse().map_err(|_| format!("--lifetime {v:?}: seconds")))
                .transpose()?
                .unwrap_or(LIFETIME),
        ),
    })
}

/// The harness's line: `--manifest F --image-dir D -- KURED_BIN ARGS...`.
fn options_sim(args: &[String]) -> Result<Options, String> {
    let split = args.iter().position(|a| a == "--").ok_or("sim: `--` and the harness's command line are required")?;
    let p = pairs(&args[..split])?;
    let harness = &args[split + 1..];
    let flag = |name: &str| harness.iter().find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_string));
    let node = flag("node-id").ok_or("sim: no --node-id in the harness's line")?;
    let sentinel = PathBuf::from(flag("reboot-sentinel").ok_or("sim: no --reboot-sentinel in the harness's line")?);
    let host_run = sentinel.parent().ok_or("sim: --reboot-sentinel has no directory")?.to_path_buf();
    let env = |k: &str| std::env::var(k).map_err(|_| format!("sim: {k} is not set by the harness"));
    let api = format!("{}:{}", env("KUBERNETES_SERVICE_HOST")?, env("KUBERNETES_SERVICE_PORT")?);
    // per node (the harness's `kured_env`): this node's own manifest
    let manifest =
        std::env::var("KURED_POD_MANIFEST").ok().map_or_else(|| need(&p, "manifest").map(str::to_string), Ok)?;
    let service = match get(&p, "service") {
        // the fake API server's certificate names only loopback
        Some("harness") => api.clone(),
        other => other.unwrap_or(SERVICE).to_string(),
    };
    Ok(Options {
        manifest: read_manifest(&manifest)?,
        node,
        host_dir: host_run.join("host"),
        marker: host_run.join("reboot-marker"),
        host_run,
        image_dir: PathBuf::from(need(&p, "image-dir")?),
        service_account_dir: PathBuf::from(env("KURED_SERVICE_ACCOUNT_DIR")?),
        api: addr(&api, "the harness's API server")?,
        service: addr(&service, "--service")?,
        expose: flag("metrics-port").and_then(|v| v.parse().ok()),
        lifetime: Duration::from_secs(LIFETIME),
    })
}

fn main() -> ExitCode {
    // the harness clears the environment; runc lives in /usr/sbin on Debian
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::set_var("PATH", format!("{path}:/usr/local/sbin:/usr/sbin:/sbin"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else { return usage("a command is required") };
    let options = match cmd.as_str() {
        "run" => options_run(rest),
        "sim" => options_sim(rest),
        "cleanup" => {
            let [root, id, state] = rest else { return usage("cleanup RUNC_ROOT ID STATE_DIR") };
            pod::runc::cleanup(root.as_ref(), id, state.as_ref());
            return ExitCode::SUCCESS;
        }
        other => return usage(&format!("unknown command {other:?}")),
    };
    let options = match options {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    match run(&options) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("kured-pod: {e}");
            ExitCode::from(1)
        }
    }
}
